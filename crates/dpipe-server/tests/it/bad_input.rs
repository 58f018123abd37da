//! Bad input on every face of the repo API (issue 12 item 5): deeply nested and mislabelled
//! bodies, fields the caller may not set, SQL metacharacters and NUL bytes in string fields,
//! hostile path segments, `null` where a string is required, and a slow-loris client. Each
//! answer is a 4xx JSON error (never a 5xx), and nothing stored changes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use dpipe_testkit::server::TestServer;
use serde_json::{Value, json};

use crate::raw_http::{Call, D6t, account};

/// Everything `client` can see of the server's state: its pipes with their grants, its
/// remotes, and who it is.
fn snapshot(client: &D6t) -> Value {
    let pipes = client.get("pipes").expect(200).json();
    let grants: Vec<Value> = pipes
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let name = p["name"].as_str().unwrap();
            // Readers may not list grants: their 403 is part of the picture.
            let answer = client.get(&format!("pipes/{name}/permissions"));
            json!([answer.status, answer.json()])
        })
        .collect();
    json!({
        "pipes": pipes,
        "grants": grants,
        "remotes": client.get("remotes").expect(200).json(),
        "me": client.get("").expect(200).json(),
    })
}

/// u1 with a pipe `p1` shared read-only with u2, and a remote `r1`.
fn populated(server: &TestServer) -> (D6t, D6t) {
    let u1 = D6t::register(server.addr, "u1");
    let u2 = D6t::register(server.addr, "u2");
    u1.post(
        "remotes",
        &json!({"name": "r1", "protocol": "s3", "location": "bucket-r1"}),
    )
    .expect(201);
    u1.post(
        "pipes",
        &json!({"name": "p1", "protocol": "s3", "location": "bucket-p1"}),
    )
    .expect(201);
    u1.post(
        "pipes/p1/permissions",
        &json!({"username": "u2", "role": "read"}),
    )
    .expect(201);
    (u1, u2)
}

#[test]
fn nested_and_mislabelled_bodies_get_400() {
    let server = TestServer::start();
    let (u1, _) = populated(&server);
    let before = snapshot(&u1);
    let deep_array = "[".repeat(10_000).into_bytes();
    let deep_object = "{\"a\":".repeat(10_000).into_bytes();
    for body in [deep_array, deep_object] {
        for (method, path) in [
            ("POST", "pipes"),
            ("PUT", "pipes/p1"),
            ("PATCH", "remotes/r1"),
            ("POST", "pipes/p1/permissions"),
            ("POST", "accounts"),
        ] {
            u1.call(method, path)
                .raw(body.clone())
                .send(server.addr)
                .expect_error(400, "JSON parse error");
        }
    }
    // A well-formed but deep document is refused by the parser, not the stack.
    let nested = format!("{}{}", "[".repeat(200), "]".repeat(200));
    u1.call("PATCH", "pipes/p1")
        .raw(nested.into_bytes())
        .send(server.addr)
        .expect_error(400, "recursion limit");
    let form = b"name=p9&protocol=s3&location=bucket-p9".to_vec();
    for content_type in [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/xml",
    ] {
        u1.call("POST", "pipes")
            .header("Content-Type", content_type)
            .unlabelled(form.clone())
            .send(server.addr)
            .expect_error(400, "JSON parse error");
    }
    assert_eq!(snapshot(&u1), before, "nothing changed");
}

