//! What the attack tests share: minted keys as an SDK client, the operations they try, and
//! the world (a server, its users, their pipes) with a snapshot of the storage folder.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_s3::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_s3::error::{BoxError, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresignedRequest;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, Delete, ObjectIdentifier};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use dpipe_core::role::Access;
use dpipe_testkit::files::files_under;
use dpipe_testkit::harness::{Harness, ServerHarness, User};
use serde_json::{Map, Value, json};

/// The managed bucket of the test server.
pub(super) const BUCKET: &str = "dpipe";

/// Minted keys, as the credentials endpoint released them (or tampered with by the test).
#[derive(Clone)]
pub(super) struct Keys {
    pub(super) id: String,
    pub(super) secret: String,
    pub(super) token: Option<String>,
    pub(super) endpoint: String,
    pub(super) region: String,
}

impl Keys {
    pub(super) fn of(creds: &Map<String, Value>) -> Keys {
        let field = |name: &str| {
            creds[name]
                .as_str()
                .unwrap_or_else(|| panic!("{name} in the credentials"))
                .to_owned()
        };
        Keys {
            id: field("aws_access_key_id"),
            secret: field("aws_secret_access_key"),
            token: Some(field("aws_session_token")),
            endpoint: field("endpoint_url"),
            region: field("region_name"),
        }
    }

    pub(super) fn with_id(&self, id: &str) -> Keys {
        Keys {
            id: id.to_owned(),
            ..self.clone()
        }
    }

    pub(super) fn with_secret(&self, secret: &str) -> Keys {
        Keys {
            secret: secret.to_owned(),
            ..self.clone()
        }
    }

    pub(super) fn with_token(&self, token: Option<&str>) -> Keys {
        Keys {
            token: token.map(str::to_owned),
            ..self.clone()
        }
    }

