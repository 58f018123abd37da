//! The audit lines of a real server process (`init_logging`, `RUST_LOG=info`): one line with
//! target `dpipe::audit` per credential fetch, grant change, failed login and token rotation,
//! with who, action, pipe, grantee, source and outcome — and no token, password or credential
//! value anywhere in the log.

use std::time::Duration;

use serde_json::json;

use crate::child::ChildServer;
use crate::raw_http::D6t;

#[test]
fn audit_lines_for_fetches_grants_and_failed_logins_without_secrets() {
    let temp = tempfile::tempdir().unwrap();
    let mut server = ChildServer::start(&temp.path().join("data"));
    let owner = D6t::register(server.addr, "auditor");
    let friend = D6t::register(server.addr, "friend");
    let creds =
        json!({"aws_access_key_id": "AKIACANARYAUDIT", "aws_secret_access_key": "canary-secret"});
    let pipe =
        json!({"name": "audited", "protocol": "s3", "location": "bucket-a", "credentials": creds});
    owner.post("pipes", &pipe).expect(201);
    owner
        .post(
            "pipes/audited/permissions",
            &json!({"username": "friend", "role": "read"}),
        )
        .expect(201);
    friend
        .get("pipes/audited/credentials?role=read")
        .expect(200);
    friend
        .get("pipes/audited/credentials?role=write")
        .expect(403);
    D6t::anonymous(server.addr)
        .post(
            "accounts/token",
            &json!({"username": "friend", "password": "canary-password-guess"}),
        )
        .expect(400);
    let trail = owner.get("pipes/audited/audit").expect(200).json();
    assert_eq!(trail.as_array().unwrap().len(), 4, "{trail}");
    let rotated = owner.post("accounts/token/rotate", &json!({}));
    rotated.expect(200);
    let new_token = rotated.json()["token"].as_str().unwrap().to_string();
    server.terminate();
    assert!(server.wait(Duration::from_secs(10)).success());

    let log = server.log();
    let audit: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(" dpipe::audit: "))
        .collect();
    let expected = [
        (
            " INFO ",
            r#"who="auditor" action=pipe.create pipe="audited" outcome=allowed"#,
        ),
        (
            " INFO ",
            r#"who="auditor" action=grant.set pipe="audited" grantee="friend" role="read" outcome=allowed"#,
        ),
        (
            " INFO ",
            r#"who="friend" action=credentials.read pipe="audited" outcome=allowed"#,
        ),
        (
            " WARN ",
            r#"who="friend" action=credentials.write pipe="audited" outcome=refused reason="forbidden""#,
        ),
        (
            " WARN ",
            r#"who="friend" action=login.failed source="127.0.0.1" outcome=refused reason="invalid""#,
        ),
        (
            " INFO ",
            r#"who="auditor" action=token.rotate outcome=allowed"#,
        ),
    ];
    assert_eq!(audit.len(), expected.len(), "one line per event:\n{log}");
    for (line, (level, fields)) in audit.iter().zip(expected) {
        assert!(line.contains(level), "{line:?} is not at level {level:?}");
        assert!(line.contains(fields), "{line:?} lacks {fields:?}");
        assert!(line.contains(" at="), "{line:?} has no time");
    }
    for secret in [
        owner.token.as_deref().unwrap(),
        friend.token.as_deref().unwrap(),
        new_token.as_str(),
        "pw-123456",
        "canary-password-guess",
        "AKIACANARYAUDIT",
        "canary-secret",
    ] {
        assert!(!log.contains(secret), "{secret:?} is in the log:\n{log}");
    }
}

/// The audit endpoint's query parameters: exact RFC 3339 `since`, `user`, `action`; wrong
/// ones are a 400 in the DRF shape, and the filtered answer is a bare array.
#[test]
fn the_audit_endpoint_filters_by_its_query_and_refuses_wrong_parameters() {
    let server = dpipe_testkit::server::TestServer::start();
    let owner = D6t::register(server.addr, "owner");
    let pipe = json!({"name": "watched", "protocol": "fs", "location": "/srv/watched"});
    owner.post("pipes", &pipe).expect(201);
    owner.get("pipes/watched/credentials?role=read").expect(200);
    let actions = |query: &str| -> Vec<String> {
        let answer = owner.get(&format!("pipes/watched/audit?{query}"));
        answer.expect(200);
        answer
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(actions(""), ["credentials.read", "pipe.create"]);
    assert_eq!(actions("action=pipe.create"), ["pipe.create"]);
    assert_eq!(
        actions("user=owner&action=credentials.read"),
        ["credentials.read"]
    );
    assert!(actions("user=nobody").is_empty());
    assert!(actions("since=2999-01-01T00:00:00Z").is_empty());
    assert_eq!(actions("since=2000-01-01T00:00:00%2B02:00").len(), 2);

    owner
        .get("pipes/watched/audit?since=yesterday")
        .expect_error(400, r#"{"since":["Datetime has wrong format."#);
    owner
        .get("pipes/watched/audit?action=credentials.steal")
        .expect_error(400, "Unknown action");
    owner
        .get("pipes/watched/audit?who=owner")
        .expect_error(400, "Unknown query parameter");
    D6t::anonymous(server.addr)
        .get("pipes/watched/audit?user=owner")
        .expect(401);
}
