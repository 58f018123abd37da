//! The docs page lists every route, and `/health` reflects whether the database answers. (The
//! document held to the router is `openapi`'s.)

use dpipe_testkit::server::TestServer;
use serde_json::Value;

use crate::raw_http::Call;

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
    for route in dpipe_server::route_paths() {
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
