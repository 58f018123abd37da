//! A [`Location`] turned into an OpenDAL operator wrapped in [`Storage`]: the service's
//! builder (s3 with endpoint, region, path style and session token; ftp; sftp on russh; fs),
//! then retries with jittered exponential backoff (not of a refused connection: see
//! [`RefusedIsFinal`]), per-operation and I/O timeouts, and a limit on concurrent operations,
//! all from [`Tuning`].

use std::fmt;
use std::sync::{Arc, Once};
use std::time::Duration;

use opendal::layers::{ConcurrentLimitLayer, RetryLayer, TimeoutLayer};
use opendal::{Buffer, HttpBody, HttpTransport, HttpTransporter, Operator};
use opendal_http_transport_reqwest::ReqwestTransport;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::{Error, ErrorKind, Result};
use crate::location::{Location, Protocol};
use crate::services;

/// One mebibyte, the unit of the memory budget.
const MIB: usize = 1024 * 1024;

/// How long a run waits out an unreachable storage by default: a server that restarts is
/// back well within it; a dead one ends the run in about a minute.
pub const DEFAULT_GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// Knobs of the adapter; [`Tuning::default`] suits real networks.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// Retries after the first try of a failed operation.
    pub retries: usize,
    /// First backoff delay (grows ×2 with jitter up to `max_backoff`).
    pub min_backoff: Duration,
    /// Longest backoff delay.
    pub max_backoff: Duration,
    /// How long a run waits out a storage it cannot reach (connections refused, cut or timed
    /// out, with no call reaching it in between) before it stops every transfer; see
    /// [`Reachability`](crate::Reachability). Within it, transfers are tried again.
    pub give_up_after: Duration,
    /// Limit of one non-I/O operation (stat, list page, delete).
    pub timeout: Duration,
    /// Limit of one read or write of a chunk.
    pub io_timeout: Duration,
    /// Operations in flight at once on this storage.
    pub concurrency: usize,
    /// Part size of multipart uploads; files larger than this are uploaded in parts.
    pub part_size: usize,
    /// Parts uploaded (or, for a get, ranges fetched) at once for one file.
    pub part_concurrency: usize,
    /// Objects at least this large are fetched in ranged parts (`part_size` each,
    /// `part_concurrency` at a time); smaller ones in one streamed GET. Ranged parts speed up
    /// a lone huge object, but each is a request of its own (and some servers hash the whole
    /// object for every one): below this size, the concurrency across files is enough.
    pub ranged_get_cutoff: u64,
    /// Bytes all transfers of this storage may buffer at once: each reserves what it may
    /// buffer at most before it starts (rounded up to MiB), so large files wait for each other
    /// rather than pile up in memory.
    pub memory_budget: usize,
    /// Age after which a leftover of an interrupted transfer is removed by the next run
    /// rather than kept (younger ones may belong to a run still going): a local partial
    /// download (`.dpipe-get-*.part`; the object is then downloaded whole), and on the storage
    /// a temporary key or unfinished S3 upload that the push did not resume (a push resumes
    /// the upload of a file it sends whatever its age).
    pub leftover_age: Duration,
    /// Folder where S3 multipart uploads in progress are recorded, so that the next run can
    /// continue an interrupted one from its stored parts (see `s3_multipart`); `None`: an
    /// interrupted upload is aborted, or starts again.
    pub upload_records: Option<std::path::PathBuf>,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            retries: 4,
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            give_up_after: DEFAULT_GIVE_UP_AFTER,
            timeout: Duration::from_secs(60),
            io_timeout: Duration::from_secs(60),
            concurrency: 16,
            part_size: 8 * MIB,
            part_concurrency: 4,
            ranged_get_cutoff: 1024 * MIB as u64,
            memory_budget: 128 * MIB,
            leftover_age: Duration::from_secs(24 * 60 * 60),
            upload_records: None,
        }
    }
}

/// One remote location, ready for scans and transfers. Cheap to clone; `Debug` shows no secret.
#[derive(Clone)]
pub struct Storage {
    pub(crate) op: Operator,
    pub(crate) protocol: Protocol,
    pub(crate) tuning: Tuning,
    /// S3's multipart uploads, which OpenDAL cannot continue (S3 only).
    pub(crate) multipart: Option<Arc<crate::s3_multipart::Multipart>>,
    /// The memory budget, in MiB permits, shared by every clone.
    budget: Arc<Semaphore>,
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Storage")
            .field("protocol", &self.protocol)
            .field("tuning", &self.tuning)
            .finish_non_exhaustive()
    }
}

impl Storage {
    /// Builds the operator for `location`. Connects lazily: a wrong password shows on first use;
    /// only the folder of an `fs` location is checked here (see [`existing_folder`]).
    pub fn connect(location: &Location, tuning: Tuning) -> Result<Self> {
        install_runtime_defaults();
        let root = root_of(location);
        let op = match location.protocol {
            Protocol::S3 => Operator::new(services::s3::s3_builder(location, &root)?),
            Protocol::Ftp => Operator::new(services::ftp::ftp_builder(location, &root)?),
            Protocol::Sftp => {
                Operator::new(services::sftp::sftp_builder(location, &root, &tuning)?)
            }
            Protocol::Fs => {
                let base = existing_folder(&location.location)?;
                let folder = base.join(root.trim_start_matches('/'));
                Operator::new(opendal::services::Fs::default().root(&folder.to_string_lossy()))
            }
        }
        .map_err(|e| Error::from_opendal(e, "configure", &location.location))?;
        let op = op
            .layer(
                RetryLayer::new()
                    .with_jitter()
                    .with_max_times(tuning.retries)
                    .with_min_delay(tuning.min_backoff)
                    .with_max_delay(tuning.max_backoff),
            )
            .layer(
                TimeoutLayer::new()
                    .with_timeout(tuning.timeout)
                    .with_io_timeout(tuning.io_timeout),
            )
            .layer(ConcurrentLimitLayer::new(tuning.concurrency.max(1)));
        let multipart = match location.protocol {
            Protocol::S3 => Some(Arc::new(crate::s3_multipart::Multipart::new(
                location, &root, &tuning,
            )?)),
            _ => None,
        };
        Ok(Self {
            op,
            multipart,
            protocol: location.protocol,
            budget: Arc::new(Semaphore::new(budget_permits(&tuning) as usize)),
            tuning,
        })
    }

