//! Storage that is itself wrong, against real servers: a bucket or folder that does not exist,
//! credentials refused, nothing listening. Each error has the kind a caller branches on and a
//! one-line message that names what is wrong and where — never OpenDAL's context dump, never
//! a secret — while [`dpipe_storage::Error::detail`] keeps the dump for debugging.

use dpipe_storage::{Error, ErrorKind, Location, Protocol, Storage};
use dpipe_testkit::moto::closed_port;
use dpipe_testkit::services::ftp::FtpServer;
use dpipe_testkit::services::s3::{self, S3Server};

use crate::backends::tuning;

const WRONG_SECRET: &str = "wrong-secret-0cc175b9c0f1b6a8";

fn s3_location(endpoint: &str, bucket: &str, secret: &str) -> Location {
    Location::new(Protocol::S3, bucket, "pipes/p1")
        .setting("endpoint", endpoint)
        .setting("region", s3::REGION)
        .credential("aws_access_key_id", s3::ACCESS_KEY)
        .credential("aws_secret_access_key", secret)
}

/// The error of scanning `location`, checked to be one clean line.
async fn scan_error(location: &Location) -> Error {
    let storage = Storage::connect(location, tuning()).expect("connect is lazy");
    let err = storage.scan("").await.expect_err("the scan fails");
    let text = err.to_string();
    for dump in ["Parts {", "service_operation", "context:", "S3Error", "\n"] {
        assert!(!text.contains(dump), "{dump:?} in {text:?}");
    }
    for secret in [WRONG_SECRET, s3::SECRET_KEY] {
        assert!(!text.contains(secret), "a secret in {text:?}");
        assert!(
            !err.detail().contains(secret),
            "a secret in {}",
            err.detail()
        );
    }
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_missing_bucket_wrong_secret_and_closed_port() {
    let server = S3Server::start();
    server.create_bucket("bkt");

    let err = scan_error(&s3_location(&server.endpoint, "nob", s3::SECRET_KEY)).await;
    assert_eq!(err.kind(), ErrorKind::LocationNotFound, "{err}");
    let says = format!("bucket nob does not exist on {}", server.endpoint);
    assert!(err.to_string().starts_with(&says), "{err}");
    assert!(err.detail().contains("NoSuchBucket"), "{}", err.detail());

    let err = scan_error(&s3_location(&server.endpoint, "bkt", WRONG_SECRET)).await;
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let says = format!(
        "the storage at {} refused the credentials: the secret key does not match (SignatureDoesNotMatch); check the credentials of the pipe or its remote",
        server.endpoint
    );
    assert_eq!(err.to_string(), says);

    let closed = format!("http://127.0.0.1:{}", closed_port());
    let err = scan_error(&s3_location(&closed, "bkt", s3::SECRET_KEY)).await;
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    assert_eq!(
        err.to_string(),
        format!("cannot reach {closed}: connection refused")
    );
}

#[test]
fn fs_missing_folder_is_not_found_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-folder");
    let location = Location::new(Protocol::Fs, missing.to_string_lossy(), "sub");
    let err = Storage::connect(&location, tuning()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LocationNotFound, "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("folder {} does not exist", missing.display())),
        "{err}"
    );
    assert!(!missing.exists(), "the folder was created");

    // A file where the folder should be is a wrong location, not a missing one.
    std::fs::write(&missing, "x").unwrap();
    let err = Storage::connect(&location, tuning()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");

    // The pipe's own folder under an existing one is made by the first use.
    let location = Location::new(Protocol::Fs, dir.path().to_string_lossy(), "new/sub");
    Storage::connect(&location, tuning()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ftp_refused_login_and_closed_port() {
    let server = FtpServer::start();
    let wrong = Location::new(Protocol::Ftp, server.endpoint(), "/")
        .credential("username", server.user.name)
        .credential("password", WRONG_SECRET);
    let err = scan_error(&wrong).await;
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert_eq!(
        err.to_string(),
        "the FTP server refused the credentials: login incorrect; check the credentials of the pipe or its remote"
    );

    let closed = Location::new(Protocol::Ftp, format!("127.0.0.1:{}", closed_port()), "/")
        .credential("username", server.user.name)
        .credential("password", WRONG_SECRET);
    let err = scan_error(&closed).await;
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    assert_eq!(
        err.to_string(),
        "cannot reach the FTP server: connection refused"
    );
}
