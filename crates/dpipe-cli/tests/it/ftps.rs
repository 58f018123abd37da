//! FTPS end to end with the `dpipe` binary against real vsftpd servers, in local mode: a push
//! and a pull on an `ftps://` pipe (the test CA trusted through `SSL_CERT_FILE`); plain FTP
//! warns once per run that the password crosses the network in plain text, however many files
//! move; a remote with `tls: required` is refused by a server without TLS before any login
//! (exit 4) and works with one that offers it; a CA file that cannot be read is a clear error.

use std::path::Path;

use dpipe_testkit::services::ftp::{FtpServer, FtpTls, test_ca_file};

use crate::support::{Env, Run, create_ftp_pipe, create_pipe, local_profile};

/// The plain-text warning, as the CLI prints it for pipe `p`.
const PLAIN_TEXT_WARNING: &str = "warning: pipe p: FTP sends the password in plain text; use \
                                  ftps:// (or tls: required) if the server offers TLS";

/// Runs `dpipe args...` in `env`, trusting the test CA; it must succeed.
fn trusting(env: &Env, args: &[&str]) -> Run {
    let ca = test_ca_file().to_str().unwrap();
    let run = env.run_with(args, &[("SSL_CERT_FILE", ca)]);
    assert_eq!(run.code, 0, "dpipe {args:?}: {run:?}");
    run
}

