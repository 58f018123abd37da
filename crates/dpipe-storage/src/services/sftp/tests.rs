//! The service's operations through OpenDAL's `Operator`, against a real sshd: what the
//! storage suite does not reach directly — appends (resumed uploads), ranged reads from an
//! offset, a rename over an existing file, a delete of a missing file, folders made on
//! demand, and the listing of a missing folder.

use dpipe_testkit::services::sftp::SftpServer;
use opendal::Operator;

use crate::location::{Location, Protocol};
use crate::operator::Tuning;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_through_opendal() {
    let server = SftpServer::start();
    let work = server.user.workdir();
    let location = Location::new(Protocol::Sftp, server.endpoint(), "")
        .setting("host_key", server.host_key_fingerprint())
        .credential("username", server.user.name)
        .credential("password", server.user.password);
    let root = format!("{}/", work.path.display());
    let op =
        Operator::new(super::sftp_builder(&location, &root, &Tuning::default()).unwrap()).unwrap();

    // Written into folders that do not exist yet, then appended to.
    op.write("a/b/part", "abc").await.unwrap();
    let mut appending = op.writer_with("a/b/part").append(true).await.unwrap();
    appending.write("def").await.unwrap();
    appending.close().await.unwrap();
    assert_eq!(op.read("a/b/part").await.unwrap().to_vec(), b"abcdef");
    let tail = op.read_with("a/b/part").range(2..5).await.unwrap();
    assert_eq!(tail.to_vec(), b"cde");
    let meta = op.stat("a/b/part").await.unwrap();
    assert_eq!(meta.content_length(), 6);
    assert!(meta.last_modified().is_some());

    // A rename replaces an existing target.
    op.write("a/final", "old").await.unwrap();
    op.rename("a/b/part", "a/final").await.unwrap();
    assert_eq!(op.read("a/final").await.unwrap().to_vec(), b"abcdef");
    let missing = op.stat("a/b/part").await.unwrap_err();
    assert_eq!(missing.kind(), opendal::ErrorKind::NotFound);

    // A missing file deletes fine; a missing folder lists empty.
    op.delete("a/never").await.unwrap();
    assert!(op.list("nowhere/").await.unwrap().is_empty());
    op.write("a/b/c.txt", "x").await.unwrap();
    let mut listed: Vec<String> = op
        .list_with("a/")
        .recursive(true)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.path().to_string())
        .collect();
    listed.sort();
    assert!(listed.contains(&"a/final".to_string()), "{listed:?}");
    assert!(listed.contains(&"a/b/c.txt".to_string()), "{listed:?}");
}

/// Nothing listening, or a name that does not resolve: unreachable, in words, which a run
/// waits out (see `Reachability`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_said_so() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    for (place, why) in [
        (format!("127.0.0.1:{port}"), "connection refused"),
        ("no-such-host.invalid:22".to_string(), "does not resolve"),
    ] {
        let location = Location::new(Protocol::Sftp, &place, "/")
            .setting(
                "host_key",
                "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            )
            .credential("username", "u");
        let storage = crate::Storage::connect(&location, Tuning::default()).unwrap();
        let err = storage.check().await.unwrap_err();
        assert!(err.is_unreachable(), "{err}");
        let expected = format!("cannot reach the SFTP server at {place}: ");
        assert!(err.message().starts_with(&expected), "{err}");
        assert!(err.message().contains(why), "{err}");
    }
}
