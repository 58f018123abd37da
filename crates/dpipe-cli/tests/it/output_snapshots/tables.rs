//! Every table and `key: value` listing the CLI prints in text mode, in local mode over a
//! folder (`fs`) remote: profiles, remotes, pipes, grants, the sync commands' reports, the
//! scans and listings, and the dry runs of the destructive commands.

use super::{Transcript, folder_pipe, out_of_sync_pipe, write_all};
use crate::support::{Env, local_profile};

/// A key of 43 base64url characters, so that its id is the same in every run.
const FIXED_KEY: &str = "c25hcHNob3Qta2V5LW9mLXRoZS1vdXRwdXQtdGVzdHM";

#[test]
fn profiles_and_whoami() {
    let env = Env::new();
    local_profile(&env);
    let srv_repo = env.path().join("srv-repo");
    let srv_repo = srv_repo.to_str().unwrap();
    let server = "http://127.0.0.1:8000";
    env.ok(&[
        "profile", "init", "srv", "--server", server, "--repo", srv_repo,
    ]);
    let mut t = Transcript::new(&env);
    t.run(&env, &["profile", "list"])
        .run(&env, &["profile", "show"])
        .run(&env, &["profile", "show", "srv"])
        .run(&env, &["whoami"]);
    t.check("profiles-and-whoami");
}

#[test]
fn remotes_pipes_and_grants() {
    let env = Env::new();
    local_profile(&env);
    // Not under the temporary home, so that the table shows it as it is; nothing here
    // reaches the storage.
    env.ok(&[
        "remote",
        "upsert",
        "store",
        "--protocol",
        "fs",
        "--location",
        "/srv/dpipe/store",
    ]);
    env.ok(&[
        "remote",
        "upsert",
        "vendor-s3",
        "--protocol",
        "s3",
        "--location",
        "vendor-bucket",
        "--dir",
        "exports",
        "--setting",
        "endpoint=http://127.0.0.1:9000",
        "--setting",
        "region=us-east-1",
        "--credential",
        "aws_access_key_id=AKIAEXAMPLE",
        "--credential",
        "aws_secret_access_key=not-a-real-secret",
    ]);
    env.ok(&["pipe", "create", "--name", "sales", "--remote", "store"]);
    env.ok(&["pipe", "create", "--name", "sales-eu", "--parent", "sales"]);
    env.ok(&[
        "pipe",
        "create",
        "--name",
        "vendor",
        "--remote",
        "vendor-s3",
    ]);
    let mut t = Transcript::new(&env);
    t.run(&env, &["remote", "list"])
        .run(&env, &["remote", "show", "vendor-s3"])
        .run(&env, &["pipe", "list"])
        .run(&env, &["pipe", "show", "sales"])
        .run(&env, &["pipe", "show", "sales-eu"])
        .run(&env, &["pipe", "credentials", "vendor"])
        .run(&env, &["perm", "list", "sales"])
        .run(
            &env,
            &[
                "perm",
                "grant",
                "sales",
                "--email",
                "carol@example.com",
                "--role",
                "read",
                "--expires",
                "2099-12-31",
            ],
        )
        .run(
            &env,
            &["perm", "grant", "sales", "--public", "--role", "read"],
        )
        .run(&env, &["perm", "list", "sales"])
        .run(&env, &["pipe", "delete", "sales"])
        .run(&env, &["remote", "delete", "store"]);
    t.check("remotes-pipes-and-grants");
}

#[test]
fn a_first_pull_and_the_listings_after_it() {
    let env = Env::new();
    folder_pipe(&env);
    let mut t = Transcript::new(&env);
    t.run(&env, &["status", "p"])
        .run(&env, &["pull", "p", "--preview"])
        .run(&env, &["pull", "p"])
        .run(&env, &["status", "p"])
        .run(&env, &["status", "p", "--exclude", "*.txt"])
        .run(&env, &["files", "p"])
        .run(&env, &["scan", "remote", "p"])
        .run(&env, &["scan", "local", "p"])
        .run(&env, &["list", "local"]);
    t.check("first-pull-and-listings");
}

#[test]
fn a_pipe_out_of_sync() {
    let env = Env::new();
    out_of_sync_pipe(&env);
    let mut t = Transcript::new(&env);
    t.run(&env, &["status", "p"])
        .run(&env, &["pull", "p", "--preview"])
        .run(&env, &["push", "p", "--preview"])
        .run(&env, &["pull", "p", "--merge", "keep"])
        .run(&env, &["status", "p"]);
    t.check("out-of-sync");
}

#[test]
fn dry_runs_of_destructive_commands() {
    let env = Env::new();
    let (local, _remote) = folder_pipe(&env);
    env.ok(&["pull", "p", "--quiet"]);
    write_all(&local, &[("orphan.csv", "only here")]);
    let mut t = Transcript::new(&env);
    t.run(&env, &["delete", "local", "p"])
        .run(&env, &["delete", "both", "p", "--files", "a.csv"])
        .run(&env, &["remove-orphans", "both", "p"])
        .run(&env, &["reset", "p", "--local-files"])
        .run(&env, &["pipe", "delete", "p", "--dry-run"]);
    t.check("dry-runs");
}

#[test]
fn keys() {
    let env = Env::new();
    local_profile(&env);
    let mut t = Transcript::new(&env);
    t.run(&env, &["key", "set", FIXED_KEY])
        .run(&env, &["key", "show"])
        .run(&env, &["profile", "show"])
        .run(&env, &["key", "rotate"]);
    let id = env.json(&["key", "show"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    t.scrub(&id, "[NEW-KEY-ID]");
    t.check("keys");
}
