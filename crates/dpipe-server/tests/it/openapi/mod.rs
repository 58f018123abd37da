//! The OpenAPI document generated from the code, held to the code: every route the router
//! serves is documented with its methods and every documented operation is served (the route
//! list comes from `dpipe_server::route_paths`, the table the router is built from), every
//! status a call gets is one its operation documents, the document is well-formed OpenAPI 3.1,
//! and real answers validate against the schemas it gives for them.

use std::collections::HashSet;

use dpipe_testkit::server::TestServer;
use serde_json::{Value, json};

use crate::raw_http::{Answer, Call, D6t};

mod schema_check;

use schema_check::{check, every_ref_resolves, resolve};

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The served document.
fn document(server: &TestServer) -> Value {
    Call::new("GET", "/v1/openapi.json")
        .send(server.addr)
        .expect(200)
        .json()
}

/// `path` with every `{param}` replaced by `name`.
fn concrete(path: &str, name: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').expect("a closed parameter") + start;
        out.push_str(&rest[..start]);
        out.push_str(name);
        rest = &rest[end + 1..];
    }
    out + rest
}

#[test]
fn every_served_route_is_documented_and_every_documented_operation_is_served() {
    let server = TestServer::start();
    let mut token = D6t::register(server.addr, "u1").token.unwrap();
    let document = document(&server);
    let paths = document["paths"].as_object().unwrap();
    let mut served: Vec<&str> = dpipe_server::route_paths();
    served.sort();
    let mut documented: Vec<&str> = paths.keys().map(String::as_str).collect();
    documented.sort();
    assert_eq!(
        documented, served,
        "the documented paths are the routed paths"
    );

    for path in served {
        let item = &paths[path];
        let bare = concrete(path, "nothing").trim_end_matches('/').to_string();
        for target in [bare.clone(), format!("{bare}/")] {
            for method in METHODS {
                let operation = &item[method.to_lowercase()];
                let mut call = Call::new(method, &target).token(Some(&token));
                if method != "GET" && method != "DELETE" {
                    call = call.unlabelled(b"{}".to_vec());
                }
                let answer = call.send(server.addr);
                if path.ends_with("/rotate/") && answer.status == 200 {
                    token = answer.json()["token"].as_str().unwrap().to_string();
                }
                // A route a method reaches answers anything but the router's 405.
                if operation.is_object() {
                    assert_ne!(answer.status, 405, "{method} {target}: {}", answer.text());
                    let code = answer.status.to_string();
                    assert!(
                        operation["responses"].get(&code).is_some(),
                        "{method} {target} answered {code}, which {path} does not document: {}",
                        answer.text()
                    );
                } else {
                    assert_eq!(
                        answer.status,
                        405,
                        "{method} {target} is served, but {path} does not document it: {}",
                        answer.text()
                    );
                    assert!(answer.header("allow").is_some(), "{method} {target}");
                }
            }
        }
    }
    // What the router says about a path it does not serve, so the 405s above are its own.
    Call::new("GET", "/v1/api/nowhere/")
        .send(server.addr)
        .expect_error(404, "Not found.");
}

