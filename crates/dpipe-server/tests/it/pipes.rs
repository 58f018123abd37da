//! Pipes and remotes over the wire as the d6tpipe client uses them: the upsert flow
//! (PATCH → 404 `Not found` → POST), the bodiless PATCH of `update_settings`, validation
//! texts, secrets kept out of every GET, credentials with `?renew=True&role=read`, deletes.

use dpipe_testkit::server::TestServer;
use serde_json::{Value, json};

use crate::raw_http::D6t;

/// Keys the hosted server's pipe GET must never show (tests-main.py:L213-214).
const HIDDEN: [&str; 4] = [
    "credentials",
    "isPubliclyReadable",
    "isPubliclyWritable",
    "cache",
];

#[track_caller]
fn assert_no_secrets(pipe: &Value) {
    for key in HIDDEN {
        assert!(pipe.get(key).is_none(), "{key} in {pipe}");
    }
    assert!(
        !pipe.to_string().contains("secret-value"),
        "a secret leaked: {pipe}"
    );
}

#[test]
fn upsert_flow_update_settings_and_delete() {
    let server = TestServer::start();
    let u1 = D6t::register(server.addr, "u1");
    let settings = json!({
        "name": "vendor", "protocol": "s3", "location": "bucket-v",
        "credentials": {"aws_access_key_id": "AKIAV", "aws_secret_access_key": "secret-value"},
        "schema": {"pandas": {"sep": ","}}
    });

    // upsert_resource: PATCH first; a 404 with `Not found` makes the client POST.
    u1.patch("pipes/vendor", &settings)
        .expect_error(404, "Not found");
    let created = u1.post("pipes", &settings);
    let created = created.expect(201).json();
    assert_no_secrets(&created);
    assert_eq!(created["protocol"], "s3");
    assert_eq!(created["options"]["remotepath"], "s3://bucket-v/");
    assert_eq!(created["schema"], settings["schema"]);

    // The second upsert: PATCH succeeds, then GET.
    let mut changed = settings.clone();
    changed["options"] = json!({"dir": "dir2"});
    let patched = u1.patch("pipes/vendor", &changed).expect(200).json();
    assert_no_secrets(&patched);
    let view = u1.get("pipes/vendor").expect(200).json();
    assert_no_secrets(&view);
    assert_eq!(view["options"]["dir"], "dir2");
    assert_eq!(view["options"]["remotepath"], "s3://bucket-v/dir2/");

    // Pipe.update_settings: PATCH with Content-Length: 0 and no Content-Type is a no-op.
    let quirk = u1
        .call("PATCH", "pipes/vendor")
        .empty_body()
        .send(server.addr);
    assert_eq!(quirk.expect(200).json(), view);
    for pipe in u1.get("pipes").expect(200).json().as_array().unwrap() {
        assert_no_secrets(pipe);
    }

    // Credentials leave only through their endpoint, in the exact query forms d6tpipe sends.
    let expected = json!({"aws_access_key_id": "AKIAV", "aws_secret_access_key": "secret-value"});
    assert_eq!(
        u1.get("pipes/vendor/credentials?role=read")
            .expect(200)
            .json(),
        expected
    );
    assert_eq!(
        u1.get("pipes/vendor/credentials?role=write")
            .expect(200)
            .json(),
        expected
    );
    assert_eq!(
        u1.get("pipes/vendor/credentials?renew=True&role=read")
            .expect(200)
            .json(),
        expected
    );
    u1.get("pipes/vendor/credentials").expect_error(400, "role");
    u1.get("pipes/vendor/credentials?role=owner").expect(400);
    u1.get("pipes/nothing/credentials?role=read")
        .expect_error(404, "Not found");

    // Validation texts the d6tpipe tests match on (protocol §7).
    u1.post("pipes", &settings).expect_error(400, "unique");
    u1.post(
        "pipes",
        &json!({"name": "$invalid", "protocol": "s3", "location": "bucket-b"}),
    )
    .expect_error(400, "alphanumeric");
    u1.post("pipes", &json!({"name": "win", "protocol": "s3", "location": "bucket-b", "options": {"dir": "C:\\Drive"}}))
        .expect_error(400, "Paths");
    u1.post("pipes", &json!({"name": "orphan", "parent": "noexist"}))
        .expect_error(400, "does not exist");
    u1.put("pipes/vendor", &json!({"protocol": "s3"}))
        .expect_error(400, "This field is required.");

    u1.post(
        "pipes",
        &json!({"name": "vendor-child", "parent": "vendor", "options": {"dir": "x"}}),
    )
    .expect(201);
    let deleted = u1.delete("pipes/vendor-child");
    deleted.expect(204);
    assert!(deleted.body.is_empty(), "204 has no body");
    assert_eq!(deleted.header("content-length").unwrap_or("0"), "0");
    u1.delete("pipes/vendor-child")
        .expect_error(404, "Not found");
    u1.get("pipes/vendor-child").expect_error(404, "Not found");

    let u2 = D6t::register(server.addr, "u2");
    u2.delete("pipes/vendor").expect(403);
    u2.patch("pipes/vendor", &json!({})).expect(403);
    D6t::anonymous(server.addr).get("pipes/vendor").expect(401);
    u1.delete("pipes/vendor").expect(204);
    assert_eq!(u1.pipe_count(), 0);
}

#[test]
fn remotes_crud() {
    let server = TestServer::start();
    let u1 = D6t::register(server.addr, "u1");
    let remote = json!({
        "name": "warehouse", "protocol": "s3", "location": "bucket-w",
        "credentials": {"aws_access_key_id": "AKIAW", "aws_secret_access_key": "secret-value"},
        "settings": {"region": "eu-west-1"}
    });
    let created = u1.post("remotes", &remote).expect(201).json();
    assert_eq!(
        created["credentials"], "flat",
        "the kind of credentials, never their values"
    );
    assert!(!created.to_string().contains("secret-value"));
    u1.post("remotes", &remote).expect_error(400, "unique");
    assert_eq!(
        u1.get("remotes")
            .expect(200)
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let patched = u1
        .patch(
            "remotes/warehouse",
            &json!({"settings": {"region": "us-east-1"}}),
        )
        .expect(200)
        .json();
    assert_eq!(patched["settings"]["region"], "us-east-1");
    u1.put(
        "remotes/warehouse",
        &json!({"name": "warehouse", "protocol": "s3", "location": "bucket-x"}),
    )
    .expect(200);
    assert_eq!(
        u1.get("remotes/warehouse").expect(200).json()["location"],
        "bucket-x"
    );

    let pipe = u1
        .post("pipes", &json!({"name": "sales", "remote": "warehouse"}))
        .expect(201)
        .json();
    assert_eq!(pipe["remote"], "warehouse");
    assert_eq!(pipe["options"]["remotepath"], "s3://bucket-x/");
    let creds = u1
        .get("pipes/sales/credentials?role=read")
        .expect(200)
        .json();
    assert_eq!(creds["aws_access_key_id"], "AKIAW");
    assert_eq!(creds["region_name"], "us-east-1");

    let u2 = D6t::register(server.addr, "u2");
    assert_eq!(u2.get("remotes").expect(200).json(), json!([]));
    u2.delete("remotes/warehouse").expect(403);
    u1.delete("remotes/warehouse").expect_error(400, "sales");
    u1.delete("pipes/sales").expect(204);
    u1.delete("remotes/warehouse").expect(204);
    u1.get("remotes/warehouse").expect_error(404, "Not found");
}
