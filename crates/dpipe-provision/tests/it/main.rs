//! Integration tests of dpipe-provision against a real moto server with IAM enforcement on:
//! what the provisioned users may and may not do, idempotence and key rotation, rollback
//! after a failure half-way, removal, and wrong calls; STS credentials for managed pipes.

mod create;
mod docs;
mod errors;
mod objects;
mod remove;
mod rollback;
mod sts;