#[test]
fn the_document_is_well_formed_openapi_3_1() {
    let server = TestServer::start();
    let document = document(&server);
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1."));
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(!document["info"]["title"].as_str().unwrap().is_empty());
    let schemes = document["components"]["securitySchemes"]
        .as_object()
        .unwrap();
    assert_eq!(schemes["token"]["in"], "header");
    assert_eq!(schemes["token"]["name"], "Authorization");

    let mut operation_ids = HashSet::new();
    let mut operations = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        assert!(path.starts_with('/'), "{path}");
        for (method, operation) in item.as_object().unwrap() {
            assert!(
                METHODS.contains(&method.to_uppercase().as_str()),
                "{method} {path}"
            );
            operations += 1;
            let at = format!("{method} {path}");
            assert!(
                !operation["summary"].as_str().unwrap_or_default().is_empty(),
                "{at} has no summary"
            );
            let id = operation["operationId"].as_str().unwrap();
            assert!(operation_ids.insert(id.to_string()), "{at}: {id} twice");
            // Every operation says who may call it: [{}] is anonymous, [{}, token] either.
            let security = operation["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{at}"));
            for requirement in security {
                for scheme in requirement.as_object().unwrap().keys() {
                    assert!(schemes.contains_key(scheme), "{at}: scheme {scheme}");
                }
            }
            let declared: Vec<&str> = operation["parameters"]
                .as_array()
                .map(|p| {
                    p.iter()
                        .filter(|p| p["in"] == "path")
                        .map(|p| p["name"].as_str().unwrap())
                        .collect()
                })
                .unwrap_or_default();
            let in_path: Vec<&str> = path
                .split('{')
                .skip(1)
                .map(|s| s.split('}').next().unwrap())
                .collect();
            assert_eq!(declared, in_path, "{at}: path parameters");
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{at}: no success"
            );
            for (status, response) in responses {
                assert!(
                    status.len() == 3 && status.parse::<u16>().is_ok(),
                    "{at}: {status}"
                );
                let response = resolve(&document, response);
                assert!(response["description"].is_string(), "{at} {status}");
                if (status.starts_with('2') && status != "204") || status.starts_with('4') {
                    let content = response["content"]
                        .as_object()
                        .unwrap_or_else(|| panic!("{at} {status}: no body"));
                    assert!(
                        content.values().all(|c| c["schema"].is_object()),
                        "{at} {status}: no schema"
                    );
                }
                if status == "429" {
                    assert!(response["headers"]["Retry-After"].is_object(), "{at}");
                }
            }
            if let Some(body) = operation.get("requestBody") {
                assert!(
                    body["content"]["application/json"]["schema"].is_object(),
                    "{at}"
                );
            }
        }
    }
    assert_eq!(operations, 26, "operations documented");
    every_ref_resolves(&document, &document);
}

/// Checks `answer` to `method target` against the schema `document` gives for its status.
#[track_caller]
fn conforms(document: &Value, method: &str, path: &str, answer: &Answer) {
    let operation = &document["paths"][path][method.to_lowercase()];
    assert!(operation.is_object(), "{method} {path} is documented");
    let status = answer.status.to_string();
    let response = resolve(document, &operation["responses"][&status]);
    assert!(
        response.is_object(),
        "{method} {path}: {status} documented: {}",
        answer.text()
    );
    let schema = &response["content"]["application/json"]["schema"];
    if let Err(why) = check(document, schema, &answer.json(), "$") {
        panic!("{method} {path} {status}: {why}\nbody: {}", answer.text());
    }
}