#[test]
fn fields_the_caller_may_not_set_are_ignored() {
    let server = TestServer::start();
    let (u1, u2) = populated(&server);
    let forged = json!({
        "owner": "u2", "id": 1, "pk": 1, "role": "admin", "created": "2000-01-01T00:00:00Z",
        "updated": "2000-01-01T00:00:00Z", "created_at": "2000-01-01", "owner_id": 2,
        "is_staff": true, "is_superuser": true, "parent-ultimate": "p1",
    });
    let with_forged = |body: Value| {
        let mut body = body.as_object().unwrap().clone();
        body.extend(forged.as_object().unwrap().clone());
        Value::Object(body)
    };
    let created = u1.post(
        "pipes",
        &with_forged(json!({"name": "p2", "protocol": "s3", "location": "bucket-p2"})),
    );
    created.expect(201);
    assert_eq!(created.json()["owner"], "u1");
    assert_eq!(created.json()["role"], u1.get("pipes/p1").json()["role"]);
    assert_eq!(created.json()["parent-ultimate"], "p2");
    let before = snapshot(&u1);
    let u2_before = snapshot(&u2);
    u1.patch("pipes/p1", &forged).expect(200);
    u1.put(
        "pipes/p1",
        &with_forged(json!({"name": "p1", "protocol": "s3", "location": "bucket-p1"})),
    )
    .expect(200);
    u1.patch("remotes/r1", &forged).expect(200);
    let remote = u1.post(
        "remotes",
        &with_forged(json!({"name": "r2", "protocol": "s3", "location": "bucket-r2"})),
    );
    assert_eq!(remote.expect(201).json()["owner"], "u1");
    u1.delete("remotes/r2").expect(204);
    // A read grant stays read whatever else the body says.
    u1.post(
        "pipes/p1/permissions",
        &json!({"username": "u2", "role": "read", "owner": "u2", "id": 1,
                "expiration_date": null, "status": "active", "pending": false}),
    )
    .expect(201);
    assert_eq!(
        snapshot(&u1),
        before,
        "u1's pipes and remotes are as they were"
    );
    assert_eq!(snapshot(&u2), u2_before, "u2 gained nothing");
    u2.patch("pipes/p1", &json!({"owner": "u2"})).expect(403);
    u2.get("pipes/p1").expect(200);
    assert_eq!(u2.get("pipes/p1").json()["role"], "read");
    // An account registered with privileges is an ordinary account.
    let mut body = account("u3").as_object().unwrap().clone();
    body.extend(forged.as_object().unwrap().clone());
    D6t::anonymous(server.addr)
        .post("accounts", &Value::Object(body))
        .expect(201);
    let u3 = D6t {
        addr: server.addr,
        token: Some(
            D6t::anonymous(server.addr)
                .post(
                    "accounts/token",
                    &json!({"username": "u3", "password": "pw-123456"}),
                )
                .expect(200)
                .json()["token"]
                .as_str()
                .unwrap()
                .to_string(),
        ),
    };
    assert_eq!(u3.pipe_count(), 0, "u3 sees no one's pipes");
    u3.get("pipes/p1").expect(403);
    u3.delete("accounts/u1").expect(403);
}

#[test]
fn sql_metacharacters_and_nul_bytes_are_harmless() {
    let server = TestServer::start();
    let (u1, u2) = populated(&server);
    let hostile = [
        "' OR 1=1 --",
        "\"; DROP TABLE pipes; --",
        "x\u{0}y",
        "\u{0}",
        "a\u{7}b",
        "%00",
        "\\' OR '1'='1",
    ];
    let before = snapshot(&u1);
    let u2_before = snapshot(&u2);
    for text in hostile {
        // As a name, it is refused with a clear 400.
        for path in ["pipes", "remotes"] {
            let answer = u1.post(
                path,
                &json!({"name": text, "protocol": "s3", "location": "bucket-x"}),
            );
            answer.expect(400);
            assert!(answer.json()["name"].is_array(), "{}", answer.text());
        }
        for body in [
            json!({"username": text, "email": "x@example.com", "password": "pw-123456"}),
            json!({"username": "x", "email": text, "password": "pw-123456"}),
        ] {
            D6t::anonymous(server.addr)
                .post("accounts", &body)
                .expect(400);
        }
        // In a location, a grantee or a role: refused.
        u1.patch("pipes/p1", &json!({"location": text})).expect(400);
        u1.patch("remotes/r1", &json!({"location": text}))
            .expect(400);
        u1.post(
            "pipes",
            &json!({"name": "p9", "protocol": text, "location": "bucket-x"}),
        )
        .expect(400);
        u1.post("pipes", &json!({"name": "p9", "remote": text}))
            .expect(400);
        u1.post("pipes", &json!({"name": "p9", "parent": text}))
            .expect(400);
        let grant = |body: Value| u1.post("pipes/p1/permissions", &body).status;
        for body in [
            json!({"username": text, "role": "read"}),
            json!({"email": text, "role": "read"}),
            json!({"username": "u2", "role": text}),
            json!({"username": "u2", "role": "read", "expiration_date": text}),
        ] {
            let status = grant(body.clone());
            assert!(matches!(status, 400 | 404), "{body}: {status}");
        }
        // Logging in with it finds no one.
        let login = D6t::anonymous(server.addr).post(
            "accounts/token",
            &json!({"username": text, "password": text}),
        );
        assert!(matches!(login.status, 400 | 401), "{}", login.status);
    }
    // 10 KB names are refused with the limit in words.
    let long = "a".repeat(10 * 1024);
    for path in ["pipes", "remotes"] {
        u1.post(
            path,
            &json!({"name": long, "protocol": "s3", "location": "bucket-x"}),
        )
        .expect_error(400, "no more than 100 characters");
    }
    u1.patch("pipes/p1", &json!({"name": long}))
        .expect_error(400, "cannot be changed");
    D6t::anonymous(server.addr)
        .post("accounts", &account(&long))
        .expect_error(400, "no more than 150 characters");
    assert_eq!(snapshot(&u1), before, "nothing changed");
    assert_eq!(snapshot(&u2), u2_before, "nothing changed for u2");
    // Where free text is allowed (schema, settings), it is stored verbatim.
    for text in hostile {
        let schema = json!({"note": text, text: [text]});
        let answer = u1.patch("pipes/p1", &json!({"schema": schema}));
        assert_eq!(answer.expect(200).json()["schema"], schema);
        assert_eq!(u1.get("pipes/p1").json()["schema"], schema);
        let settings = json!({"note": text});
        let answer = u1.patch("remotes/r1", &json!({"settings": settings}));
        assert_eq!(answer.expect(200).json()["settings"], settings);
    }
    assert_eq!(u1.pipe_count(), 1);
    assert_eq!(u2.pipe_count(), 1);
}