/// Writes `files` (path, text) into the folder of pipe `p` under `repo`.
fn write_files(repo: &Path, files: &[(String, String)]) {
    for (path, text) in files {
        let path = repo.join("p").join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// A profile with pipe `p` on `server` at `location` (its files in `root`), logging in with
/// the test user's password.
fn ftp_pipe(server: &FtpServer, location: &str, root: &Path) -> (Env, std::path::PathBuf) {
    let env = Env::new();
    let repo = local_profile(&env);
    let dir = format!("dir={}", root.to_str().unwrap().trim_start_matches('/'));
    let user = format!("username={}", server.user.name);
    let password = format!("password={}", server.user.password);
    create_pipe(&env, "ftp", location, &[&dir], &[&user, &password], &[]);
    (env, repo)
}

#[test]
fn push_and_pull_over_ftps() {
    let server = FtpServer::start_with(FtpTls::Required);
    let work = server.user.workdir();
    let location = format!("ftps://{}", server.endpoint());
    let files = [("a.csv", "x,y\n1,2\n"), ("sub/b.txt", "bbbb")]
        .map(|(p, t)| (p.to_string(), t.to_string()));

    let (pusher, repo) = ftp_pipe(&server, &location, &work.path);
    write_files(&repo, &files);
    let pushed = trusting(&pusher, &["push", "--pipe", "p"]);
    assert!(!pushed.stderr.contains("warning"), "{pushed:?}");
    for (path, text) in &files {
        assert_eq!(
            &std::fs::read_to_string(work.path.join(path)).unwrap(),
            text
        );
    }

    let (puller, repo) = ftp_pipe(&server, &location, &work.path);
    let pulled = trusting(&puller, &["pull", "--pipe", "p"]);
    assert!(!pulled.stderr.contains("warning"), "{pulled:?}");
    for (path, text) in &files {
        assert_eq!(
            &std::fs::read_to_string(repo.join("p").join(path)).unwrap(),
            text
        );
    }
    assert!(
        server.log().contains("\"PROT P\""),
        "the data connections were protected"
    );
}

#[test]
fn an_unreadable_ca_file_is_a_clear_error() {
    let server = FtpServer::start_with(FtpTls::Required);
    let work = server.user.workdir();
    let (env, repo) = ftp_pipe(
        &server,
        &format!("ftps://{}", server.endpoint()),
        &work.path,
    );
    write_files(&repo, &[("a.csv".into(), "1\n".into())]);
    let missing = env.path().join("no-such-ca.pem");
    let missing = missing.to_str().unwrap();
    let run = env.run_with(&["push", "--pipe", "p"], &[("SSL_CERT_FILE", missing)]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains(&format!(
            "SSL_CERT_FILE names {missing}, which cannot be read"
        )),
        "{run:?}"
    );
    assert!(!server.log().contains("\"PASS"), "nothing was sent");
}

#[test]
fn plain_ftp_warns_once_per_run() {
    let server = FtpServer::start();
    let work = server.user.workdir();
    let env = Env::new();
    let repo = local_profile(&env);
    create_ftp_pipe(&env, &server, &work.path);
    let files: Vec<(String, String)> = (0..12)
        .map(|i| (format!("d{}/f{i}.csv", i % 3), format!("{i},{i}\n")))
        .collect();
    write_files(&repo, &files);
    let pushed = env.run(&["push", "--pipe", "p"]);
    assert_eq!(pushed.code, 0, "{pushed:?}");
    assert_eq!(
        pushed.stderr.matches(PLAIN_TEXT_WARNING).count(),
        1,
        "{pushed:?}"
    );
    assert_eq!(std::fs::read_dir(work.path.join("d1")).unwrap().count(), 4);
    // Another run warns again, once; with --json too (on stderr: stdout stays the report).
    std::fs::remove_dir_all(repo.join("p")).unwrap();
    let pulled = env.run(&["pull", "--pipe", "p", "--json"]);
    assert_eq!(pulled.code, 0, "{pulled:?}");
    assert_eq!(
        pulled.stderr.matches(PLAIN_TEXT_WARNING).count(),
        1,
        "{pulled:?}"
    );
    let report: serde_json::Value = serde_json::from_str(&pulled.stdout).unwrap();
    assert_eq!(report["transferred"].as_array().unwrap().len(), 12);
}

/// Creates remote `vendor` (FTP at `location`, `tls: required`, the test user's password, its
/// files under `root`) and pipe `p` on it.
fn remote_requiring_tls(env: &Env, server: &FtpServer, location: &str, root: &Path) {
    let dir = root.to_str().unwrap().trim_start_matches('/').to_string();
    let user = format!("username={}", server.user.name);
    let password = format!("password={}", server.user.password);
    env.ok(&[
        "remote",
        "upsert",
        "vendor",
        "--protocol",
        "ftp",
        "--location",
        location,
        "--dir",
        &dir,
        "--setting",
        "tls=required",
        "--credential",
        &user,
        "--credential",
        &password,
    ]);
    env.ok(&["pipe", "create", "--name", "p", "--remote", "vendor"]);
}

#[test]
fn a_remote_that_requires_tls() {
    // A server without TLS: refused before the login, exit 4, nothing moved.
    let plain = FtpServer::start_with(FtpTls::Off);
    let work = plain.user.workdir();
    let env = Env::new();
    let repo = local_profile(&env);
    remote_requiring_tls(&env, &plain, &plain.endpoint(), &work.path);
    write_files(&repo, &[("a.csv".into(), "1\n".into())]);
    let stderr = env.fails(
        &["push", "--pipe", "p"],
        4,
        "the FTP server does not offer TLS (AUTH TLS was refused",
    );
    assert!(stderr.contains("the password was not sent"), "{stderr}");
    assert!(!stderr.contains(plain.user.password), "{stderr}");
    let log = plain.log();
    assert!(log.contains("\"AUTH TLS\""), "{log}");
    assert!(!log.contains("\"USER") && !log.contains("\"PASS"), "{log}");
    assert!(!work.path.join("a.csv").exists());

    // A server that offers TLS: the same remote (another address) works, without a warning.
    let tls = FtpServer::start_with(FtpTls::Offered);
    let work = tls.user.workdir();
    let env = Env::new();
    let repo = local_profile(&env);
    remote_requiring_tls(&env, &tls, &tls.endpoint(), &work.path);
    write_files(&repo, &[("a.csv".into(), "1\n".into())]);
    let pushed = trusting(&env, &["push", "--pipe", "p"]);
    assert!(!pushed.stderr.contains("warning"), "{pushed:?}");
    assert_eq!(
        std::fs::read_to_string(work.path.join("a.csv")).unwrap(),
        "1\n"
    );
    assert!(tls.log().contains("\"AUTH TLS\""));
}
