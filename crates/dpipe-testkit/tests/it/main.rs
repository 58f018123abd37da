//! The registry behaviour suite against local mode and against the server over HTTP, plus
//! the account rules only the server has.

mod accounts;
mod login_limits;
mod managed_keys;

mod local_mode {
    dpipe_testkit::registry_suite!(dpipe_testkit::harness::LocalHarness::new());
}

mod server_sqlite {
    dpipe_testkit::registry_suite!(dpipe_testkit::harness::ServerHarness::new());
}
