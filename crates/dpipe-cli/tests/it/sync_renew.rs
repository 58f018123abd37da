//! Renewal of expired storage credentials in the sync engine, against real servers.
//!
//! s3s-fs cannot issue temporary credentials, so no real session token can expire here. What
//! is covered, with real HTTP: (1) wrong keys on s3s-fs are answered 403 `NotSignedUp` (an
//! unknown key id; AWS says `InvalidAccessKeyId`) or `SignatureDoesNotMatch` (a wrong secret),
//! which are *not* expiry: the engine does not renew, the run fails as permission denied;
//! (2) the first credentials point at a one-line HTTP server that answers every request the
//! way AWS answers an expired session token (HTTP 400, `<Code>ExpiredToken</Code>`), parsed by
//! OpenDAL and classified by dpipe-storage; the engine then asks the repo API to renew once,
//! rebuilds the storage with what it got (s3s-fs, right keys) and finishes — for the scan of a
//! pull (read credentials) and for the transfers of a push (write credentials). Not covered:
//! a real AWS/STS token running out mid-transfer, and `InvalidToken`/`TokenRefreshRequired`
//! replies (classified by the same code as `ExpiredToken`).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use dpipe_client::sync::{SyncOptions, Syncer};
use dpipe_client::{ErrorKind, LocalApi, RepoApi, Result};
use dpipe_core::role::Access;
use dpipe_core::wire::{AuditView, GrantView, PipeView, RemoteView, UpdateMode, WhoAmI};
use dpipe_testkit::services::s3::{self, S3Server};
use serde_json::{Map, Value, json};

/// AWS's answer to a request signed with an expired session token.
const EXPIRED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>ExpiredToken</Code>\
<Message>The provided token has expired.</Message><RequestId>4442587FB7D0A2F9</RequestId>\
<HostId>dpipe-test</HostId></Error>";

/// An HTTP server that answers every request with [`EXPIRED`]; returns its URL.
fn expired_token_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let reply = format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: application/xml\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{EXPIRED}",
                EXPIRED.len()
            );
            let _ = reader.get_mut().write_all(reply.as_bytes());
        }
    });
    url
}

/// Local mode whose `credentials` are replaced (per access) until renewed; counts renewals.
struct Expiring {
    inner: LocalApi,
    first: Mutex<Vec<(Access, Map<String, Value>)>>,
    /// What a renewal returns instead of the right credentials, when set.
    renew_to: Mutex<Option<Map<String, Value>>>,
    renewals: AtomicUsize,
}

impl Expiring {
    fn renewals(&self) -> usize {
        self.renewals.load(Ordering::SeqCst)
    }
}

impl RepoApi for Expiring {
    fn whoami(&self) -> Result<WhoAmI> {
        self.inner.whoami()
    }
    fn list_remotes(&self) -> Result<Vec<RemoteView>> {
        self.inner.list_remotes()
    }
    fn get_remote(&self, name: &str) -> Result<RemoteView> {
        self.inner.get_remote(name)
    }
    fn create_remote(&self, body: &Value) -> Result<RemoteView> {
        self.inner.create_remote(body)
    }
    fn update_remote(&self, name: &str, body: &Value, mode: UpdateMode) -> Result<RemoteView> {
        self.inner.update_remote(name, body, mode)
    }
    fn delete_remote(&self, name: &str) -> Result<()> {
        self.inner.delete_remote(name)
    }
    fn remote_credentials(&self, name: &str) -> Result<Value> {
        self.inner.remote_credentials(name)
    }
    fn list_pipes(&self) -> Result<Vec<PipeView>> {
        self.inner.list_pipes()
    }
    fn get_pipe(&self, name: &str) -> Result<PipeView> {
        self.inner.get_pipe(name)
    }
    fn create_pipe(&self, body: &Value) -> Result<PipeView> {
        self.inner.create_pipe(body)
    }
    fn update_pipe(&self, name: &str, body: &Value, mode: UpdateMode) -> Result<PipeView> {
        self.inner.update_pipe(name, body, mode)
    }
    fn delete_pipe(&self, name: &str) -> Result<()> {
        self.inner.delete_pipe(name)
    }
    fn grant(&self, pipe: &str, body: &Value) -> Result<GrantView> {
        self.inner.grant(pipe, body)
    }
    fn list_grants(&self, pipe: &str) -> Result<Vec<GrantView>> {
        self.inner.list_grants(pipe)
    }
    fn credentials(&self, pipe: &str, access: Access) -> Result<Map<String, Value>> {
        let first = self.first.lock().unwrap();
        match first.iter().find(|(a, _)| *a == access) {
            Some((_, creds)) => Ok(creds.clone()),
            None => self.inner.credentials(pipe, access),
        }
    }
    fn renew_credentials(&self, pipe: &str, access: Access) -> Result<Map<String, Value>> {
        self.renewals.fetch_add(1, Ordering::SeqCst);
        if let Some(creds) = self.renew_to.lock().unwrap().clone() {
            return Ok(creds);
        }
        self.first.lock().unwrap().retain(|(a, _)| *a != access);
        self.inner.renew_credentials(pipe, access)
    }
    fn audit(&self, pipe: &str, query: &dpipe_client::AuditQuery) -> Result<Vec<AuditView>> {
        self.inner.audit(pipe, query)
    }
}

