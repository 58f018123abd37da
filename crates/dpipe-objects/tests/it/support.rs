//! What the tests share: a small real [`Gate`] (keys with a secret, an optional session
//! token, a bucket, a prefix, a role and an expiry flag the test flips), a served store on
//! 127.0.0.1 port 0 over a temporary folder, aws-sdk-s3 clients for it, and the log lines
//! the server wrote. Raw HTTP requests are in [`crate::raw`] (re-exported here).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use dpipe_objects::{Gate, ObjectStore, StorageRefusal, StorageRequest, StorageTarget};
use tokio::sync::oneshot;

pub use crate::raw::{Raw, read_answer, request_head, send_raw};

pub const BUCKET: &str = "managed";
pub const REGION: &str = "us-east-1";

/// A key the test gate knows.
#[derive(Clone)]
pub struct Key {
    pub id: String,
    pub secret: String,
    pub token: Option<String>,
    pub bucket: String,
    pub prefix: String,
    pub write: bool,
    pub expired: Arc<AtomicBool>,
}

impl Key {
    /// A key over the whole of [`BUCKET`], read and write.
    pub fn admin(id: &str) -> Key {
        Key::new(id, "", true)
    }

    pub fn new(id: &str, prefix: &str, write: bool) -> Key {
        Key {
            id: id.to_owned(),
            secret: format!("secret-of-{id}"),
            token: None,
            bucket: BUCKET.to_owned(),
            prefix: prefix.to_owned(),
            write,
            expired: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn with_token(mut self, token: &str) -> Key {
        self.token = Some(token.to_owned());
        self
    }

    pub fn expire(&self) {
        self.expired.store(true, Ordering::SeqCst);
    }
}

/// The test gate: a map of keys, checked as the real one checks minted keys.
#[derive(Default)]
pub struct TestGate {
    keys: Mutex<HashMap<String, Key>>,
}

impl TestGate {
    pub fn add(&self, key: Key) {
        self.keys.lock().unwrap().insert(key.id.clone(), key);
    }

    fn key(&self, id: &str) -> Result<Key, StorageRefusal> {
        let key = self.keys.lock().unwrap().get(id).cloned();
        let key = key.ok_or(StorageRefusal::UnknownKey)?;
        if key.expired.load(Ordering::SeqCst) {
            return Err(StorageRefusal::Expired);
        }
        Ok(key)
    }
}

impl Gate for TestGate {
    fn secret(&self, access_key: &str) -> Result<String, StorageRefusal> {
        Ok(self.key(access_key)?.secret)
    }

    fn authorize(&self, r: &StorageRequest<'_>) -> Result<(), StorageRefusal> {
        let key = self.key(r.access_key)?;
        if key.token.as_deref() != r.session_token {
            return Err(StorageRefusal::UnknownKey);
        }
        if r.bucket != key.bucket {
            return Err(StorageRefusal::Denied(format!(
                "no access to bucket {}",
                r.bucket
            )));
        }
        let inside = match r.target {
            StorageTarget::Object(k) => k.starts_with(&key.prefix),
            StorageTarget::Listing(p) => p.starts_with(&key.prefix),
            StorageTarget::Bucket => true,
        };
        if !inside {
            return Err(StorageRefusal::Denied(
                "outside the key's prefix".to_owned(),
            ));
        }
        if r.write && !key.write {
            return Err(StorageRefusal::Denied("a read key cannot write".to_owned()));
        }
        Ok(())
    }
}

/// A store served on 127.0.0.1, stopped on drop.
pub struct Server {
    pub endpoint: String,
    pub addr: std::net::SocketAddr,
    pub gate: Arc<TestGate>,
    root: PathBuf,
    _temp: Option<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// A new store with bucket [`BUCKET`] and key `admin` (read-write, whole bucket), in a
    /// temporary folder.
    pub async fn start() -> Server {
        let temp = tempfile::tempdir().unwrap();
        let mut server = Server::start_in(temp.path()).await;
        server._temp = Some(temp);
        server
    }

    /// The same over `dir/objects` (kept on drop).
    pub async fn start_in(dir: &Path) -> Server {
        capture_logs();
        let root = dir.join("objects");
        let store = Arc::new(ObjectStore::open(&root).unwrap());
        store.ensure_bucket(BUCKET).unwrap();
        let gate = Arc::new(TestGate::default());
        gate.add(Key::admin("admin"));
        let service = dpipe_objects::objects_service(Arc::clone(&store), gate.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(dpipe_objects::serve(listener, service, async move {
            let _ = stopped.await;
        }));
        Server {
            endpoint: format!("http://{addr}"),
            addr,
            gate,
            root: store.root().to_path_buf(),
            _temp: None,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The store's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A client signing as `key` (added to the gate).
    pub fn client_for(&self, key: &Key) -> aws_sdk_s3::Client {
        self.gate.add(key.clone());
        client(&self.endpoint, &key.id, &key.secret, key.token.as_deref())
    }

    /// A client signing as `admin`.
    pub fn admin(&self) -> aws_sdk_s3::Client {
        client(&self.endpoint, "admin", "secret-of-admin", None)
    }

    /// Stops serving and waits for the accept loop to end.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }

    /// The blob files in the store.
    pub fn blob_count(&self) -> usize {
        files_under(&self.root.join("blobs")).len()
    }

    /// The files in `tmp/`.
    pub fn tmp_count(&self) -> usize {
        files_under(&self.root.join("tmp")).len()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Every file under `dir`, recursively (links not followed).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                out.push(entry.path());
            }
        }
    }
    out
}

/// An aws-sdk-s3 client for `endpoint` (plain http: the TLS trust store, and so
/// `AWS_CA_BUNDLE`, plays no part), path-style, no retries.
pub fn client(endpoint: &str, id: &str, secret: &str, token: Option<&str>) -> aws_sdk_s3::Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(
            id,
            secret,
            token.map(str::to_owned),
            None,
            "test",
        ))
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .http_client(http)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// The S3 error code of a failed call.
pub fn code<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    err: SdkError<E, R>,
) -> String {
    err.code()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("no code ({err:?})"))
}

/// The HTTP status of a failed call.
pub fn status<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> u16 {
    err.raw_response().map_or(0, |r| r.status().as_u16())
}

pub async fn put(c: &aws_sdk_s3::Client, key: &str, body: impl Into<Vec<u8>>) -> String {
    let out = c
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(body.into().into())
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key:?}: {e:?}"));
    out.e_tag().unwrap().to_owned()
}

pub async fn get(c: &aws_sdk_s3::Client, key: &str) -> Vec<u8> {
    let out = c
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get {key:?}: {e:?}"));
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

pub async fn keys(c: &aws_sdk_s3::Client, prefix: &str) -> Vec<String> {
    let out = c
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

/// `n` pseudo-random bytes.
pub fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(data))
}

/// Everything the servers of this test binary logged.
pub fn logs() -> String {
    String::from_utf8_lossy(&LOGS.get().unwrap().lock().unwrap()).into_owned()
}

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Arc::clone(&buffer);
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("dpipe::objects=info")
            .with_ansi(false)
            .with_writer(move || LogWriter(Arc::clone(&writer)))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    });
}
