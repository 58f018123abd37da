//! Crashes and shutdowns of a real server process: every write acknowledged with 201
//! survives `kill -9` and the database opens fine afterwards; SIGTERM lets the request in
//! flight finish, then the process exits cleanly and releases the data folder's lock.

use std::collections::HashSet;
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dpipe_server::{DATABASE_FILE, DataDir};
use serde_json::json;

use crate::child::ChildServer;
use crate::raw_http::{D6t, read_answer};

/// Writers firing pipe creations at once.
const WRITERS: usize = 4;
/// Acknowledged creations to wait for before pulling the plug.
const KILL_AFTER: usize = 40;

fn pipe_names(client: &D6t) -> HashSet<String> {
    let pipes = client.get("pipes").expect(200).json();
    pipes
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let server = ChildServer::start(&dir);
    let writer = D6t::register(server.addr, "writer");

    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..WRITERS)
        .map(|t| {
            let (writer, acknowledged, count) =
                (writer.clone(), acknowledged.clone(), count.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    let name = format!("w{t}-{i}");
                    let body = json!({"name": name, "protocol": "s3", "location": "bucket"});
                    // Once the server is gone, connecting or reading fails: stop.
                    let Ok(answer) = writer
                        .call("POST", "pipes")
                        .json(&body)
                        .try_send(writer.addr)
                    else {
                        return;
                    };
                    assert_eq!(answer.status, 201, "{}", answer.text());
                    acknowledged.lock().unwrap().push(name);
                    count.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();

    let deadline = Instant::now() + Duration::from_secs(30);
    while count.load(Ordering::SeqCst) < KILL_AFTER {
        assert!(Instant::now() < deadline, "the writers are too slow");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill_9();
    for thread in threads {
        thread.join().expect("a writer");
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    // Same folder, new process: the lock died with the old one, the key and the data stay.
    let mut server = ChildServer::start(&dir);
    let writer = D6t {
        addr: server.addr,
        ..writer
    };
    writer.get("").expect(200);
    let stored = pipe_names(&writer);
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|name| !stored.contains(*name))
        .collect();
    assert!(
        lost.is_empty(),
        "acknowledged but lost after kill -9: {lost:?}"
    );
    assert!(stored.len() >= acknowledged.len());

    server.terminate();
    assert!(server.wait(Duration::from_secs(10)).success());
    let db = rusqlite::Connection::open(dir.join(DATABASE_FILE)).unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn sigterm_finishes_the_request_in_flight_and_releases_the_lock() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let mut server = ChildServer::start(&dir);
    let user = D6t::register(server.addr, "owner");

    // A request whose body is still arriving when the signal comes.
    let request = user
        .call("POST", "pipes")
        .json(&json!({"name": "in-flight", "protocol": "s3", "location": "bucket"}))
        .to_bytes(server.addr);
    let (head, tail) = request.split_at(request.len() - 8);
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.write_all(head).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    server.terminate();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        TcpStream::connect(server.addr).is_err(),
        "no new connections once shutting down"
    );
    stream.write_all(tail).unwrap();
    read_answer(&mut stream).unwrap().expect(201);

    assert!(
        server.wait(Duration::from_secs(10)).success(),
        "a clean exit"
    );
    drop(DataDir::open(&dir).expect("the lock is released"));
    let server = ChildServer::start(&dir);
    let user = D6t {
        addr: server.addr,
        ..user
    };
    assert!(pipe_names(&user).contains("in-flight"));
}
