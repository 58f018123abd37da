//! dpipe-server's integration tests: one binary, a module per feature. Every test talks to a
//! real server over real TCP — in-process ([`dpipe_testkit::server::TestServer`]) or, where
//! the process must die, a child process ([`child`]).

mod accounts;
mod anonymous;
mod audit_log;
mod bad_input;
mod child;
mod data_dir;
mod durability;
mod logging;
mod managed_storage;
mod openapi;
mod permissions;
mod pipes;
mod raw_http;
mod routes;
mod sealing;
mod wrong_calls;
