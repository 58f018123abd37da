//! No anonymous enumeration: without a token, every route that takes a name answers 401
//! whether or not something by that name exists, so a stranger cannot probe which pipes,
//! remotes or users there are. (A public pipe stays readable: that is what public means.)

use dpipe_testkit::server::TestServer;
use serde_json::json;

use crate::raw_http::{Call, D6t};

/// Every documented (path, method) whose path names a resource, with `{param}` filled in by
/// `name`.
fn named_routes(server: &TestServer, name: &str) -> Vec<(String, String)> {
    let document = Call::new("GET", "/v1/openapi.json")
        .send(server.addr)
        .expect(200)
        .json();
    let mut routes = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        if !path.contains('{') {
            continue;
        }
        let start = path.find('{').unwrap();
        let end = path.find('}').unwrap();
        let target = format!("{}{name}{}", &path[..start], &path[end + 1..]);
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                routes.push((method.to_uppercase(), target.clone()));
            }
        }
    }
    routes
}

#[test]
fn anonymous_calls_get_401_whether_the_name_exists_or_not() {
    let server = TestServer::start();
    let owner = D6t::register(server.addr, "owner");
    owner
        .post(
            "remotes",
            &json!({"name": "kept", "protocol": "s3", "location": "bucket",
                    "credentials": {"aws_access_key_id": "AKID", "aws_secret_access_key": "secret"}}),
        )
        .expect(201);
    owner
        .post("pipes", &json!({"name": "kept", "remote": "kept"}))
        .expect(201);
    let mut checked = 0;
    for name in ["kept", "owner", "missing"] {
        for (method, target) in named_routes(&server, name) {
            let mut call = Call::new(&method, &target);
            if method != "GET" && method != "DELETE" {
                call = call.json(&json!({"role": "read", "email": "x@example.com"}));
            }
            let answer = call.send(server.addr);
            assert_eq!(
                answer.status,
                401,
                "anonymous {method} {target}: {}",
                answer.text()
            );
            checked += 1;
        }
    }
    assert!(checked >= 3 * 12, "only {checked} calls were checked");
    // Nothing changed: the owner still sees the pipe and the remote as they were.
    owner.get("pipes/kept").expect(200);
    owner.get("remotes/kept").expect(200);
}

#[test]
fn a_public_pipe_stays_readable_and_a_missing_one_is_still_401() {
    let server = TestServer::start();
    let owner = D6t::register(server.addr, "owner");
    owner
        .post(
            "pipes",
            &json!({"name": "open", "protocol": "s3", "location": "bucket",
                    "credentials": {"aws_access_key_id": "AKID", "aws_secret_access_key": "secret"}}),
        )
        .expect(201);
    owner
        .post(
            "pipes/open/permissions",
            &json!({"username": "public", "role": "read"}),
        )
        .expect(201);
    let anonymous = D6t::anonymous(server.addr);
    anonymous.get("pipes/open").expect(200);
    anonymous.get("pipes/opem").expect(401);
    // A signed-in stranger may still be told that a name does not exist.
    let stranger = D6t::register(server.addr, "stranger");
    stranger.get("pipes/opem").expect(404);
}