#[test]
fn real_answers_validate_against_the_document() {
    let server = TestServer::start();
    let document = document(&server);
    let addr = server.addr;
    let anonymous = D6t::anonymous(addr);
    let register = anonymous.post("accounts", &crate::raw_http::account("owner"));
    conforms(&document, "POST", "/v1/api/accounts/", &register);
    let owner = D6t {
        addr,
        token: Some(register.json()["token"].as_str().unwrap().to_string()),
    };
    let reader = D6t::register(addr, "reader");
    let login = anonymous.post(
        "accounts/token",
        &json!({"username": "owner", "password": "pw-123456"}),
    );
    conforms(&document, "POST", "/v1/api/accounts/token/", &login);
    conforms(&document, "GET", "/v1/api/", &owner.get(""));

    let remote = json!({"name": "store", "protocol": "s3", "location": "bucket-1",
        "credentials": {"aws_access_key_id": "k", "aws_secret_access_key": "s"}});
    let calls: [(&str, &str, Answer); 18] = [
        ("POST", "/v1/api/remotes/", owner.post("remotes", &remote)),
        (
            "POST",
            "/v1/api/remotes/",
            owner.post(
                "remotes",
                &json!({"name": "x", "protocol": "s3", "location": null}),
            ),
        ),
        ("GET", "/v1/api/remotes/", owner.get("remotes")),
        (
            "PATCH",
            "/v1/api/remotes/{name}/",
            owner.patch("remotes/store", &json!({"settings": {"region": "eu"}})),
        ),
        (
            "GET",
            "/v1/api/remotes/{name}/credentials/",
            owner.get("remotes/store/credentials"),
        ),
        (
            "GET",
            "/v1/api/remotes/{name}/",
            reader.get("remotes/store"),
        ),
        (
            "POST",
            "/v1/api/pipes/",
            owner.post(
                "pipes",
                &json!({"name": "vendor", "remote": "store", "options": {"dir": "v"}}),
            ),
        ),
        (
            "POST",
            "/v1/api/pipes/",
            owner.post("pipes", &json!({"name": "child", "parent": "vendor"})),
        ),
        (
            "POST",
            "/v1/api/pipes/",
            owner.post("pipes", &json!({"name": "$bad"})),
        ),
        (
            "POST",
            "/v1/api/pipes/{name}/permissions/",
            owner.post(
                "pipes/vendor/permissions",
                &json!({"username": "reader", "role": "read", "expiration_date": "2999-01-01"}),
            ),
        ),
        (
            "POST",
            "/v1/api/pipes/{name}/permissions/",
            owner.post(
                "pipes/vendor/permissions",
                &json!({"email": "new@example.com", "role": "write"}),
            ),
        ),
        (
            "GET",
            "/v1/api/pipes/{name}/permissions/",
            owner.get("pipes/vendor/permissions"),
        ),
        ("GET", "/v1/api/pipes/", reader.get("pipes")),
        ("GET", "/v1/api/pipes/{name}/", reader.get("pipes/child")),
        (
            "GET",
            "/v1/api/pipes/{name}/credentials/",
            reader.get("pipes/vendor/credentials?role=read"),
        ),
        (
            "GET",
            "/v1/api/pipes/{name}/credentials/",
            reader.get("pipes/vendor/credentials?role=write"),
        ),
        (
            "GET",
            "/v1/api/pipes/{name}/audit/",
            owner.get("pipes/vendor/audit"),
        ),
        (
            "GET",
            "/v1/api/pipes/{name}/",
            anonymous.get("pipes/vendor"),
        ),
    ];
    let mut statuses = HashSet::new();
    for (method, path, answer) in &calls {
        conforms(&document, method, path, answer);
        statuses.insert(answer.status);
    }
    for status in [200, 201, 400, 401, 403] {
        assert!(statuses.contains(&status), "a {status} was checked");
    }
    let managed = owner.post("pipes", &json!({"name": "free"}));
    conforms(&document, "POST", "/v1/api/pipes/", &managed);
    conforms(
        &document,
        "GET",
        "/v1/api/pipes/{name}/credentials/",
        &owner.get("pipes/free/credentials?role=write"),
    );
    conforms(
        &document,
        "GET",
        "/health",
        &Call::new("GET", "/health").send(addr),
    );
    conforms(
        &document,
        "GET",
        "/v1/openapi.json",
        &Call::new("GET", "/v1/openapi.json").send(addr),
    );
    conforms(
        &document,
        "DELETE",
        "/v1/api/pipes/{name}/",
        &reader.delete("pipes/nothing"),
    );
    let throttled = (0..12)
        .map(|_| {
            anonymous.post(
                "accounts/token",
                &json!({"username": "owner", "password": "wrong"}),
            )
        })
        .find(|answer| answer.status == 429)
        .expect("failed logins are throttled");
    conforms(&document, "POST", "/v1/api/accounts/token/", &throttled);
    assert!(throttled.header("retry-after").is_some());
}

#[test]
fn the_schema_check_refuses_what_the_document_does_not_allow() {
    let server = TestServer::start();
    let document = document(&server);
    let schema = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let error = schema("ErrorBody");
    assert!(check(&document, &error, &json!({"detail": "Not found."}), "$").is_ok());
    assert!(
        check(
            &document,
            &error,
            &json!({"name": ["This field is required."]}),
            "$"
        )
        .is_ok()
    );
    for wrong in [
        json!({}),
        json!({"detail": 1}),
        json!({"name": "not a list"}),
        json!([]),
    ] {
        assert!(check(&document, &error, &wrong, "$").is_err(), "{wrong}");
    }
    let grant = json!({"pipe": "p", "username": "u", "email": null, "role": "read",
        "expiration_date": null, "pending": false, "status": "active"});
    assert!(check(&document, &schema("GrantView"), &grant, "$").is_ok());
    let mut unknown_status = grant.clone();
    unknown_status["status"] = json!("lost");
    let mut missing_pipe = grant.clone();
    missing_pipe.as_object_mut().unwrap().remove("pipe");
    for wrong in [unknown_status, missing_pipe] {
        assert!(
            check(&document, &schema("GrantView"), &wrong, "$").is_err(),
            "{wrong}"
        );
    }
    let request = schema("GrantRequest");
    assert!(
        check(
            &document,
            &request,
            &json!({"username": "u", "role": "read"}),
            "$"
        )
        .is_ok()
    );
    for wrong in [
        json!({"role": "read"}),
        json!({"username": "u", "email": "e@x.io", "role": "read"}),
    ] {
        assert!(check(&document, &request, &wrong, "$").is_err(), "{wrong}");
    }
}
