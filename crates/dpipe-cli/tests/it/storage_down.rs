//! Storage that goes away in the middle of a pull or a push (issue 13, item 2): the run waits
//! the storage out for `--give-up-after` (small here), then stops every transfer, says so in
//! one line — where, why, how many files went through, that a rerun continues — and exits 5;
//! never a line per file. The files that went through stay recorded: once the storage is back,
//! a rerun moves the rest.
//!
//! The server is stopped while files are still moving, caught by polling the folder the files
//! arrive in, never by sleeping in dpipe. How long the run takes after the stop is checked
//! against a generous guard (the bound + 20 s), not measured.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use dpipe_testkit::services::ftp::FtpServer;
use dpipe_testkit::services::s3::S3Server;
use dpipe_testkit::services::sftp::SftpServer;

use crate::support::{Env, create_ftp_pipe, create_s3_pipe, create_sftp_pipe, local_profile};

/// Files of the pipe: enough that a run is caught with some but not all of them moved.
const FILES: usize = 400;
/// The bound given to the runs, in seconds.
const BOUND: u64 = 3;
/// How long after the stop a run may take to end, at most (a guard, not a measurement).
const GUARD: Duration = Duration::from_secs(BOUND + 20);

fn name(i: usize) -> String {
    format!("d/f{i:04}.bin")
}

/// Writes the pipe's files under `root`.
fn write_files(root: &Path) {
    std::fs::create_dir_all(root.join("d")).unwrap();
    for i in 0..FILES {
        std::fs::write(root.join(name(i)), vec![i as u8; 16 << 10]).unwrap();
    }
}

/// The files under `root/d` at their final names, and all of them with dpipe's temporary
/// files of downloads in progress.
fn arrived(root: &Path) -> (usize, usize) {
    let Ok(entries) = std::fs::read_dir(root.join("d")) else {
        return (0, 0);
    };
    let names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let finals = names.iter().filter(|n| !n.starts_with('.')).count();
    (finals, names.len())
}

/// How the small bound is given: by the flag, or by the environment variable.
#[derive(Clone, Copy)]
enum Bound {
    Flag,
    Env,
}

