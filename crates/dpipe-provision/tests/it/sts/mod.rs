//! `StsIssuer` and `ensure_managed_bucket`: STS credentials for the managed scope
//! `dpipe-managed/ann/demo/`, used with an S3 client, and wrong calls.
//!
//! What moto 5.2.5 enforces, read in its source (`moto/iam/access_control.py`, `moto/sts/`):
//! * `AssumeRole` keeps the session policy (`AssumedRole.policy`) but never applies it: a
//!   request with the session's keys is checked against the *role's* policies only
//!   (`AssumedRoleAccessKey.collect_policies`). The tests therefore give each role the session
//!   policy of its scope as its own policy — on AWS the role would allow the whole bucket and
//!   the session policy would narrow it to the same thing — and check, through moto's data
//!   API, that STS received exactly that policy from the issuer.
//! * `GetFederationToken` returns fixed example keys tied to no identity and drops the
//!   policy; with IAM enforcement on, every request with those keys is refused as an unknown
//!   key. Only issuing is tested for it.
//! * Conditions other than `StringEquals` are ignored, and none is evaluated on S3 requests:
//!   the `s3:prefix` condition of `s3:ListBucket` is not enforced, so refusals of listings
//!   outside the prefix (and of the bucket root) cannot be tested here; the golden files of
//!   `dpipe_core::session_policy` pin that part of the policy.

mod scope;
mod start;
mod support;
