//! One [`Backend`] per protocol: a real server, a [`Location`] whose root is a fresh prefix, and
//! the folder on this machine that holds that prefix's objects (to plant keys no client sends).

use std::any::Any;
use std::path::PathBuf;
use std::time::Duration;

use dpipe_storage::{Location, Protocol, Storage, Tuning};
use dpipe_testkit::services::ftp::FtpServer;
use dpipe_testkit::services::s3::{self, S3Server};
use dpipe_testkit::services::sftp::SftpServer;

/// The part size of the tests: small, so that multipart is exercised with small files.
pub const PART_SIZE: usize = 5 * 1024 * 1024;

pub struct Backend {
    pub location: Location,
    /// The folder on this machine that holds the objects under the location's root.
    pub raw_root: PathBuf,
    _guards: Vec<Box<dyn Any>>,
}

impl Backend {
    pub fn storage(&self) -> Storage {
        Storage::connect(&self.location, tuning()).expect("connect")
    }

    pub fn protocol(&self) -> Protocol {
        self.location.protocol
    }
}

pub fn tuning() -> Tuning {
    Tuning {
        retries: 2,
        min_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(500),
        timeout: Duration::from_secs(30),
        io_timeout: Duration::from_secs(30),
        part_size: PART_SIZE,
        // Objects beyond two parts are fetched in ranged parts: the suite covers both ways.
        ranged_get_cutoff: 2 * PART_SIZE as u64,
        ..Tuning::default()
    }
}

pub fn fs() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("remote");
    std::fs::create_dir_all(&folder).unwrap();
    let location = Location::new(Protocol::Fs, folder.to_string_lossy(), "pipes/p1");
    Backend {
        location,
        raw_root: folder.join("pipes/p1"),
        _guards: vec![Box::new(dir)],
    }
}

pub fn s3() -> Backend {
    let server = S3Server::start();
    let bucket = server.create_bucket("dpipe-bucket");
    let location = Location::new(Protocol::S3, "dpipe-bucket", "pipes/p1")
        .setting("endpoint", &server.endpoint)
        .setting("region", s3::REGION)
        .credential("aws_access_key_id", s3::ACCESS_KEY)
        .credential("aws_secret_access_key", s3::SECRET_KEY);
    Backend {
        location,
        raw_root: bucket.join("pipes/p1"),
        _guards: vec![Box::new(server)],
    }
}

/// dpipe serve's built-in object store, reached as a managed pipe's owner with the write
/// keys the repo API minted (session token included). Keys cannot be planted there (objects
/// live by id, not as files), so `raw_root` names nothing.
pub fn builtin() -> Backend {
    use dpipe_core::role::Access;
    use dpipe_testkit::harness::{Harness, ServerHarness};
    // The repo API client blocks: it runs (and is dropped) off the test's runtime.
    let (harness, keys) = std::thread::spawn(|| {
        let harness = ServerHarness::new();
        let ann = harness.user("ann");
        ann.create_pipe(&serde_json::json!({"name": "p1"})).unwrap();
        let keys = ann.credentials("p1", Access::Write).unwrap();
        (harness, keys)
    })
    .join()
    .expect("a server with a managed pipe");
    let mut location = Location::new(Protocol::S3, "dpipe", "ann/p1");
    for (name, value) in &keys {
        let value = value.as_str().unwrap();
        location = match name.as_str() {
            "endpoint_url" => location.setting("endpoint", value),
            "region_name" => location.setting("region", value),
            _ => location.credential(name, value),
        };
    }
    Backend {
        location,
        raw_root: PathBuf::from("/nonexistent/objects-live-by-id"),
        _guards: vec![Box::new(harness)],
    }
}

pub fn sftp() -> Backend {
    let server = SftpServer::start();
    let work = server.user.workdir();
    let location = Location::new(
        Protocol::Sftp,
        server.endpoint(),
        work.path.to_string_lossy(),
    )
    .setting("known_hosts", "accept")
    .credential("username", server.user.name)
    .credential("private_key", server.key_text());
    let raw_root = work.path.clone();
    Backend {
        location,
        raw_root,
        _guards: vec![Box::new(work), Box::new(server)],
    }
}

pub fn ftp() -> Backend {
    let server = FtpServer::start();
    let work = server.user.workdir();
    let location = Location::new(
        Protocol::Ftp,
        server.endpoint(),
        work.path.to_string_lossy(),
    )
    .credential("username", server.user.name)
    .credential("password", server.user.password);
    let raw_root = work.path.clone();
    Backend {
        location,
        raw_root,
        _guards: vec![Box::new(work), Box::new(server)],
    }
}
