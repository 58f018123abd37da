//! What `pull`, `push`, `status` and `scan remote` say when the storage itself is wrong: a
//! bucket or folder that does not exist (exit 3), credentials the storage refuses (exit 4), an
//! endpoint or server that cannot be reached (exit 5). Each is one short line that says what
//! is wrong and where, with no OpenDAL context dump and no secret; `RUST_LOG=debug` adds the
//! detail. Real servers on 127.0.0.1: s3s-fs, vsftpd, sshd; a closed port for "unreachable".

use dpipe_testkit::moto::closed_port;
use dpipe_testkit::services::ftp::FtpServer;
use dpipe_testkit::services::s3::{self, S3Server};
use dpipe_testkit::services::sftp::SftpServer;

use crate::support::{Env, Run, create_fs_pipe, create_pipe, create_s3_pipe, local_profile};

/// A secret that must never be printed.
const WRONG_SECRET: &str = "wrong-secret-d41d8cd98f00b204";

/// The commands that reach the pipe's storage, each on pipe `p`.
const COMMANDS: [&[&str]; 4] = [
    &["pull", "--pipe", "p"],
    &["push", "--pipe", "p"],
    &["status", "--pipe", "p"],
    &["scan", "remote", "p"],
];

/// Texts of OpenDAL's internal dump, and of a panic, none of which may reach the user.
const DUMP: [&str; 6] = [
    "Parts {",
    "service_operation",
    "context:",
    "S3Error",
    "Backtrace",
    "panicked",
];

/// `run` failed with `code`, saying all of `says` in one short line of stderr, with no dump
/// and no secret.
fn fails_in_one_line(run: &Run, code: i32, says: &[&str]) {
    assert_eq!(run.code, code, "{run:?}");
    let stderr = run.stderr.trim_end();
    assert_eq!(stderr.lines().count(), 1, "one line: {run:?}");
    assert!(stderr.len() < 300, "{} chars: {stderr}", stderr.len());
    assert!(stderr.starts_with("error: "), "{stderr}");
    for text in says {
        assert!(stderr.contains(text), "{text:?} missing: {stderr}");
    }
    for text in DUMP {
        assert!(!stderr.contains(text), "{text:?} shown: {stderr}");
    }
    for secret in [WRONG_SECRET, s3::SECRET_KEY] {
        assert!(!run.stderr.contains(secret), "a secret shown: {run:?}");
        assert!(!run.stdout.contains(secret), "a secret shown: {run:?}");
    }
}

/// Every command of [`COMMANDS`] fails on pipe `p` of `env` with `code`, saying `says`.
fn every_command_fails(env: &Env, code: i32, says: &[&str]) {
    for args in COMMANDS {
        let run = env.run(args);
        fails_in_one_line(&run, code, says);
    }
}

/// Pipe `p` on `bucket` at `endpoint`, signed with `secret`.
fn s3_pipe(env: &Env, endpoint: &str, bucket: &str, secret: &str) {
    let endpoint = format!("endpoint={endpoint}");
    let id = format!("aws_access_key_id={}", s3::ACCESS_KEY);
    let secret = format!("aws_secret_access_key={secret}");
    create_pipe(env, "s3", bucket, &[&endpoint], &[&id, &secret], &[]);
}

#[test]
fn a_missing_bucket_is_named_with_its_endpoint() {
    let server = S3Server::start();
    let env = Env::new();
    local_profile(&env);
    create_s3_pipe(&env, &server, "no-such-bucket");
    let says = format!(
        "bucket no-such-bucket does not exist on {}",
        server.endpoint
    );
    every_command_fails(&env, 3, &[&says, "check the location"]);
    assert!(
        !server.root().join("no-such-bucket").exists(),
        "nothing was created"
    );
}

#[test]
fn a_wrong_secret_is_refused_credentials() {
    let server = S3Server::start();
    server.create_bucket("bkt");
    let env = Env::new();
    local_profile(&env);
    s3_pipe(&env, &server.endpoint, "bkt", WRONG_SECRET);
    let refused = format!(
        "pipe p (read credentials): the storage at {} refused the credentials",
        server.endpoint
    );
    every_command_fails(
        &env,
        4,
        &[
            &refused,
            "the secret key does not match",
            "check the credentials of the pipe or its remote",
        ],
    );
}