    /// The protocol of this storage.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The tuning this storage was built with.
    pub fn tuning(&self) -> &Tuning {
        &self.tuning
    }

    /// Waits for, and holds until dropped, `bytes` of the memory budget (at least one MiB,
    /// at most the whole budget; see [`Tuning::memory_budget`]).
    pub(crate) async fn reserve(&self, bytes: u64) -> SemaphorePermit<'_> {
        let mib = bytes.div_ceil(MIB as u64).max(1);
        let permits = u32::try_from(mib)
            .unwrap_or(u32::MAX)
            .min(budget_permits(&self.tuning));
        self.budget
            .acquire_many(permits)
            .await
            .expect("the memory budget is never closed")
    }

    /// Checks that the storage answers and accepts the credentials (lists the root).
    pub async fn check(&self) -> Result<()> {
        self.op
            .list_with("/")
            .limit(1)
            .await
            .map(|_| ())
            .map_err(|e| Error::from_opendal(e, "check", "/"))
    }
}

/// The memory budget in MiB permits (at least one).
fn budget_permits(tuning: &Tuning) -> u32 {
    u32::try_from(tuning.memory_budget.div_ceil(MIB).max(1)).unwrap_or(u32::MAX)
}

/// `/`-rooted, `/`-terminated root for OpenDAL from the location's `root` (remotepath).
fn root_of(location: &Location) -> String {
    let trimmed = location.root.trim_matches('/');
    if trimmed.is_empty() {
        "/".to_string()
    } else {
        format!("/{trimmed}/")
    }
}

/// The folder of an `fs` location, which must exist: OpenDAL would create a missing one (and
/// a pull from a mistyped folder would quietly find it empty). The pipe's own sub-folders
/// under it (the root) are made by the first push.
fn existing_folder(folder: &str) -> Result<&std::path::Path> {
    if folder.is_empty() {
        return Err(config("fs: the location (a folder) is empty"));
    }
    let path = std::path::Path::new(folder);
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(path),
        Ok(_) => Err(config(format!("fs: {folder} is not a folder"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::new(
            ErrorKind::LocationNotFound,
            format!("folder {folder} does not exist; check the location of the pipe or its remote"),
        )
        .with("location", folder)),
        Err(e) => Err(Error::from_io(e, "open folder", path)),
    }
}

pub(crate) fn config(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Config, message)
}

/// OpenDAL's HTTP transport (see [`RefusedIsFinal`]), and rustls's ring provider (dpipe builds rustls without a default
/// provider so that no second crypto library is compiled), installed once per process.
fn install_runtime_defaults() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Another crate may have installed a provider first: theirs is kept.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // The facade's own installer is compiled only with its aws-lc TLS feature.
        opendal::init_default_registry();
        HttpTransporter::install_default(RefusedIsFinal(ReqwestTransport::default()));
    });
}

/// OpenDAL's reqwest transport, except that a connection the storage refused is not retried
/// by OpenDAL's retry layer: nothing listens there, and retrying within seconds mostly delays
/// the answer (a pull from an endpoint with nothing listening took ~4.4 s to say so).
/// Transfers still wait out a storage that went away, up to [`Tuning::give_up_after`] (see
/// [`Reachability`](crate::Reachability)); a connection cut or timed out is still retried.
struct RefusedIsFinal(ReqwestTransport);

impl HttpTransport for RefusedIsFinal {
    async fn fetch(&self, req: http::Request<Buffer>) -> opendal::Result<http::Response<HttpBody>> {
        self.0
            .fetch(req)
            .await
            .map_err(|e| if is_refused(&e) { e.set_permanent() } else { e })
    }
}

/// Whether `e` comes of a connection refused.
fn is_refused(e: &opendal::Error) -> bool {
    std::iter::successors(std::error::Error::source(e), |s| s.source()).any(|s| {
        s.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    })
}
#[cfg(test)]
mod tests {
    use super::*;

    /// A refused connection is not retried: with retries 30 s apart, an answer within 20 s
    /// (a guard, not a measurement) shows that none was made.
    #[tokio::test]
    async fn a_refused_connection_is_not_retried() {
        // A port that was free a moment ago: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let location = Location::new(Protocol::S3, "bucket", "")
            .setting("endpoint", format!("http://127.0.0.1:{port}"));
        let slow_retries = Tuning {
            retries: 4,
            min_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(30),
            ..Tuning::default()
        };
        let storage = Storage::connect(&location, slow_retries).unwrap();
        let checked = tokio::time::timeout(Duration::from_secs(20), storage.check())
            .await
            .expect("answered without retrying");
        let error = checked.unwrap_err();
        assert!(error.is_unreachable(), "{error}");
        assert!(error.message().contains("connection refused"), "{error}");
    }
}
