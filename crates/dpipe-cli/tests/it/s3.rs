//! `dpipe s3 ...` end to end: the real binary against a real moto server (IAM enforced), with
//! the AWS admin keys passed to it in the standard environment variables. The settings it
//! prints work for the read and write users; `--upsert-remote` stores them as a remote; the
//! removals are idempotent; and wrong calls get their exit codes and leave nothing behind.

use std::future::Future;
use std::os::unix::fs::PermissionsExt;

use dpipe_provision::AccessKeyPair;
use dpipe_testkit::moto::{self, REGION, bucket_exists, closed_port, keys_of, user_exists};
use serde_json::Value;

use crate::support::{Env, Run};

fn block_on<T>(future: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// A new moto admin holding the documented admin policy minus `without`.
fn new_admin(name: &str, without: &[&str]) -> AccessKeyPair {
    block_on(moto::admin_keys(name, without))
}

/// Runs `dpipe args...` as `keys` against `endpoint`.
fn run_as(env: &Env, keys: &AccessKeyPair, endpoint: &str, args: &[&str]) -> Run {
    let mut all = args.to_vec();
    all.extend(["--endpoint-url", endpoint]);
    env.run_with(
        &all,
        &[
            ("AWS_ACCESS_KEY_ID", keys.aws_access_key_id.as_str()),
            ("AWS_SECRET_ACCESS_KEY", keys.secret()),
            ("AWS_REGION", REGION),
        ],
    )
}

/// Runs `dpipe args...` as `keys` against moto.
fn run(env: &Env, keys: &AccessKeyPair, args: &[&str]) -> Run {
    run_as(env, keys, &moto::moto().url, args)
}

fn succeeds(run: Run) -> Run {
    assert_eq!(run.code, 0, "{run:?}");
    run
}

/// The read or write keys of printed settings.
fn keys(settings: &Value, role: &str) -> AccessKeyPair {
    let keys = &settings["credentials"][role];
    AccessKeyPair::new(
        keys["aws_access_key_id"].as_str().unwrap(),
        keys["aws_secret_access_key"].as_str().unwrap(),
    )
}

/// Puts `key` with `keys`; the HTTP status of a refusal.
async fn put(keys: &AccessKeyPair, bucket: &str, key: &str) -> Result<(), u16> {
    let user = moto::session(keys).await;
    let put = user.s3().put_object().bucket(bucket).key(key);
    match put.body(b"a,b\n1,2\n".to_vec().into()).send().await {
        Ok(_) => Ok(()),
        Err(err) => Err(err.raw_response().map_or(0, |r| r.status().as_u16())),
    }
}

async fn get(keys: &AccessKeyPair, bucket: &str, key: &str) -> Vec<u8> {
    let user = moto::session(keys).await;
    let got = user.s3().get_object().bucket(bucket).key(key).send();
    let body = got.await.expect("GetObject").body.collect().await.unwrap();
    body.into_bytes().to_vec()
}

#[test]
fn prints_settings_that_work_then_removes_everything_idempotently() {
    let env = Env::new();
    let admin = new_admin("cli-print", &[]);
    let created = succeeds(run(
        &env,
        &admin,
        &["s3", "create-bucket-with-users", "cli-a"],
    ));
    let settings: Value = serde_json::from_str(&created.stdout).expect("JSON settings");
    assert_eq!(settings["name"], "cli-a");
    assert_eq!(settings["protocol"], "s3");
    assert_eq!(settings["location"], "dpipe-cli-a");
    assert_eq!(settings["settings"]["endpoint"], moto::moto().url.as_str());
    assert!(
        created.stderr.contains("warning") && created.stderr.contains("secret keys"),
        "{created:?}"
    );
    let (read, write) = (keys(&settings, "read"), keys(&settings, "write"));
    block_on(async {
        assert_eq!(
            keys_of("dpipe-cli-a-read").await.unwrap(),
            std::slice::from_ref(&read.aws_access_key_id)
        );
        put(&write, "dpipe-cli-a", "data/a.csv").await.unwrap();
        assert_eq!(get(&read, "dpipe-cli-a", "data/a.csv").await, b"a,b\n1,2\n");
        assert_eq!(put(&read, "dpipe-cli-a", "data/b.csv").await, Err(403));
    });

    // Again, into a file: the keys rotate, nothing secret reaches stdout.
    let file = env.path().join("cli-a.json");
    let file_arg = file.to_str().unwrap();
    let again = succeeds(run(
        &env,
        &admin,
        &[
            "s3",
            "create-bucket-with-users",
            "cli-a",
            "--output",
            file_arg,
        ],
    ));
    assert!(again.stdout.is_empty(), "{again:?}");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let rotated: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let new_write = keys(&rotated, "write");
    assert_ne!(new_write.aws_access_key_id, write.aws_access_key_id);
    assert_eq!(
        block_on(keys_of("dpipe-cli-a-write")).unwrap(),
        [new_write.aws_access_key_id]
    );

    // Removal: a bucket holding objects needs --force; every removal can be re-run.
    let refused = run(&env, &admin, &["s3", "delete-bucket", "dpipe-cli-a"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("not empty"), "{refused:?}");
    let removals: [&[&str]; 3] = [
        &["s3", "delete-bucket", "dpipe-cli-a", "--force"],
        &["s3", "delete-user", "dpipe-cli-a-read"],
        &["s3", "delete-user", "dpipe-cli-a-write"],
    ];
    for args in removals {
        let first = succeeds(run(&env, &admin, args));
        assert!(first.stderr.contains("Deleted"), "{first:?}");
        let second = succeeds(run(&env, &admin, args));
        assert!(second.stderr.contains("already absent"), "{second:?}");
    }
    block_on(async {
        assert!(!bucket_exists("dpipe-cli-a").await);
        assert!(!user_exists("dpipe-cli-a-read").await);
        assert!(!user_exists("dpipe-cli-a-write").await);
    });
}

#[test]
fn upsert_remote_stores_split_credentials_in_local_mode() {
    let env = Env::new();
    env.ok(&["profile", "init", "lap", "--local"]);
    let admin = new_admin("cli-upsert", &[]);
    let args = [
        "--json",
        "s3",
        "create-bucket-with-users",
        "cli-b",
        "--upsert-remote",
    ];
    let created = succeeds(run(&env, &admin, &args));
    let view: Value = serde_json::from_str(&created.stdout).expect("JSON remote");
    assert_eq!(view["name"], "cli-b");
    assert_eq!(view["credentials"], "split");
    let shown = env.json(&["remote", "show", "cli-b"]);
    assert_eq!(shown["credentials"], "split");
    assert_eq!(shown["protocol"], "s3");
    assert_eq!(shown["location"], "dpipe-cli-b");
    assert_eq!(shown["settings"]["endpoint"], moto::moto().url.as_str());
    let write_keys = block_on(keys_of("dpipe-cli-b-write")).unwrap();
    assert_eq!(write_keys.len(), 1);
    assert!(
        !created.stdout.contains(&write_keys[0]) && !created.stderr.contains(&write_keys[0]),
        "a key reached the output: {created:?}"
    );
}

#[test]
fn a_failed_upsert_still_hands_over_the_settings() {
    let env = Env::new();
    let server = format!("http://127.0.0.1:{}", closed_port());
    env.ok(&["profile", "init", "gone", "--server", &server]);
    let admin = new_admin("cli-half", &[]);
    let args = ["s3", "create-bucket-with-users", "cli-c", "--upsert-remote"];
    let half = run(&env, &admin, &args);
    assert_eq!(half.code, 5, "{half:?}");
    assert!(
        half.stderr.contains(
            "but storing remote cli-c failed; the settings with the new keys are printed"
        ),
        "{half:?}"
    );
    let settings: Value = serde_json::from_str(&half.stdout).expect("the settings on stdout");
    assert_eq!(
        block_on(keys_of("dpipe-cli-c-read")).unwrap(),
        [keys(&settings, "read").aws_access_key_id]
    );
}

#[test]
fn wrong_calls_get_their_exit_codes_and_create_nothing() {
    let env = Env::new();
    env.ok(&["profile", "init", "lap", "--local"]);
    let admin = new_admin("cli-wrong", &[]);
    let upsert = |name| ["s3", "create-bucket-with-users", name, "--upsert-remote"];

    let bad_name = run(&env, &admin, &upsert("Bad_Name"));
    assert_eq!(bad_name.code, 2, "{bad_name:?}");
    assert!(
        bad_name.stderr.contains("invalid remote name"),
        "{bad_name:?}"
    );
    let not_ours = run(&env, &admin, &["s3", "delete-user", "root"]);
    assert_eq!(not_ours.code, 2, "{not_ours:?}");

    let stranger = AccessKeyPair::new("AKIAIOSFODNN7EXAMPLE", "not-the-secret");
    let denied = run(&env, &stranger, &upsert("cli-d"));
    assert_eq!(denied.code, 4, "{denied:?}");
    // Half-way: the bucket and users are made, the keys are not; all of it is undone.
    let keyless = new_admin("cli-keyless", &["iam:CreateAccessKey"]);
    let halfway = run(&env, &keyless, &upsert("cli-e"));
    assert_eq!(halfway.code, 4, "{halfway:?}");
    assert!(halfway.stderr.contains("CreateAccessKey"), "{halfway:?}");

    let dead = format!("http://127.0.0.1:{}", closed_port());
    let unreachable = run_as(&env, &admin, &dead, &upsert("cli-f"));
    assert_eq!(unreachable.code, 5, "{unreachable:?}");
    assert!(
        unreachable.stderr.contains("could not reach"),
        "{unreachable:?}"
    );

    for run in [&bad_name, &denied, &halfway, &unreachable] {
        assert!(run.stdout.is_empty(), "{run:?}");
        assert!(!run.stderr.contains("not-the-secret"), "{run:?}");
    }
    assert_eq!(env.json(&["remote", "list"]), serde_json::json!([]));
    block_on(async {
        for name in ["cli-d", "cli-e", "cli-f"] {
            assert!(!bucket_exists(&format!("dpipe-{name}")).await, "{name}");
            assert!(!user_exists(&format!("dpipe-{name}-read")).await, "{name}");
        }
    });
}