#[test]
fn an_endpoint_with_nothing_listening_cannot_be_reached() {
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let env = Env::new();
    local_profile(&env);
    s3_pipe(&env, &endpoint, "bkt", s3::SECRET_KEY);
    let says = format!("pipe p: cannot reach {endpoint}: connection refused");
    every_command_fails(&env, 5, &[&says]);
}

#[test]
fn a_folder_remote_whose_folder_is_missing_is_not_found_and_not_created() {
    let env = Env::new();
    local_profile(&env);
    let remote = env.path().join("no-such-folder");
    create_fs_pipe(&env, &remote, &[]);
    let says = format!("folder {} does not exist", remote.display());
    every_command_fails(&env, 3, &[&says]);
    assert!(!remote.exists(), "the folder was created");
}

#[test]
fn ftp_refused_login_and_unreachable_server() {
    let server = FtpServer::start();
    let env = Env::new();
    local_profile(&env);
    let user = format!("username={}", server.user.name);
    let password = format!("password={WRONG_SECRET}");
    create_pipe(
        &env,
        "ftp",
        &server.endpoint(),
        &[],
        &[&user, &password],
        &[],
    );
    let run = env.run(&["pull", "--pipe", "p"]);
    fails_in_one_line(
        &run,
        4,
        &[
            "pipe p (read credentials): the FTP server refused the credentials",
            "login incorrect",
            "check the credentials of the pipe or its remote",
        ],
    );

    let env = Env::new();
    local_profile(&env);
    let closed = format!("127.0.0.1:{}", closed_port());
    create_pipe(&env, "ftp", &closed, &[], &[&user, &password], &[]);
    let run = env.run(&["pull", "--pipe", "p"]);
    fails_in_one_line(
        &run,
        5,
        &["cannot reach the FTP server: connection refused"],
    );
}

#[test]
fn sftp_refused_login_and_unreachable_server() {
    let server = SftpServer::start();
    let key = format!("private_key={}", server.key_text());
    let env = Env::new();
    local_profile(&env);
    let args = ["username=no-such-user", &key];
    create_pipe(&env, "sftp", &server.endpoint(), &[], &args, &[]);
    let run = env.run(&["pull", "--pipe", "p"]);
    let refused = format!(
        "pipe p (read credentials): the SFTP server at {} refused the login of user no-such-user (tried: publickey)",
        server.endpoint()
    );
    fails_in_one_line(
        &run,
        4,
        &[&refused, "check the credentials of the pipe or its remote"],
    );
    assert!(!run.stderr.contains("PRIVATE KEY"), "{run:?}");

    let env = Env::new();
    local_profile(&env);
    let closed = format!("127.0.0.1:{}", closed_port());
    create_pipe(&env, "sftp", &closed, &[], &args, &[]);
    let run = env.run(&["pull", "--pipe", "p"]);
    let unreachable = format!("cannot reach the SFTP server at {closed}: connection refused");
    fails_in_one_line(&run, 5, &[&unreachable]);
}

#[test]
fn rust_log_debug_adds_the_detail_without_secrets() {
    let server = S3Server::start();
    server.create_bucket("bkt");
    let env = Env::new();
    local_profile(&env);
    s3_pipe(&env, &server.endpoint, "bkt", WRONG_SECRET);
    let run = env.run_with(&["pull", "--pipe", "p"], &[("RUST_LOG", "debug")]);
    assert_eq!(run.code, 4, "{run:?}");
    let (first, detail) = run.stderr.split_once('\n').expect("more than one line");
    assert!(first.contains("refused the credentials"), "{run:?}");
    for text in [
        "detail:\n  operation: scan\n",
        "SignatureDoesNotMatch",
        "service_operation",
        "status: 403",
    ] {
        assert!(detail.contains(text), "{text:?} missing: {run:?}");
    }
    assert!(
        !run.stderr.contains(WRONG_SECRET),
        "a secret shown: {run:?}"
    );
}