    /// A client signing with these keys: path-style, no retries, plain http (the TLS trust
    /// store, and so the machine's `AWS_CA_BUNDLE`, which the Rust SDK ignores anyway, plays
    /// no part).
    pub(super) fn client(&self) -> aws_sdk_s3::Client {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let credentials =
            Credentials::new(&self.id, &self.secret, self.token.clone(), None, "minted");
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .endpoint_url(&self.endpoint)
            .force_path_style(true)
            .credentials_provider(credentials)
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .http_client(http)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}

/// One request to the endpoint. Keys and prefixes are in [`BUCKET`] unless a variant names
/// its bucket.
#[derive(Debug, Clone, Copy)]
pub(super) enum Op<'a> {
    Get(&'a str),
    Head(&'a str),
    Put(&'a str),
    Delete(&'a str),
    DeleteMany(&'a [&'a str]),
    /// ListObjectsV2; `None` sends no parameter at all.
    List(Option<&'a str>, Option<&'a str>),
    /// ListObjects (v1) under a prefix (`None`: none sent).
    ListV1(Option<&'a str>),
    CreateUpload(&'a str),
    UploadPart(&'a str, &'a str),
    CompleteUpload(&'a str, &'a str),
    AbortUpload(&'a str, &'a str),
    ListParts(&'a str, &'a str),
    ListUploads,
    /// CopyObject into `.1` from `.0` (a key of [`BUCKET`]).
    Copy(&'a str, &'a str),
    CreateBucket(&'a str),
    DeleteBucket(&'a str),
    HeadBucket(&'a str),
    ListBuckets,
    GetIn(&'a str, &'a str),
    PutIn(&'a str, &'a str),
    ListIn(&'a str, &'a str),
    /// A GetObject (PutObject when `write`) signed for `key` and sent with the request path
    /// `wire` (percent-encoded differently): the signature only holds if the server decodes
    /// `wire` into the path that was signed.
    Rewired {
        key: &'a str,
        wire: &'a str,
        write: bool,
    },
}

impl Op<'_> {
    /// HEAD answers have no body, so no error code: only the status tells.
    pub(super) fn is_head(&self) -> bool {
        matches!(self, Op::Head(_) | Op::HeadBucket(_))
    }
}

/// A refused request: status, and the S3 error code and message of its body.
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) status: u16,
    pub(super) code: Option<String>,
    pub(super) message: Option<String>,
}

pub(super) fn outcome<T, E: ProvideErrorMetadata>(
    result: Result<T, SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
) -> Result<(), Failure> {
    match result {
        Ok(_) => Ok(()),
        Err(err) => Err(Failure {
            status: err.raw_response().map_or(0, |r| r.status().as_u16()),
            code: err.code().map(str::to_owned),
            message: err.message().map(str::to_owned),
        }),
    }
}

/// Swaps the request path for another spelling after the SDK has signed it.
#[derive(Debug)]
pub(super) struct Rewire {
    pub(super) signed: String,
    pub(super) wire: String,
}

impl Intercept for Rewire {
    fn name(&self) -> &'static str {
        "Rewire"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let uri = request.uri().to_owned();
        let rewired = uri.replacen(&self.signed, &self.wire, 1);
        assert_ne!(rewired, uri, "{} is not in {uri}", self.signed);
        request.set_uri(rewired)?;
        Ok(())
    }
}

pub(super) fn body() -> ByteStream {
    ByteStream::from_static(b"written by an attack")
}

pub(super) fn identifiers(keys: &[&str]) -> Delete {
    let objects = keys
        .iter()
        .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
        .collect();
    Delete::builder()
        .set_objects(Some(objects))
        .build()
        .unwrap()
}

pub(super) async fn send(c: &aws_sdk_s3::Client, op: Op<'_>) -> Result<(), Failure> {
    let b = BUCKET;
    let op = match op {
        Op::Get(key) => Op::GetIn(b, key),
        Op::Put(key) => Op::PutIn(b, key),
        op => op,
    };
    match op {
        Op::GetIn(bucket, key) => outcome(c.get_object().bucket(bucket).key(key).send().await),
        Op::PutIn(bucket, key) => outcome(
            c.put_object()
                .bucket(bucket)
                .key(key)
                .body(body())
                .send()
                .await,
        ),
        Op::Get(_) | Op::Put(_) => unreachable!("spelt with the bucket above"),
        Op::Head(key) => outcome(c.head_object().bucket(b).key(key).send().await),
        Op::Delete(key) => outcome(c.delete_object().bucket(b).key(key).send().await),
        Op::DeleteMany(keys) => outcome(
            c.delete_objects()
                .bucket(b)
                .delete(identifiers(keys))
                .send()
                .await,
        ),
        Op::List(prefix, delimiter) => outcome(
            c.list_objects_v2()
                .bucket(b)
                .set_prefix(prefix.map(str::to_owned))
                .set_delimiter(delimiter.map(str::to_owned))
                .send()
                .await,
        ),
        Op::ListIn(bucket, prefix) => outcome(
            c.list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .send()
                .await,
        ),
        Op::ListV1(prefix) => outcome(
            c.list_objects()
                .bucket(b)
                .set_prefix(prefix.map(str::to_owned))
                .send()
                .await,
        ),
        Op::CreateUpload(key) => {
            outcome(c.create_multipart_upload().bucket(b).key(key).send().await)
        }
        Op::UploadPart(key, id) => outcome(
            c.upload_part()
                .bucket(b)
                .key(key)
                .upload_id(id)
                .part_number(1)
                .body(body())
                .send()
                .await,
        ),
        Op::CompleteUpload(key, id) => outcome(
            c.complete_multipart_upload()
                .bucket(b)
                .key(key)
                .upload_id(id)
                .multipart_upload(CompletedMultipartUpload::builder().build())
                .send()
                .await,
        ),
        Op::AbortUpload(key, id) => outcome(
            c.abort_multipart_upload()
                .bucket(b)
                .key(key)
                .upload_id(id)
                .send()
                .await,
        ),
        Op::ListParts(key, id) => {
            outcome(c.list_parts().bucket(b).key(key).upload_id(id).send().await)
        }
        Op::ListUploads => outcome(c.list_multipart_uploads().bucket(b).send().await),
        Op::Copy(from, to) => outcome(
            c.copy_object()
                .bucket(b)
                .key(to)
                .copy_source(format!("{b}/{from}"))
                .send()
                .await,
        ),
        Op::CreateBucket(bucket) => outcome(c.create_bucket().bucket(bucket).send().await),
        Op::DeleteBucket(bucket) => outcome(c.delete_bucket().bucket(bucket).send().await),
        Op::HeadBucket(bucket) => outcome(c.head_bucket().bucket(bucket).send().await),
        Op::ListBuckets => outcome(c.list_buckets().send().await),
        Op::Rewired { key, wire, write } => {
            let rewire = Rewire {
                signed: format!("/{b}/{key}"),
                wire: wire.to_owned(),
            };
            if write {
                outcome(
                    c.put_object()
                        .bucket(b)
                        .key(key)
                        .body(body())
                        .customize()
                        .interceptor(rewire)
                        .send()
                        .await,
                )
            } else {
                outcome(
                    c.get_object()
                        .bucket(b)
                        .key(key)
                        .customize()
                        .interceptor(rewire)
                        .send()
                        .await,
                )
            }
        }
    }
}

/// The status S3 answers an error code with.
pub(super) fn status_of(code: &str) -> u16 {
    match code {
        "ExpiredToken" => 400,
        "NotImplemented" => 501,
        _ => 403,
    }
}

/// What is in the store, seen from outside: every file under the storage folder with its
/// size, and the owners' listings of their pipes.
#[derive(Debug, PartialEq)]
pub(super) struct Snapshot {
    pub(super) files: BTreeMap<PathBuf, u64>,
    pub(super) listings: Vec<(String, u64, String)>,
}

/// A server with two owners' managed pipes and files in them:
///
/// * ann's `demo` (`a.csv`, `sub/b.csv`), `demo-2` (`c.csv`: `ann/demo` as a bare prefix
///   would match it) and `other` (`x`);
/// * bob's `data` (`y`), and `bob/demo/x`, left by bob's pipe `demo`, deleted before ann
///   took the name (pipe names are unique across owners).
pub(super) struct World {
    pub(super) h: ServerHarness,
    pub(super) ann: User,
    pub(super) bob: User,
    pub(super) rt: tokio::runtime::Runtime,
}

impl World {
    pub(super) fn new() -> World {
        let h = ServerHarness::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (ann, bob) = (h.user("ann"), h.user("bob"));
        let world = World { ann, bob, h, rt };
        let (ann, bob) = (&world.ann, &world.bob);
        let seed = |owner: &User, pipe: &str, keys: &[&str]| {
            owner.create_pipe(&json!({"name": pipe})).unwrap();
            let writer = world.keys(owner, pipe, Access::Write);
            assert_eq!(writer.endpoint, world.h.server.storage_url);
            for key in keys {
                world.ok(&writer, Op::Put(key));
            }
        };
        seed(bob, "demo", &["bob/demo/x"]);
        bob.delete_pipe("demo").unwrap();
        seed(ann, "demo", &["ann/demo/a.csv", "ann/demo/sub/b.csv"]);
        seed(ann, "demo-2", &["ann/demo-2/c.csv"]);
        seed(ann, "other", &["ann/other/x"]);
        seed(bob, "data", &["bob/data/y"]);
        world
    }

    pub(super) fn run<F: Future>(&self, future: F) -> F::Output {
        self.rt.block_on(future)
    }

    pub(super) fn keys(&self, user: &User, pipe: &str, access: Access) -> Keys {
        Keys::of(&user.credentials(pipe, access).unwrap())
    }

    pub(super) fn attempt(&self, keys: &Keys, op: Op<'_>) -> Result<(), Failure> {
        self.run(async { send(&keys.client(), op).await })
    }

    #[track_caller]
    pub(super) fn ok(&self, keys: &Keys, op: Op<'_>) {
        if let Err(failure) = self.attempt(keys, op) {
            panic!("{op:?} with {}: {failure:?}", keys.id);
        }
    }

    /// Asserts that `op` with `keys` is refused with `code`; returns the refusal.
    #[track_caller]
    pub(super) fn refused(&self, keys: &Keys, op: Op<'_>, code: &str) -> Failure {
        let failure = match self.attempt(keys, op) {
            Ok(()) => panic!(
                "HOLE: {op:?} with {} went through, expected {code}",
                keys.id
            ),
            Err(failure) => failure,
        };
        assert_eq!(failure.status, status_of(code), "{op:?}: {failure:?}");
        if !op.is_head() {
            assert_eq!(failure.code.as_deref(), Some(code), "{op:?}: {failure:?}");
        }
        failure
    }

    /// The storage folder's files and sizes, and the owners' listings of `ann/demo/` and
    /// `bob/data/` with write keys minted now (minting touches the registry, not storage).
    pub(super) fn snapshot(&self) -> Snapshot {
        let root = self.h.server.data_dir.join("storage");
        let files = files_under(&root);
        let mut listings = Vec::new();
        for (owner, pipe) in [(&self.ann, "demo"), (&self.bob, "data")] {
            let client = self.keys(owner, pipe, Access::Write).client();
            let prefix = format!("{}/{pipe}/", owner.username);
            let page = self
                .run(
                    client
                        .list_objects_v2()
                        .bucket(BUCKET)
                        .prefix(prefix)
                        .send(),
                )
                .unwrap();
            listings.extend(page.contents().iter().map(|o| {
                let key = o.key().unwrap_or_default().to_owned();
                let etag = o.e_tag().unwrap_or_default().to_owned();
                (key, o.size().unwrap_or(-1) as u64, etag)
            }));
        }
        Snapshot { files, listings }
    }

    /// A presigned request, sent by hand (`connection: close`): its status and body.
    pub(super) fn presigned(&self, request: &PresignedRequest) -> (u16, String) {
        let target = request
            .uri()
            .strip_prefix(&self.h.server.storage_url)
            .unwrap_or_else(|| panic!("{} is not on the endpoint", request.uri()));
        let mut headers: Vec<(String, String)> = request
            .headers()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        if request.method() == "PUT" {
            headers.push(("content-length".into(), "0".into()));
        }
        raw(
            &self.h.server.storage_url,
            request.method(),
            target,
            &headers,
        )
    }
}

/// One unsigned HTTP/1.1 request with no body: its status and body.
pub(super) fn raw(
    endpoint: &str,
    method: &str,
    target: &str,
    headers: &[(String, String)],
) -> (u16, String) {
    let host = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request =
        format!("{method} {target} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer)
}
