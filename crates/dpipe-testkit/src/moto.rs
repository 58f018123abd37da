//! A real moto server (a local AWS with S3 and IAM) for tests: started once per test binary on
//! a free 127.0.0.1 port from the venv made by `scripts/install-moto.sh` (`DPIPE_MOTO_VENV`,
//! default `$HOME/.cache/dpipe-moto-venv`; a missing venv fails the tests, it does not skip
//! them), with IAM enforcement on, plus helpers that make admin users and look at its state as
//! an all-powerful root. Its log is `$TMPDIR/dpipe-moto-PORT.log`.
//!
//! Enforcement: `INITIAL_NO_AUTH_ACTION_COUNT=3` lets exactly the three bootstrap calls below
//! through unauthenticated (create the root user, give it `*:*`, create its key); every later
//! request is checked against the caller's IAM policies.

use std::io::ErrorKind as IoErrorKind;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_s3::error::ProvideErrorMetadata;
use dpipe_provision::{AccessKeyPair, AdminSession, PolicyDocument, SessionOptions};
use serde_json::{Value, json};

/// Requests moto serves without authentication: the bootstrap in [`bootstrap_root`].
const UNAUTHENTICATED_CALLS: &str = "3";
/// The region every session on moto uses.
pub const REGION: &str = "us-east-1";

/// A running moto server and the keys of its root user.
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    root: AccessKeyPair,
    /// Holds the watchdog's stdin open: when this process exits, the pipe closes and the
    /// watchdog kills moto, so no server outlives the tests.
    _watchdog: Mutex<Child>,
}

/// The shared server, started by the first test that needs it.
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(start)
}

fn start() -> Moto {
    let venv = std::env::var_os("DPIPE_MOTO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
                .join(".cache/dpipe-moto-venv")
        });
    let server = venv.join("bin/moto_server");
    assert!(
        server.is_file(),
        "moto is missing: {} does not exist; run `bash scripts/install-moto.sh` \
         (or point DPIPE_MOTO_VENV at a venv with moto[server])",
        server.display()
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::env::temp_dir().join(format!("dpipe-moto-{port}.log"));
    let mut watchdog = Command::new("sh")
        .arg("-c")
        // Background jobs of a non-interactive sh read /dev/null, so the watchdog reads the
        // pipe through fd 3; EOF on it (this process is gone) kills moto.
        .arg(r#"exec 3<&0; "$0" -H 127.0.0.1 -p "$1" </dev/null >"$2" 2>&1 & pid=$!; (cat <&3 >/dev/null; kill "$pid") & wait "$pid""#)
        .arg(&server)
        .arg(port.to_string())
        .arg(&log)
        .env("INITIAL_NO_AUTH_ACTION_COUNT", UNAUTHENTICATED_CALLS)
        .stdin(Stdio::piped())
        // Output goes to the log; the watchdog must not hold the test's stdout/stderr open.
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sh for moto_server");
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = watchdog.try_wait().unwrap() {
            panic!(
                "moto_server exited ({status}) before listening; see {}",
                log.display()
            );
        }
        assert!(
            Instant::now() < deadline,
            "moto_server did not listen within 60 s; see {}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let url = format!("http://127.0.0.1:{port}");
    // The SDK needs a Tokio runtime; tests each run their own, which cannot be re-entered.
    let root = std::thread::scope(|s| {
        s.spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(bootstrap_root(&url))
        })
        .join()
        .expect("bootstrap moto's root user")
    });
    Moto {
        url,
        root,
        _watchdog: Mutex::new(watchdog),
    }
}

