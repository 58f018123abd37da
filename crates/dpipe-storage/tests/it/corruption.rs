//! Bytes changed on the way to S3 are refused by the server: dpipe's uploads carry a CRC32C of
//! their bytes. A proxy between dpipe and s3s-fs flips one byte of the first upload's body; the
//! put must fail as an integrity error, and a put through the same proxy afterwards (nothing
//! flipped) must succeed and leave the right bytes. (S3 stores nothing it refuses; s3s-fs
//! 0.14.1 renames the upload into place before it compares the checksum, so here the refused
//! bytes sit at the key until the second put replaces them.)

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use dpipe_storage::{ErrorKind, Location, Protocol, Storage, Tuning};
use dpipe_testkit::services::s3::{self, S3Server};

/// A TCP proxy on 127.0.0.1 to `target` that flips the first body byte of the first `PUT`
/// request it forwards (a request whose head and first body bytes come in one read, as a
/// small upload's do). Returns its address and whether it flipped a byte yet.
fn corrupting_proxy(target: std::net::SocketAddr) -> (String, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let flipped = Arc::new(AtomicBool::new(false));
    let done = flipped.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let server = TcpStream::connect(target).unwrap();
            let (client_in, server_out) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            let done = done.clone();
            std::thread::spawn(move || forward(client_in, server_out, Some(done)));
            std::thread::spawn(move || forward(server, client, None));
        }
    });
    (format!("http://{addr}"), flipped)
}

/// Copies `from` to `to` until either closes; with `flip`, changes the first body byte of the
/// first PUT seen (once for the whole proxy).
fn forward(mut from: TcpStream, mut to: TcpStream, flip: Option<Arc<AtomicBool>>) {
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(flip) = &flip
            && buf[..n].starts_with(b"PUT ")
            && let Some(head) = buf[..n].windows(4).position(|w| w == b"\r\n\r\n")
            && head + 4 < n
            && !flip.swap(true, Ordering::SeqCst)
        {
            buf[head + 4] ^= 0x01;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_changed_on_the_way_is_refused() {
    let server = S3Server::start();
    server.create_bucket("dpipe-bucket");
    let (endpoint, flipped) = corrupting_proxy(server.addr());
    let location = Location::new(Protocol::S3, "dpipe-bucket", "pipes/p1")
        .setting("endpoint", &endpoint)
        .setting("region", s3::REGION)
        .credential("aws_access_key_id", s3::ACCESS_KEY)
        .credential("aws_secret_access_key", s3::SECRET_KEY);
    let storage = Storage::connect(&location, Tuning::default()).unwrap();
    let local = tempfile::tempdir().unwrap();
    let source = local.path().join("data.bin");
    std::fs::write(&source, vec![b'a'; 4096]).unwrap();

    let err = storage.put(&source, "data.bin", None).await.unwrap_err();
    assert!(flipped.load(Ordering::SeqCst), "the proxy changed a byte");
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");

    // The same upload, untouched this time, goes through.
    let put = storage.put(&source, "data.bin", None).await.unwrap();
    assert_eq!(put.size, 4096);
    assert_eq!(
        std::fs::read(server.root().join("dpipe-bucket/pipes/p1/data.bin")).unwrap(),
        vec![b'a'; 4096]
    );
}
