//! Wrong calls: malformed JSON, bodies that are not objects, oversized bodies (413, nothing
//! stored), bad or malformed tokens, unknown routes and wrong methods — each with its status,
//! its error text, and nothing changed.

use std::io::Write;
use std::net::TcpStream;

use dpipe_server::Limits;
use dpipe_testkit::server::TestServer;
use serde_json::json;

use crate::raw_http::{Call, D6t, read_answer};

#[test]
fn malformed_bodies_change_nothing() {
    let server = TestServer::start();
    let u1 = D6t::register(server.addr, "u1");
    let bad_json = u1
        .call("POST", "pipes")
        .raw(b"{\"name\": \"p1\",".to_vec())
        .send(server.addr);
    bad_json.expect_error(400, "JSON parse error - ");
    u1.call("POST", "accounts")
        .raw(b"not json".to_vec())
        .send(server.addr)
        .expect_error(400, "JSON parse error");
    u1.call("POST", "pipes")
        .raw(b"\xff\xfe".to_vec())
        .send(server.addr)
        .expect_error(400, "JSON parse error");
    u1.post("pipes", &json!(["name", "p1"]))
        .expect_error(400, "Expected a dictionary");
    u1.post("pipes", &json!("p1"))
        .expect_error(400, "Expected a dictionary");
    // No Content-Type at all is fine: the body is JSON whatever the label.
    let unlabelled = br#"{"name":"p0","protocol":"s3","location":"bucket-b0"}"#.to_vec();
    u1.call("POST", "pipes")
        .unlabelled(unlabelled)
        .send(server.addr)
        .expect(201);
    // Non-ASCII in a body round-trips, escaped on the way out.
    let schema = json!({"title": "caf\u{e9} \u{1f4c8}"});
    let created = u1.post(
        "pipes",
        &json!({"name": "p2", "protocol": "s3", "location": "bucket-b2", "schema": schema}),
    );
    assert!(created.expect(201).body.is_ascii());
    assert_eq!(created.json()["schema"], schema);
    let names: Vec<_> = u1
        .get("pipes")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("p0"), json!("p2")]);
}

#[test]
fn oversized_bodies_get_413_and_store_nothing() {
    let server = TestServer::start_with_limits(Limits {
        max_body_bytes: 2048,
    });
    let u1 = D6t::register(server.addr, "u1");
    let big = json!({"name": "big", "protocol": "s3", "location": "bucket-b", "schema": {"pad": "x".repeat(4096)}});
    u1.post("pipes", &big)
        .expect_error(413, "Request body is too large (limit 2048 bytes).");
    // A chunked body has no length up front; it is cut off as it grows.
    let mut request = String::from_utf8(
        Call::new("POST", "/v1/api/pipes/")
            .token(u1.token.as_deref())
            .to_bytes(server.addr),
    )
    .unwrap();
    request = request.replacen(
        "Connection: close",
        "Transfer-Encoding: chunked\r\nConnection: close",
        1,
    );
    let body = big.to_string();
    for chunk in body.as_bytes().chunks(1000) {
        request.push_str(&format!(
            "{:x}\r\n{}\r\n",
            chunk.len(),
            std::str::from_utf8(chunk).unwrap()
        ));
    }
    request.push_str("0\r\n\r\n");
    let mut stream = TcpStream::connect(server.addr).unwrap();
    let _ = stream.write_all(request.as_bytes());
    read_answer(&mut stream)
        .unwrap()
        .expect_error(413, "too large");
    // Just under the limit passes.
    let small = json!({"name": "small", "protocol": "s3", "location": "bucket-b", "schema": {"pad": "x".repeat(1900)}});
    u1.post("pipes", &small).expect(201);
    let names: Vec<_> = u1
        .get("pipes")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(
        names,
        vec![json!("small")],
        "nothing of the oversized requests was stored"
    );

    // The default limit is 1 MiB.
    let server = TestServer::start();
    let u1 = D6t::register(server.addr, "u1");
    let huge = json!({"name": "huge", "protocol": "s3", "location": "bucket-b", "schema": {"pad": "x".repeat(1024 * 1024)}});
    u1.post("pipes", &huge)
        .expect_error(413, "limit 1048576 bytes");
    assert_eq!(u1.pipe_count(), 0);
}

#[test]
fn tokens_routes_and_methods() {
    let server = TestServer::start();
    let u1 = D6t::register(server.addr, "u1");
    let forged = D6t {
        addr: server.addr,
        token: Some("f".repeat(40)),
    };
    forged.get("pipes").expect_error(401, "Invalid token.");
    let refused = forged.post(
        "pipes",
        &json!({"name": "p", "protocol": "s3", "location": "bucket-b"}),
    );
    refused.expect_error(401, "Invalid token.");
    assert_eq!(refused.header("www-authenticate"), Some("Token"));
    for header in ["Token", "Token a b", "Basic dTE6cHc=", "Bearer"] {
        let answer = Call::new("GET", "/v1/api/pipes/")
            .header("Authorization", header)
            .send(server.addr);
        answer.expect_error(401, "Invalid token header.");
    }
    let bearer = Call::new("GET", "/v1/api/").header(
        "Authorization",
        &format!("Bearer {}", u1.token.as_deref().unwrap()),
    );
    assert_eq!(
        bearer.send(server.addr).expect(200).json()["username"],
        "u1"
    );
    assert_eq!(
        u1.pipe_count(),
        0,
        "nothing was created by the refused calls"
    );

    for path in [
        "/",
        "/v1/",
        "/v1/api/nothing/",
        "/v1/api/pipes/p/files/",
        "/v1/api/pipes/a/b/c/",
        "/api/pipes/",
    ] {
        Call::new("GET", path)
            .send(server.addr)
            .expect_error(404, "Not found.");
    }
    let wrong = Call::new("DELETE", "/v1/api/pipes/")
        .token(u1.token.as_deref())
        .send(server.addr);
    wrong.expect_error(405, "Method \\\"DELETE\\\" not allowed.");
    assert_eq!(
        wrong.json(),
        json!({"detail": "Method \"DELETE\" not allowed."})
    );
    assert_eq!(wrong.header("allow"), Some("GET,HEAD,POST"));
    u1.call("POST", "pipes/p")
        .json(&json!({}))
        .send(server.addr)
        .expect_error(405, "Method \\\"POST\\\" not allowed.");
    u1.call("GET", "accounts").send(server.addr).expect(405);
    u1.call("PUT", "pipes/p/credentials")
        .json(&json!({}))
        .send(server.addr)
        .expect(405);
}