/// Local mode in `dir` with pipe `p` on bucket `renew-bucket` (prefix `data`) of `server`, holding
/// `a.txt`; the right keys are stored, and `first` replaces the credentials per access.
fn setup(
    dir: &std::path::Path,
    server: &S3Server,
    first: Vec<(Access, Map<String, Value>)>,
) -> Expiring {
    let bucket = server.create_bucket("renew-bucket");
    std::fs::create_dir_all(bucket.join("data")).unwrap();
    std::fs::write(bucket.join("data/a.txt"), "alpha").unwrap();
    let inner = LocalApi::open(&dir.join("local.sqlite"), "me", "me@example.com").unwrap();
    inner
        .create_pipe(
            &json!({"name": "p", "protocol": "s3", "location": "renew-bucket",
            "settings": {"dir": "data", "endpoint": server.endpoint, "region": s3::REGION},
            "credentials": {"aws_access_key_id": s3::ACCESS_KEY,
                            "aws_secret_access_key": s3::SECRET_KEY}}),
        )
        .unwrap();
    Expiring {
        inner,
        first: Mutex::new(first),
        renew_to: Mutex::new(None),
        renewals: AtomicUsize::new(0),
    }
}

/// The right credentials with `key_id` and, if given, another endpoint.
fn altered(
    api: &Expiring,
    access: Access,
    key_id: &str,
    endpoint: Option<&str>,
) -> Map<String, Value> {
    let mut creds = api.inner.credentials("p", access).unwrap();
    creds.insert("aws_access_key_id".into(), json!(key_id));
    if let Some(url) = endpoint {
        creds.insert("endpoint".into(), json!(url));
        creds.insert("endpoint_url".into(), json!(url));
    }
    creds
}

/// s3s-fs answers an unknown key id with 403 `NotSignedUp` (AWS: `InvalidAccessKeyId`) and a
/// wrong secret with 403 `SignatureDoesNotMatch`: refused credentials, not expired ones.
#[test]
fn wrong_keys_are_not_expiry_and_are_not_renewed() {
    let server = S3Server::start();
    let dir = tempfile::tempdir().unwrap();
    let api = setup(dir.path(), &server, Vec::new());
    let unknown_id = altered(&api, Access::Read, "no-such-key", None);
    let mut wrong_secret = api.inner.credentials("p", Access::Read).unwrap();
    wrong_secret.insert("aws_secret_access_key".into(), json!("not-the-secret"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let syncer = Syncer::new(&api, dir.path().join("repo"), rt.handle().clone());
    for (creds, code) in [
        (unknown_id, "the access key id is unknown (NotSignedUp)"),
        (
            wrong_secret,
            "the secret key does not match (SignatureDoesNotMatch)",
        ),
    ] {
        api.first.lock().unwrap().push((Access::Read, creds));
        let err = syncer.pull("p", &SyncOptions::default()).unwrap_err();
        assert_eq!(api.renewals(), 0, "{err}");
        assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
        let text = err.to_string();
        assert!(
            text.contains("refused the credentials") && text.contains(code),
            "{text}"
        );
        assert!(!text.contains(s3::SECRET_KEY), "{text}");
        assert!(!dir.path().join("repo/p/a.txt").exists());
        api.first.lock().unwrap().clear();
    }
}

#[test]
fn expired_read_credentials_are_renewed_once_for_a_pull() {
    let server = S3Server::start();
    let expired = expired_token_server();
    let dir = tempfile::tempdir().unwrap();
    let api = setup(dir.path(), &server, Vec::new());
    let first = altered(&api, Access::Read, "ASIA-EXPIRED", Some(&expired));
    api.first.lock().unwrap().push((Access::Read, first));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let syncer = Syncer::new(&api, dir.path().join("repo"), rt.handle().clone());
    let report = syncer.pull("p", &SyncOptions::default()).unwrap();
    assert_eq!(api.renewals(), 1);
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("repo/p/a.txt")).unwrap(),
        "alpha"
    );
}

#[test]
fn expired_write_credentials_are_renewed_and_failed_files_retried() {
    let server = S3Server::start();
    let expired = expired_token_server();
    let dir = tempfile::tempdir().unwrap();
    let api = setup(dir.path(), &server, Vec::new());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let repo = dir.path().join("repo");
    let syncer = Syncer::new(&api, &repo, rt.handle().clone());
    syncer.pull("p", &SyncOptions::default()).unwrap();
    std::fs::write(repo.join("p/b.txt"), "bravo").unwrap();
    std::fs::write(repo.join("p/c.txt"), "charlie").unwrap();
    let first = altered(&api, Access::Write, "ASIA-EXPIRED", Some(&expired));
    api.first.lock().unwrap().push((Access::Write, first));

    let report = syncer.push("p", &SyncOptions::default()).unwrap();
    assert_eq!(api.renewals(), 1);
    assert!(report.is_complete(), "{report:?}");
    let moved: Vec<_> = report.transferred.iter().map(|t| t.path.as_str()).collect();
    assert_eq!(moved, ["b.txt", "c.txt"]);
    let bucket = server.root().join("renew-bucket/data");
    assert_eq!(
        std::fs::read_to_string(bucket.join("b.txt")).unwrap(),
        "bravo"
    );
    assert_eq!(
        std::fs::read_to_string(bucket.join("c.txt")).unwrap(),
        "charlie"
    );

    // Renewal that still answers expired: renewed once, not looped; the files are reported.
    std::fs::write(repo.join("p/d.txt"), "delta").unwrap();
    let again = altered(&api, Access::Write, "ASIA-EXPIRED", Some(&expired));
    api.first
        .lock()
        .unwrap()
        .push((Access::Write, again.clone()));
    *api.renew_to.lock().unwrap() = Some(again);
    let report = syncer.push("p", &SyncOptions::default()).unwrap();
    assert_eq!(api.renewals(), 2);
    assert_eq!(report.errors.len(), 1, "{report:?}");
    assert!(
        report.errors[0]
            .reason
            .contains("they expired (ExpiredToken)"),
        "{report:?}"
    );
    assert!(!bucket.join("d.txt").exists());
}
