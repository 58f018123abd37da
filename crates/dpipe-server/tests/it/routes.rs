//! The route table as documented: every path of `/v1/openapi.json` answers its documented
//! methods (with and without the trailing slash) and 405 for the others, the docs page lists
//! them, and `/health` reflects whether the database answers.

use dpipe_testkit::server::TestServer;
use serde_json::Value;

use crate::raw_http::{Call, D6t};

/// Every route the server must serve (protocol §2 plus dpipe's additions).
const ROUTES: [&str; 17] = [
    "/health",
    "/v1/openapi.json",
    "/v1/docs",
    "/v1/api/",
    "/v1/api/accounts/",
    "/v1/api/accounts/token/",
    "/v1/api/accounts/token/rotate/",
    "/v1/api/accounts/{username}/",
    "/v1/api/invitations/claim/",
    "/v1/api/pipes/",
    "/v1/api/pipes/{name}/",
    "/v1/api/pipes/{name}/permissions/",
    "/v1/api/pipes/{name}/credentials/",
    "/v1/api/pipes/{name}/audit/",
    "/v1/api/remotes/",
    "/v1/api/remotes/{name}/",
    "/v1/api/remotes/{name}/credentials/",
];

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// `path` with every `{param}` replaced by a name that exists nowhere.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').expect("a closed parameter") + start;
        out.push_str(&rest[..start]);
        out.push_str("nothing");
        rest = &rest[end + 1..];
    }
    out + rest
}

#[test]
fn the_documented_routes_are_the_served_routes() {
    let server = TestServer::start();
    let mut token = D6t::register(server.addr, "u1").token.unwrap();
    let document = Call::new("GET", "/v1/openapi.json")
        .send(server.addr)
        .expect(200)
        .json();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = document["paths"].as_object().unwrap();
    let mut documented: Vec<&str> = paths.keys().map(String::as_str).collect();
    documented.sort();
    let mut expected = ROUTES.to_vec();
    expected.sort();
    assert_eq!(documented, expected);

    for (path, item) in paths {
        let bare = concrete(path).trim_end_matches('/').to_string();
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
                if operation.is_object() {
                    assert_ne!(answer.status, 405, "{method} {target}: {}", answer.text());
                    let code = answer.status.to_string();
                    assert!(
                        operation["responses"].get(&code).is_some(),
                        "{method} {target} answered {code}, which {path} does not document: {}",
                        answer.text()
                    );
                } else {
                    answer.expect(405);
                }
            }
        }
    }
}

#[test]
fn the_docs_page_lists_every_route_without_external_assets() {
    let server = TestServer::start();
    let page = Call::new("GET", "/v1/docs").send(server.addr);
    page.expect(200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text();
    for route in ROUTES {
        assert!(
            html.contains(&format!("<code>{route}</code>")),
            "{route} missing from the docs page"
        );
    }
    for external in ["<script", "<link", "src=", "http://", "https://"] {
        assert!(!html.contains(external), "the docs page has {external}");
    }
}

#[test]
fn health_reads_the_database() {
    let server = TestServer::start();
    let ok = Call::new("GET", "/health").send(server.addr);
    assert_eq!(ok.expect(200).json(), serde_json::json!({"status": "ok"}));
    Call::new("GET", "/health/").send(server.addr).expect(200);

    // Break the database under the running server (another connection renames the table the
    // health check reads), then mend it.
    let db = rusqlite::Connection::open(server.data_dir.join(dpipe_server::DATABASE_FILE)).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    db.execute_batch("ALTER TABLE users RENAME TO users_away")
        .unwrap();
    let broken = Call::new("GET", "/health").send(server.addr);
    broken.expect(503);
    let body: Value = broken.json();
    assert_eq!(body["status"], "unavailable");
    assert!(
        !broken.text().contains("users"),
        "backend details stay in the log: {}",
        broken.text()
    );
    db.execute_batch("ALTER TABLE users_away RENAME TO users")
        .unwrap();
    Call::new("GET", "/health").send(server.addr).expect(200);
}