/// Starts `dpipe verb --pipe p` with the small bound, its stderr captured.
fn start(env: &Env, verb: &str, given: Bound) -> Child {
    let bound = format!("{BOUND}s");
    let mut args = vec![verb, "--pipe", "p", "--transfers", "2"];
    let mut command = match given {
        Bound::Flag => {
            args.extend(["--give-up-after", &bound]);
            env.command(&args)
        }
        Bound::Env => {
            let mut command = env.command(&args);
            command.env("DPIPE_GIVE_UP_AFTER", &bound);
            command
        }
    };
    command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `target` holds some files of the run (`started` of them on their way) but not
/// all at their final names, then calls `stop`; returns the run's exit code and stderr.
fn stop_midway(
    mut child: Child,
    target: &Path,
    started: usize,
    stop: impl FnOnce(),
) -> (i32, String) {
    let begun = Instant::now();
    loop {
        let (finals, all) = arrived(target);
        if all >= started && finals < FILES {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before the storage was stopped: {finals} arrived");
        }
        assert!(begun.elapsed() < Duration::from_secs(120), "the run hangs");
        std::thread::sleep(Duration::from_millis(2));
    }
    stop();
    let stopped = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if stopped.elapsed() > GUARD {
            let _ = child.kill();
            panic!("the run still went on {GUARD:?} after the storage was stopped");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status.code().expect("dpipe exited"), stderr)
}

/// The run ended with exit code 5 and one line on stderr naming `place` and saying how many
/// of the files went through (`verb`ed); returns that count.
fn gave_up_in_one_line(code: i32, stderr: &str, place: &str, verb: &str) -> usize {
    assert_eq!(code, 5, "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line, not one per file: {stderr}");
    let line = lines[0];
    let start = format!("error: pipe p: cannot reach {place}: ");
    assert!(line.starts_with(&start), "{line}");
    let tail = format!(" of {FILES} files {verb}ed; rerun to continue");
    assert!(line.ends_with(&tail), "{line}");
    let count = line[..line.len() - tail.len()]
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(count < FILES, "{line}");
    count
}

/// A local-mode profile with pipe `p` on bucket `down-bucket` of a server over `root`
/// (`<env>/s3`, made here, so that a restarted server finds the same objects).
fn s3_pipe(env: &Env, root: &Path) -> (S3Server, PathBuf) {
    std::fs::create_dir_all(root).unwrap();
    local_profile(env);
    let server = S3Server::start_with(Some(root), 0);
    let bucket = server.create_bucket("down-bucket");
    create_s3_pipe(env, &server, "down-bucket");
    (server, bucket.join("data"))
}

#[test]
fn a_push_stops_in_one_line_when_s3_goes_away_and_a_rerun_continues() {
    let env = Env::new();
    let root = env.path().join("s3");
    let (server, remote) = s3_pipe(&env, &root);
    let local = env.path().join("repo/p");
    write_files(&local);
    let port = server.addr().port();
    let endpoint = server.endpoint.clone();

    let child = start(&env, "push", Bound::Flag);
    let (code, stderr) = stop_midway(child, &remote, 10, || drop(server));
    let pushed = gave_up_in_one_line(code, &stderr, &endpoint, "push");

    // Back on the same port: the rerun pushes the rest, and only the rest.
    let _server = S3Server::start_with(Some(&root), port);
    let rerun = env.json(&["push", "--pipe", "p"]);
    let moved = rerun["transferred"].as_array().unwrap().len();
    assert!(
        moved <= FILES - pushed,
        "{pushed} were recorded, {moved} moved again"
    );
    assert_eq!(arrived(&remote).0, FILES);
    assert_eq!(env.json(&["status", "--pipe", "p"])["in_sync"], true);
}

#[test]
fn a_pull_stops_in_one_line_when_s3_goes_away_and_a_rerun_continues() {
    let env = Env::new();
    let root = env.path().join("s3");
    let (server, remote) = s3_pipe(&env, &root);
    write_files(&remote);
    let local = env.path().join("repo/p");
    let port = server.addr().port();
    let endpoint = server.endpoint.clone();

    let child = start(&env, "pull", Bound::Flag);
    let (code, stderr) = stop_midway(child, &local, 10, || drop(server));
    let pulled = gave_up_in_one_line(code, &stderr, &endpoint, "pull");
    assert_eq!(arrived(&local).0, pulled, "what was pulled is in place");

    let _server = S3Server::start_with(Some(&root), port);
    let rerun = env.json(&["pull", "--pipe", "p"]);
    assert_eq!(
        rerun["transferred"].as_array().unwrap().len(),
        FILES - pulled
    );
    assert_eq!(arrived(&local).0, FILES);
}

#[test]
fn a_push_waits_out_a_server_that_restarts() {
    let env = Env::new();
    let root = env.path().join("s3");
    let (server, remote) = s3_pipe(&env, &root);
    let local = env.path().join("repo/p");
    write_files(&local);
    let port = server.addr().port();

    // The default bound: the server is back long before it.
    let child = env
        .command(&["push", "--pipe", "p", "--transfers", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut restarted = None;
    let (code, stderr) = stop_midway(child, &remote, 10, || {
        drop(server);
        restarted = Some(S3Server::start_with(Some(&root), port));
    });
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr, "");
    assert_eq!(arrived(&remote).0, FILES);
}

#[test]
fn a_push_stops_in_one_line_when_the_ftp_server_goes_away() {
    let server = FtpServer::start();
    let work = server.user.workdir();
    let env = Env::new();
    let repo = local_profile(&env);
    create_ftp_pipe(&env, &server, &work.path);
    write_files(&repo.join("p"));

    let child = start(&env, "push", Bound::Env);
    let (code, stderr) = stop_midway(child, &work.path, 10, || {
        stop_sessions(server.port);
        drop(server);
    });
    gave_up_in_one_line(code, &stderr, "the FTP server", "push");
}

#[test]
fn a_push_stops_in_one_line_when_the_sftp_server_goes_away() {
    let server = SftpServer::start();
    let work = server.user.workdir();
    let env = Env::new();
    let repo = local_profile(&env);
    create_sftp_pipe(&env, &server, &work.path);
    write_files(&repo.join("p"));
    let place = format!("the SFTP server at {}", server.endpoint());

    let child = start(&env, "push", Bound::Env);
    // sshd and every session it serves are killed (see `SftpServer`'s drop).
    let (code, stderr) = stop_midway(child, &work.path, 10, || drop(server));
    gave_up_in_one_line(code, &stderr, &place, "push");
}

/// Stops the vsftpd listening on `port` and its sessions, which would outlive it (and serve
/// the connections dpipe holds): the listener is frozen, so that it starts no new session,
/// then it and every process under it are killed, by process id.
fn stop_sessions(port: u16) {
    let listen = format!("listen_port={port}\n");
    let listener = processes()
        .iter()
        .find(|p| {
            p.args.first().is_some_and(|a| a.ends_with("vsftpd"))
                && p.args.get(1).is_some_and(|config| {
                    std::fs::read_to_string(config).is_ok_and(|t| t.contains(&listen))
                })
        })
        .expect("the vsftpd of the test")
        .pid;
    signal("STOP", listener);
    // Frozen, it forks no more: its descendants now are all there will be.
    let running = processes();
    let mut tree = vec![listener];
    let mut next = 0;
    while next < tree.len() {
        let parent = tree[next];
        tree.extend(running.iter().filter(|p| p.parent == parent).map(|p| p.pid));
        next += 1;
    }
    for pid in tree {
        signal("KILL", pid);
    }
}

/// A running process: its id, its parent's, its command line.
struct Process {
    pid: u32,
    parent: u32,
    args: Vec<String>,
}

/// The processes running now, from /proc.
fn processes() -> Vec<Process> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // `pid (name) state ppid …`: the name may hold spaces and parentheses.
            let parent = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let args = String::from_utf8_lossy(&cmdline)
                .split('\0')
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect();
            Some(Process { pid, parent, args })
        })
        .collect()
}

fn signal(name: &str, pid: u32) {
    let _ = std::process::Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status();
}

#[test]
fn a_wrong_bound_is_refused_before_anything_moves() {
    let env = Env::new();
    let remote = env.path().join("remote");
    std::fs::create_dir_all(&remote).unwrap();
    local_profile(&env);
    crate::support::create_fs_pipe(&env, &remote, &[]);
    write_files(&env.path().join("repo/p"));
    for wrong in ["0s", "soon", "-5s", "1.5m", ""] {
        for verb in ["push", "pull"] {
            let flag = format!("--give-up-after={wrong}");
            env.fails(&[verb, "--pipe", "p", &flag], 2, "--give-up-after");
        }
        let run = env.run_with(&["push", "--pipe", "p"], &[("DPIPE_GIVE_UP_AFTER", wrong)]);
        assert_eq!(run.code, 2, "{run:?}");
    }
    assert_eq!(arrived(&remote), (0, 0), "nothing moved");
}