/// Creates the root user through moto's unauthenticated window.
async fn bootstrap_root(url: &str) -> AccessKeyPair {
    let anonymous = session_at(url, &AccessKeyPair::new("bootstrap", "bootstrap")).await;
    let iam = anonymous.iam();
    iam.create_user()
        .user_name("root")
        .send()
        .await
        .expect("CreateUser root");
    let everything = json!({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    iam.put_user_policy()
        .user_name("root")
        .policy_name("everything")
        .policy_document(everything.to_string())
        .send()
        .await
        .expect("PutUserPolicy root");
    let key = iam
        .create_access_key()
        .user_name("root")
        .send()
        .await
        .expect("CreateAccessKey root");
    let key = key.access_key().unwrap();
    AccessKeyPair::new(key.access_key_id(), key.secret_access_key())
}

async fn session_at(url: &str, keys: &AccessKeyPair) -> AdminSession {
    AdminSession::load(SessionOptions {
        endpoint_url: Some(url.to_owned()),
        region: Some(REGION.to_owned()),
        credentials: Some(keys.clone()),
    })
    .await
    .expect("session")
}

/// A session on moto with `keys`.
pub async fn session(keys: &AccessKeyPair) -> AdminSession {
    session_at(&moto().url, keys).await
}

/// A session of moto's root user, allowed everything: for setting up and inspecting.
pub async fn root() -> AdminSession {
    session(&moto().root).await
}

/// A session of a new admin user `test-admin-{name}`: see [`admin_keys`].
pub async fn admin(name: &str, without: &[&str]) -> AdminSession {
    session(&admin_keys(name, without).await).await
}

/// The keys of a new admin user `test-admin-{name}` holding the documented admin policy
/// (`PolicyDocument::admin`) minus the actions in `without`.
///
/// Two adaptations to moto 5.2.5 only widen resources, never actions, so the documented
/// action list is what is tested: moto authorizes every IAM call against the resource `*`
/// (user ARNs never match), and `DeleteObjects` against the bucket ARN rather than each key.
pub async fn admin_keys(name: &str, without: &[&str]) -> AccessKeyPair {
    let mut policy = serde_json::to_value(PolicyDocument::admin()).unwrap();
    for statement in policy["Statement"].as_array_mut().unwrap() {
        let actions = statement["Action"].as_array_mut().unwrap();
        actions.retain(|a| !without.contains(&a.as_str().unwrap()));
        let is_iam = actions
            .iter()
            .any(|a| a.as_str().unwrap().starts_with("iam:"));
        let deletes_objects = actions.contains(&json!("s3:DeleteObject"));
        let resource = statement["Resource"].as_str().unwrap().to_owned();
        if is_iam {
            statement["Resource"] = json!("*");
        } else if deletes_objects {
            statement["Resource"] = json!([resource, resource.trim_end_matches("/*")]);
        }
    }
    user_with_policy(&format!("test-admin-{name}"), "dpipe-admin", &policy)
        .await
        .0
}

/// A new IAM user `name` with the inline policy `policy` (named `policy_name`): its access
/// keys and its ARN.
pub async fn user_with_policy(
    name: &str,
    policy_name: &str,
    policy: &Value,
) -> (AccessKeyPair, String) {
    let iam = root().await.iam().clone();
    let created = iam
        .create_user()
        .user_name(name)
        .send()
        .await
        .expect("CreateUser");
    let arn = created.user().expect("a user").arn().to_owned();
    iam.put_user_policy()
        .user_name(name)
        .policy_name(policy_name)
        .policy_document(policy.to_string())
        .send()
        .await
        .expect("PutUserPolicy");
    let key = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .expect("CreateAccessKey");
    let key = key.access_key().expect("an access key");
    (
        AccessKeyPair::new(key.access_key_id(), key.secret_access_key()),
        arn,
    )
}

/// The access key ids of `user`, `None` when the user does not exist.
pub async fn keys_of(user: &str) -> Option<Vec<String>> {
    match root()
        .await
        .iam()
        .list_access_keys()
        .user_name(user)
        .send()
        .await
    {
        Ok(out) => Some(
            out.access_key_metadata()
                .iter()
                .map(|k| k.access_key_id().unwrap().to_owned())
                .collect(),
        ),
        Err(err) if err.code() == Some("NoSuchEntity") => None,
        Err(err) => panic!("ListAccessKeys {user}: {err:?}"),
    }
}

/// Whether `user` exists, asked with `GetUser`.
pub async fn user_exists(user: &str) -> bool {
    match root().await.iam().get_user().user_name(user).send().await {
        Ok(_) => true,
        Err(err) if err.code() == Some("NoSuchEntity") => false,
        Err(err) => panic!("GetUser {user}: {err:?}"),
    }
}

/// Whether `bucket` exists, asked with `HeadBucket`.
pub async fn bucket_exists(bucket: &str) -> bool {
    match root().await.s3().head_bucket().bucket(bucket).send().await {
        Ok(_) => true,
        Err(err) if err.raw_response().map(|r| r.status().as_u16()) == Some(404) => false,
        Err(err) => panic!("HeadBucket {bucket}: {err:?}"),
    }
}

/// A 127.0.0.1 port nothing listens on.
pub fn closed_port() -> u16 {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    match TcpStream::connect(("127.0.0.1", port)) {
        Err(err) if err.kind() == IoErrorKind::ConnectionRefused => port,
        other => panic!("port {port} should be closed: {other:?}"),
    }
}

/// The JSON of a remote, for asserting on its shape.
pub fn json_of(remote: &dpipe_provision::ProvisionedRemote) -> Value {
    serde_json::to_value(remote).unwrap()
}
