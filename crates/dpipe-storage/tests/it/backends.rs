//! One [`Backend`] per protocol: a real server, a [`Location`] whose root is a fresh prefix, and
//! the folder on this machine that holds that prefix's objects (to plant keys no client sends).

use std::any::Any;
use std::path::PathBuf;
use std::time::Duration;

use dpipe_storage::{Location, Protocol, Storage, Tuning};
use dpipe_testkit::services::ftp::{FtpServer, FtpTls, test_ca_file};
use dpipe_testkit::services::s3::{self, S3Server};
use dpipe_testkit::services::sftp::SftpServer;

use crate::moto_proxy::MotoProxy;

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

/// SFTP with the test user's password; the host key recorded on first use in a known-hosts
/// file of the backend's own.
pub fn sftp_password() -> Backend {
    let server = SftpServer::start();
    let work = server.user.workdir();
    let known = tempfile::tempdir().unwrap();
    let location = Location::new(
        Protocol::Sftp,
        server.endpoint(),
        work.path.to_string_lossy(),
    )
    .setting(
        "known_hosts_file",
        known.path().join("known_hosts").to_string_lossy(),
    )
    .credential("username", server.user.name)
    .credential("password", server.user.password);
    let raw_root = work.path.clone();
    Backend {
        location,
        raw_root,
        _guards: vec![Box::new(work), Box::new(server), Box::new(known)],
    }
}

/// SFTP with the test user's private key (inline); the server's host key pinned.
pub fn sftp_key() -> Backend {
    let server = SftpServer::start();
    let work = server.user.workdir();
    let location = Location::new(
        Protocol::Sftp,
        server.endpoint(),
        work.path.to_string_lossy(),
    )
    .setting("host_key", server.host_key_line())
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
    let location = server.endpoint();
    ftp_backend(server, location)
}

/// FTPS: a vsftpd that demands explicit TLS, reached at `ftps://127.0.0.1:PORT`, its
/// certificate trusted through `SSL_CERT_FILE` (see [`trust_test_ca`]).
pub fn ftps() -> Backend {
    trust_test_ca();
    let server = FtpServer::start_with(FtpTls::Required);
    let location = format!("ftps://{}", server.endpoint());
    ftp_backend(server, location)
}

/// The backend of the FTP `server` at `location`, logging in the test user with its password
/// in a fresh folder of its own.
fn ftp_backend(server: FtpServer, location: String) -> Backend {
    let work = server.user.workdir();
    let location = Location::new(Protocol::Ftp, location, work.path.to_string_lossy())
        .credential("username", server.user.name)
        .credential("password", server.user.password);
    let raw_root = work.path.clone();
    Backend {
        location,
        raw_root,
        _guards: vec![Box::new(work), Box::new(server)],
    }
}

/// Names the test CA, which signs the FTPS test servers' certificates, in `SSL_CERT_FILE`: the
/// CA file OpenDAL's FTP client reads at each TLS connection. Set once per process, to the
/// same file whichever test comes first.
pub fn trust_test_ca() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: nextest runs each test in a process of its own, which sets this before it
        // starts any connection; under `cargo test`, the only other readers are this
        // binary's other FTPS tests, which wait on this `Once` before they connect.
        unsafe { std::env::set_var("SSL_CERT_FILE", test_ca_file()) };
    });
}

/// S3 on moto: a store that holds any key as AWS does — empty segments (`a//b`), a leading
/// `/`, folder markers (`e/`), a file and a folder of one name, segments over 255 bytes — which
/// s3s-fs (objects are files) cannot. Its keys are planted with [`plant_on_moto`]; `raw_root`
/// names nothing.
pub fn moto() -> Backend {
    use dpipe_testkit::moto;
    let bucket = format!("dpipe-planted-{}", unique());
    let keys = std::thread::spawn({
        let bucket = bucket.clone();
        move || {
            on_own_runtime(async move {
                moto::root()
                    .await
                    .s3()
                    .create_bucket()
                    .bucket(&bucket)
                    .send()
                    .await
                    .expect("CreateBucket");
                let everything = serde_json::json!({"Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]});
                moto::user_with_policy(&format!("{bucket}-user"), "all-s3", &everything)
                    .await
                    .0
            })
        }
    })
    .join()
    .expect("a bucket on moto");
    let location = Location::new(Protocol::S3, &bucket, MOTO_ROOT)
        .setting("endpoint", &moto_proxy().url)
        .setting("region", moto::REGION)
        .credential("aws_access_key_id", &keys.aws_access_key_id)
        .credential("aws_secret_access_key", keys.secret());
    Backend {
        location,
        raw_root: PathBuf::from("/nonexistent/objects-live-on-moto"),
        _guards: Vec::new(),
    }
}

/// The one proxy of this test binary in front of moto (see [`MotoProxy`]: moto checks
/// signatures over the raw query, the client signs it encoded). Never dropped: a runtime may
/// not be dropped inside the tests' async context.
fn moto_proxy() -> &'static MotoProxy {
    static PROXY: std::sync::OnceLock<MotoProxy> = std::sync::OnceLock::new();
    PROXY.get_or_init(|| {
        std::thread::spawn(|| MotoProxy::start(&dpipe_testkit::moto::moto().url))
            .join()
            .expect("a proxy in front of moto")
    })
}

/// The prefix of the moto backend's location in its bucket.
const MOTO_ROOT: &str = "pipes/p1";

/// Puts an empty object at `key` (relative to the location's root, taken as it is) into the
/// bucket of `backend`, a [`moto`] backend, as moto's root user.
pub fn plant_on_moto(backend: &Backend, key: &str) {
    let bucket = backend.location.location.clone();
    let key = format!("{MOTO_ROOT}/{key}");
    std::thread::spawn(move || {
        on_own_runtime(async move {
            dpipe_testkit::moto::root()
                .await
                .s3()
                .put_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("PutObject {key:?}: {e:?}"));
        });
    })
    .join()
    .expect("planted on moto");
}

/// Runs `work` to its end on a runtime of its own (the test's runtime cannot be re-entered).
fn on_own_runtime<T>(work: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(work)
}

/// A name no other test of this run uses.
fn unique() -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{n}", std::process::id())
}

/// Connects to `location` with the tests' tuning and checks that the storage answers and
/// takes the credentials.
pub async fn check(location: &Location) -> dpipe_storage::Result<()> {
    Storage::connect(location, tuning())
        .expect("connect")
        .check()
        .await
}
