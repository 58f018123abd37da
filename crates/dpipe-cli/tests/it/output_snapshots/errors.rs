//! The error messages a newcomer meets (issue 14), each with its exit code: a pipe name with a
//! typo and the close name suggested, the pipe given twice or not at all, a conflict refused,
//! `key show` without a key, the storage wrong (missing bucket, refused secret, unreachable
//! endpoint, missing folder), the repo API server unreachable, a wrong password and an
//! unknown user.

use dpipe_testkit::moto::closed_port;
use dpipe_testkit::server::TestServer;
use dpipe_testkit::services::s3::{self, S3Server};

use super::{Transcript, out_of_sync_pipe};
use crate::support::{
    Env, create_fs_pipe, create_listed_pipe, create_s3_pipe, local_profile, server_user,
};

#[test]
fn a_pipe_name_with_a_typo() {
    let env = Env::new();
    local_profile(&env);
    let store = env.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    create_fs_pipe(&env, &store, &[]);
    env.ok(&["pipe", "create", "--name", "sales", "--parent", "p"]);
    let mut t = Transcript::new(&env);
    for command in [
        &["pull"][..],
        &["push"],
        &["status"],
        &["scan", "remote"],
        &["files"],
    ] {
        t.run(&env, &[command, &["sale"]].concat());
    }
    t.run(&env, &["pull", "zzzzzz"]);
    t.check("pipe-typo");
}

#[test]
fn the_pipe_given_twice_or_not_at_all() {
    let env = Env::new();
    local_profile(&env);
    let mut t = Transcript::new(&env);
    t.run(&env, &["status", "p", "--pipe", "p"])
        .run(&env, &["status"])
        .run(&env, &["delete", "local"]);
    t.check("pipe-twice-or-missing");
}

#[test]
fn a_conflict_is_refused() {
    let env = Env::new();
    out_of_sync_pipe(&env);
    let mut t = Transcript::new(&env);
    t.run(&env, &["pull", "p"]).run(&env, &["push", "p"]);
    t.check("conflict-refused");
}

#[test]
fn key_show_without_a_key() {
    let env = Env::new();
    local_profile(&env);
    let mut t = Transcript::new(&env);
    t.run(&env, &["key", "show"]);
    t.check("key-show-without-key");
}

/// Creates pipe `name` on `bucket` at `endpoint` signed with the test server's key id and
/// `secret` (what [`create_s3_pipe`] does with a name, endpoint and secret of one's own).
fn s3_pipe(env: &Env, name: &str, endpoint: &str, bucket: &str, secret: &str) {
    let endpoint = format!("endpoint={endpoint}");
    let id = format!("aws_access_key_id={}", s3::ACCESS_KEY);
    let secret = format!("aws_secret_access_key={secret}");
    env.ok(&[
        "pipe",
        "create",
        "--name",
        name,
        "--protocol",
        "s3",
        "--location",
        bucket,
        "--setting",
        &endpoint,
        "--credential",
        &id,
        "--credential",
        &secret,
    ]);
}

#[test]
fn the_storage_is_wrong() {
    let server = S3Server::start();
    server.create_bucket("bkt");
    let closed = format!("http://127.0.0.1:{}", closed_port());
    let env = Env::new();
    local_profile(&env);
    create_s3_pipe(&env, &server, "no-such-bucket");
    s3_pipe(
        &env,
        "wrong-secret",
        &server.endpoint,
        "bkt",
        "wrong-secret-d41d8cd9",
    );
    s3_pipe(&env, "unreachable", &closed, "bkt", s3::SECRET_KEY);
    let missing = env.path().join("no-such-folder");
    let location = missing.to_str().unwrap();
    env.ok(&[
        "pipe",
        "create",
        "--name",
        "gone",
        "--protocol",
        "fs",
        "--location",
        location,
    ]);
    let mut t = Transcript::new(&env);
    t.scrub(&server.endpoint, "[S3]")
        .scrub(&closed, "[CLOSED]")
        .run(&env, &["pull", "p"])
        .run(&env, &["status", "p"])
        .run(&env, &["pull", "wrong-secret"])
        .run(&env, &["scan", "remote", "wrong-secret"])
        .run(&env, &["pull", "unreachable"])
        .run(&env, &["push", "unreachable"])
        .run(&env, &["pull", "gone"]);
    t.check("storage-errors");
}

#[test]
fn the_server_cannot_be_reached() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let env = Env::new();
    env.ok(&["profile", "init", "srv", "--server", &url]);
    env.ok(&["token", "set", "0123456789abcdef0123456789abcdef01234567"]);
    let mut t = Transcript::new(&env);
    t.scrub(&url, "[CLOSED]")
        .run(&env, &["pipe", "list"])
        .run(&env, &["pull", "demo"])
        .run(
            &env,
            &["login", "--username", "ann", "--password", "pw-ann-long"],
        );
    t.check("server-unreachable");
}

#[test]
fn a_wrong_password_and_an_unknown_user() {
    let server = TestServer::start();
    let ann = server_user(&server.url, "ann");
    create_listed_pipe(&ann, "demo");
    let mut t = Transcript::new(&ann);
    t.scrub(&server.url, "[SERVER]")
        .run(&ann, &["whoami"])
        .run(
            &ann,
            &["login", "--username", "ann", "--password", "wrong-password"],
        )
        .run(
            &ann,
            &[
                "perm", "grant", "demo", "--user", "nobody", "--role", "read",
            ],
        )
        .run(
            &ann,
            &["perm", "grant", "dmo", "--user", "ann", "--role", "read"],
        );
    t.check("wrong-password-and-unknown-user");
}
