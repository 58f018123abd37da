//! The permission sequence of d6tpipe's `test_permissions` (protocol §6), step by step over
//! raw HTTP: u1 owns parent P and child C, u2 is granted, revoked, expired and made public.

use chrono::Days;
use dpipe_registry::Clock;
use dpipe_testkit::server::TestServer;
use serde_json::{Value, json};

use crate::raw_http::D6t;

/// Keys `boto3.resource` accepts; the credentials answer may hold no other.
const BOTO3_KEYS: [&str; 8] = [
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "region_name",
    "endpoint_url",
    "use_ssl",
    "verify",
    "api_version",
];

struct Scene {
    u1: D6t,
    u2: D6t,
}

impl Scene {
    fn grant(&self, pipe: &str, body: Value) {
        self.u1
            .post(&format!("pipes/{pipe}/permissions"), &body)
            .expect(201);
    }

    #[track_caller]
    fn sees(&self, n: usize) {
        assert_eq!(self.u2.pipe_count(), n, "pipes u2 lists");
    }

    #[track_caller]
    fn role(&self, pipe: &str, role: &str) {
        let view = self.u2.get(&format!("pipes/{pipe}")).expect(200).json();
        assert_eq!(view["role"], role, "u2's role on {pipe}");
    }

    #[track_caller]
    fn credentials(&self, pipe: &str, role: &str, status: u16) {
        let answer = self
            .u2
            .get(&format!("pipes/{pipe}/credentials?role={role}"));
        answer.expect(status);
        if status == 200 {
            let creds = answer.json();
            let creds = creds.as_object().expect("a flat object");
            assert!(!creds.is_empty(), "credentials for {role} on {pipe}");
            assert!(
                creds.keys().all(|k| BOTO3_KEYS.contains(&k.as_str())),
                "only boto3 keys: {creds:?}"
            );
        }
    }

    #[track_caller]
    fn forbidden(&self, pipe: &str) {
        self.u2
            .get(&format!("pipes/{pipe}"))
            .expect_error(403, "permission");
    }

    #[track_caller]
    fn cannot_put(&self, pipe: &str) {
        // Permission is checked before validation (tests-main.py:L320-322).
        self.u2
            .put(&format!("pipes/{pipe}"), &json!({"bad": "request"}))
            .expect(403);
    }
}

#[test]
fn the_d6tpipe_permission_sequence() {
    let server = TestServer::start();
    let s = Scene {
        u1: D6t::register(server.addr, "u1"),
        u2: D6t::register(server.addr, "u2"),
    };
    let creds = json!({"aws_access_key_id": "AKIAP", "aws_secret_access_key": "secret-p"});
    s.u1.post(
        "pipes",
        &json!({"name": "P", "protocol": "s3", "location": "bucket-p", "credentials": creds}),
    )
    .expect(201);
    let child = s.u1.post(
        "pipes",
        &json!({"name": "C", "parent": "P", "options": {"dir": "vendorX"}}),
    );
    let child = child.expect(201).json();
    assert_eq!(child["options"]["remotepath"], "s3://bucket-p/vendorX/");
    assert_eq!(child["parent-ultimate"], "P");
    assert_eq!(s.u1.pipe_count(), 2);
    assert_eq!(
        s.u1.get("pipes/P").expect(200).json()["role"],
        "write",
        "the owner's role"
    );
    s.u1.get("pipes/P/credentials?role=write").expect(200);

    s.sees(0);
    s.forbidden("P");

    s.grant("P", json!({"username": "u2", "role": "read"}));
    s.sees(2);
    s.role("P", "read");
    s.credentials("P", "read", 200);
    s.credentials("P", "write", 403);
    s.cannot_put("P");

    s.grant("P", json!({"username": "u2", "role": "revoke"}));
    s.sees(0);
    s.forbidden("P");

    s.grant("C", json!({"username": "u2", "role": "read"}));
    s.sees(1);
    s.role("C", "read");
    s.credentials("C", "read", 200);
    s.credentials("C", "write", 403);
    s.cannot_put("C");
    s.forbidden("P");
    s.credentials("P", "read", 403);

    s.grant("C", json!({"username": "u2", "role": "revoke"}));
    s.sees(0);

    let today = server.clock.today();
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let two_days_ago = day(today.checked_sub_days(Days::new(2)).unwrap());
    s.grant(
        "P",
        json!({"email": "u2@example.com", "role": "write", "expiration_date": two_days_ago}),
    );
    s.sees(0);
    // The last day of a grant still counts; the day after it does not (the injected clock).
    s.grant(
        "P",
        json!({"email": "u2@example.com", "role": "write", "expiration_date": day(today)}),
    );
    s.sees(2);
    server
        .clock
        .set(today.checked_add_days(Days::new(1)).unwrap());
    s.sees(0);
    server.clock.set(today);

    s.grant("P", json!({"email": "u2@example.com", "role": "write"}));
    s.sees(2);
    s.role("P", "write");
    s.credentials("P", "write", 200);
    s.cannot_put("P");

    s.grant("P", json!({"email": "u2@example.com", "role": "revoke"}));
    s.sees(0);

    s.grant("C", json!({"email": "u2@example.com", "role": "write"}));
    s.sees(1);
    s.role("C", "write");
    s.credentials("C", "write", 200);
    s.cannot_put("C");
    // An email grant and a username grant to the same user are one grantee.
    s.grant("C", json!({"username": "u2", "role": "revoke"}));
    s.sees(0);

    let anon = D6t::anonymous(server.addr);
    s.grant("P", json!({"username": "public", "role": "read"}));
    s.sees(2);
    s.role("P", "read");
    assert_eq!(anon.pipe_count(), 2);
    assert_eq!(anon.get("pipes/C").expect(200).json()["role"], "read");

    s.grant("P", json!({"username": "public", "role": "write"}));
    s.sees(0);
    s.forbidden("P");
    assert_eq!(anon.pipe_count(), 0);

    s.grant("P", json!({"username": "public", "role": "revoke"}));
    s.sees(0);
    // Revoking what is not there is a no-op, not an error.
    s.grant("P", json!({"username": "public", "role": "revoke"}));

    let grants = s.u1.get("pipes/P/permissions").expect(200).json();
    assert_eq!(grants, json!([]));
    s.u2.get("pipes/P/permissions").expect(403);
    s.u2.post(
        "pipes/P/permissions",
        &json!({"username": "u2", "role": "admin"}),
    )
    .expect(403);
}