#[test]
fn hostile_path_segments_get_400_or_404() {
    let server = TestServer::start();
    let (u1, _) = populated(&server);
    let before = snapshot(&u1);
    let long = "a".repeat(10 * 1024);
    let segments = [
        "%2e%2e",
        "%2E%2E",
        "..%2f..%2fremotes%2fr1",
        "p1%2f..",
        "p1%2fpermissions",
        "%ff",
        "p1%ff%fe",
        "%c0%ae%c0%ae",
        "p1%00",
        "%27%20OR%201%3D1%20--",
        long.as_str(),
    ];
    for segment in segments {
        for (method, pattern) in [
            ("GET", "/v1/api/pipes/{}/"),
            ("PATCH", "/v1/api/pipes/{}/"),
            ("PUT", "/v1/api/pipes/{}/"),
            ("DELETE", "/v1/api/pipes/{}/"),
            ("GET", "/v1/api/pipes/{}/permissions/"),
            ("POST", "/v1/api/pipes/{}/permissions/"),
            ("GET", "/v1/api/pipes/{}/credentials/?role=read"),
            ("GET", "/v1/api/pipes/{}/audit/"),
            ("GET", "/v1/api/remotes/{}/"),
            ("PATCH", "/v1/api/remotes/{}/"),
            ("DELETE", "/v1/api/remotes/{}/"),
            ("GET", "/v1/api/remotes/{}/credentials/"),
            ("DELETE", "/v1/api/accounts/{}/"),
        ] {
            let target = pattern.replace("{}", segment);
            let mut call = Call::new(method, &target).token(u1.token.as_deref());
            if method != "GET" && method != "DELETE" {
                call = call.json(&json!({"username": "u2", "role": "write"}));
            }
            let answer = call.send(server.addr);
            assert!(
                matches!(answer.status, 400 | 404),
                "{method} {}: {} {}",
                &target[..target.len().min(80)],
                answer.status,
                answer.text()
            );
        }
    }
    assert_eq!(snapshot(&u1), before, "nothing changed");
}

#[test]
fn null_where_the_document_says_string_gets_400() {
    let server = TestServer::start();
    let (u1, _) = populated(&server);
    let before = snapshot(&u1);
    for field in ["location", "protocol", "name"] {
        let body = json!({"name": "r1", "protocol": "s3", "location": "bucket-r1", field: null});
        u1.put("remotes/r1", &body)
            .expect_error(400, "This field may not be null.");
        u1.patch("remotes/r1", &json!({field: null}))
            .expect_error(400, "This field may not be null.");
        let create = json!({"name": "r2", "protocol": "s3", "location": "bucket-r2", field: null});
        u1.post("remotes", &create)
            .expect_error(400, "This field may not be null.");
    }
    // Empty strings and malformed bucket names are refused as the document says.
    for (field, value, needle) in [
        ("location", "", "location"),
        ("protocol", "", "protocol"),
        ("location", "Not_A_Bucket", "S3 bucket names"),
    ] {
        u1.patch("remotes/r1", &json!({field: value}))
            .expect_error(400, needle);
    }
    assert_eq!(snapshot(&u1), before, "nothing changed");
}

#[test]
fn slow_loris_headers_are_cut_off() {
    let server = TestServer::start();
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let started = Instant::now();
    let head = b"GET /v1/api/pipes/ HTTP/1.1\r\nHost: x\r\nX-Padding: ";
    let mut closed = false;
    let mut sent = 0usize;
    // One byte a second, never finishing the headers: the server must close the connection
    // well before this loop would end.
    while started.elapsed() < Duration::from_secs(40) {
        let byte = head.get(sent).copied().unwrap_or(b'a');
        if stream.write_all(&[byte]).is_err() {
            closed = true;
            break;
        }
        sent += 1;
        let mut buf = [0u8; 512];
        match stream.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(_) => {
                closed = true;
                break;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(900));
    }
    let held = started.elapsed();
    assert!(closed, "the connection was still open after {held:?}");
    assert!(
        held < Duration::from_secs(15),
        "the connection was held {held:?}"
    );
}

#[test]
fn idle_keep_alive_connections_are_closed() {
    let server = TestServer::start();
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    let held = started.elapsed();
    assert!(
        raw.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    assert!(
        held < Duration::from_secs(15),
        "an idle keep-alive connection was held {held:?}"
    );
}
