//! The registry behaviour suite against local mode and against the server over HTTP (on
//! SQLite and on PostgreSQL), plus the account rules only the server has.

mod accounts;
mod login_limits;
mod login_limits_shared;
mod managed_keys;

mod local_mode {
    dpipe_testkit::registry_suite!(dpipe_testkit::harness::LocalHarness::new());
}

mod server_sqlite {
    dpipe_testkit::registry_suite!(dpipe_testkit::harness::ServerHarness::new());
}

/// The server over PostgreSQL (`dpipe serve --database-url`), each test in its own schema of
/// the test database ([`dpipe_testkit::postgres::TestDatabase`]).
mod server_postgres {
    dpipe_testkit::registry_suite!(dpipe_testkit::harness::ServerHarness::on_postgres());
}

/// The invitation cases that need mail: a server with `--smtp-url` and a real SMTP server.
mod server_with_smtp {
    use dpipe_testkit::harness::ServerHarness;
    use dpipe_testkit::suite::invitations;

    #[test]
    fn mailed_link_claims_the_invitations() {
        invitations::mailed_link_claims_the_invitations(&ServerHarness::with_smtp());
    }

    #[test]
    fn wrong_or_expired_links_are_refused() {
        invitations::wrong_or_expired_links_are_refused(&ServerHarness::with_smtp());
    }

    /// A mail server that cannot be reached does not stop anyone registering, and the owner
    /// can still confirm the account.
    #[test]
    fn registration_survives_an_unreachable_mail_server() {
        use std::sync::Arc;

        use dpipe_testkit::harness::Harness;
        use dpipe_testkit::server::TestServer;
        use serde_json::json;

        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("smtp://{}", closed.local_addr().unwrap());
        drop(closed);
        let mailer = dpipe_server::SmtpMailer::new(&url).unwrap();
        let h = ServerHarness::around(TestServer::start_with_mailer(Arc::new(mailer)));
        let owner = h.user("owner");
        owner
            .create_pipe(&dpipe_testkit::suite::s3_pipe("p"))
            .unwrap();
        owner
            .grant("p", &json!({"email": "carol@example.com", "role": "read"}))
            .unwrap();
        let carol = h.user("carol");
        assert!(carol.list_pipes().unwrap().is_empty());
        owner
            .grant(
                "p",
                &json!({"email": "carol@example.com", "role": "confirm"}),
            )
            .unwrap();
        assert_eq!(carol.get_pipe("p").unwrap().role, "read");
    }
}
