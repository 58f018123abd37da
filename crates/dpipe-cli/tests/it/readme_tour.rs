//! The README's tour, run as written (issue 14, item 6), so that the README cannot drift from
//! what dpipe does.
//!
//! Which commands: the ```` ```sh ```` blocks from the heading `## A short tour` to the next
//! heading (the tour, the storage you bring, moving files), run in order by one `bash` with
//! `set -euo pipefail`. The set-up block (`cargo run … serve`, `bash scripts/test.sh`) is not
//! in that section: the test does what it says itself, starting `dpipe serve` with no flags.
//!
//! Fixed ports: the README names `127.0.0.1:8000` (where `dpipe serve` listens by default),
//! `8001` (its built-in storage) and `9000` (an S3 server). Rather than rewrite those in the
//! text, the test moves its thread into a network namespace of its own (`unshare(CLONE_NEWNET)`,
//! then `ip link set lo up`): the S3 server it starts there, `dpipe serve` and every command
//! of the tour see a loopback of their own, where those ports are free whatever else runs on
//! the machine, and the README keeps its plain addresses. Without the right to create a
//! namespace (not root, no CAP_SYS_ADMIN) the test says why and skips; CI runs as root.
//!
//! What the test stands in for:
//! * the line `alias dpipe='cargo run --release --bin dpipe --'` is replaced by putting the
//!   `dpipe` binary built for this test first on `PATH`;
//! * `HOME` is a temporary folder, and the environment holds nothing else of the machine's
//!   but `PATH`: the profiles file (`~/.config/dpipe/config.toml`), the file repos
//!   (`~/dpipe/files/...`) and the server's data folder are all in it;
//! * `register` reads the password from `DPIPE_PASSWORD`, as the README says it may;
//! * the S3 server on port 9000 is the testkit's s3s-fs server with bucket `vendor-bucket`,
//!   what `dpipe-test-s3 --port 9000 --bucket vendor-bucket` runs, as the README suggests.
//!
//! A failing command stops the tour; the test then fails showing that command, its exit code
//! and everything the tour and the server printed up to it.

use std::io::Write as _;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dpipe_testkit::services::s3::S3Server;

/// The README, read when the test is built.
const README: &str = include_str!("../../../../README.md");

/// The section whose shell blocks are the tour.
const TOUR_HEADING: &str = "## A short tour";

/// The README's way of running dpipe from the source tree, replaced by the built binary.
const ALIAS_LINE: &str = "alias dpipe='cargo run --release --bin dpipe --'";

/// The password every account of the tour registers with.
const PASSWORD: &str = "tour-password-1";

/// Ports the README names: the repo API, its built-in storage, the S3 server.
const API_PORT: u16 = 8000;
const STORAGE_PORT: u16 = 8001;
const S3_PORT: u16 = 9000;

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_readme_tour_runs_as_written() {
    let blocks = tour_blocks(README);
    assert!(
        blocks.len() >= 2,
        "the README's tour lost its shell blocks: {blocks:?}"
    );
    let script = blocks.join("\n");
    assert_eq!(
        script.matches(ALIAS_LINE).count(),
        1,
        "the tour should start with {ALIAS_LINE:?}"
    );
    if let Err(reason) = own_network() {
        eprintln!("skipped: {reason} (the tour needs its own network namespace: run as root)");
        return;
    }

    let home = tempfile::Builder::new()
        .prefix("dpipe-readme-tour-")
        .tempdir()
        .unwrap();
    let home = home.path();
    let s3_root = home.join("s3");
    std::fs::create_dir(&s3_root).unwrap();
    let s3 = S3Server::start_with(Some(&s3_root), S3_PORT);
    s3.create_bucket("vendor-bucket");

    let serve_log = home.join("serve.log");
    let serve = start_serve(home, &serve_log);
    let transcript = home.join("tour.log");
    let ran = run_tour(home, &script, &transcript);
    let failed = |what: &str| -> String {
        format!(
            "the README tour failed: {what}\n--- dpipe serve ---\n{}\n--- the tour ---\n{}",
            std::fs::read_to_string(&serve_log).unwrap_or_default(),
            std::fs::read_to_string(&transcript).unwrap_or_default()
        )
    };
    assert!(ran, "{}", failed("see the tour's last lines"));
    drop(serve);

    // What the tour says it did: bob pulled ann's managed pipe, ann pushed to the vendor's
    // bucket.
    let bobs_copy = home.join("dpipe/files/bob/demo/data.csv");
    assert_eq!(
        std::fs::read_to_string(&bobs_copy).ok().as_deref(),
        Some("x,y\n"),
        "{}",
        failed("bob has no copy of demo's data.csv")
    );
    let pushed = s3_root.join("vendor-bucket/exchange/eu/prices.csv");
    assert!(
        pushed.is_file(),
        "{}",
        failed("no prices.csv in s3://vendor-bucket/exchange/eu/")
    );
}

/// The shell blocks of the section under [`TOUR_HEADING`], up to the next heading (lines
/// starting with `#` inside a block are comments, not headings).
fn tour_blocks(readme: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut in_tour = false;
    // The language and lines of the fenced block we are in.
    let mut fence: Option<(bool, Vec<&str>)> = None;
    for line in readme.lines() {
        match fence.as_mut() {
            Some((shell, lines)) if line.trim_end() == "```" => {
                if in_tour && *shell {
                    blocks.push(lines.join("\n"));
                }
                fence = None;
            }
            Some((_, lines)) => lines.push(line),
            None => {
                if let Some(language) = line.strip_prefix("```") {
                    let shell = matches!(language.trim(), "sh" | "bash" | "shell");
                    fence = Some((shell, Vec::new()));
                } else if line.starts_with('#') {
                    in_tour = line.trim_end() == TOUR_HEADING;
                }
            }
        }
    }
    blocks
}

/// Moves this thread, and what it starts from now on, into a network namespace of its own
/// with its loopback up; `Err` says why that is not possible here.
fn own_network() -> Result<(), String> {
    use rustix::thread::{UnshareFlags, unshare_unsafe};
    // SAFETY: only the network namespace is unshared, never the file descriptor table (the
    // hazard `unshare_unsafe` warns of): this thread's new sockets and children see another
    // network, and nothing else changes.
    unsafe { unshare_unsafe(UnshareFlags::NEWNET) }
        .map_err(|e| format!("cannot create a network namespace: {e}"))?;
    let up = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status();
    assert!(
        up.as_ref().is_ok_and(|s| s.success()),
        "ip link set lo up (iproute2) in the new namespace: {up:?}"
    );
    Ok(())
}

/// A command in the tour's environment: `HOME` is `home`, `PATH` the caller's, nothing else.
fn isolated(program: &Path, home: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .current_dir(home);
    command
}

/// Starts `dpipe serve` as the README's set-up does (no flags: 127.0.0.1:8000, storage on
/// 127.0.0.1:8001, data in the user's data folder), its output to `log`, and waits until
/// both ports answer.
fn start_serve(home: &Path, log: &Path) -> Running {
    let log_file = std::fs::File::create(log).unwrap();
    let child = isolated(Path::new(env!("CARGO_BIN_EXE_dpipe")), home)
        .arg("serve")
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .expect("dpipe serve starts");
    let mut serve = Running(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    for port in [API_PORT, STORAGE_PORT] {
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = serve.0.try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "dpipe serve does not listen on {port} ({exited:?}):\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    serve
}

/// Runs `script` with bash in `home`, everything it prints to `transcript`; a failing command
/// stops it and is named at the end of the transcript. Returns whether it went through.
fn run_tour(home: &Path, script: &str, transcript: &Path) -> bool {
    let bin = home.join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_dpipe"), bin.join("dpipe")).unwrap();
    let prologue = format!(
        "set -euo pipefail\n\
         trap 'echo \"README tour: exit $? at line $LINENO: $BASH_COMMAND\"' ERR\n\
         set -x\n\
         export PATH={bin}:\"$PATH\"\n",
        bin = bin.display()
    );
    let script = script.replacen(
        ALIAS_LINE,
        "# (alias dpipe: the built binary is on PATH)",
        1,
    );
    let path = home.join("tour.sh");
    let mut file = std::fs::File::create(&path).unwrap();
    writeln!(file, "{prologue}{script}").unwrap();

    let out = std::fs::File::create(transcript).unwrap();
    let status = isolated(Path::new("bash"), home)
        .args(["--noprofile", "--norc"])
        .arg(&path)
        .env("DPIPE_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .status()
        .expect("bash runs");
    status.success()
}

#[test]
fn the_tour_is_the_shell_blocks_of_its_section() {
    let readme = "\
# T\n\n## Set-up\n\n```sh\ncargo run -- serve\n```\n\n## A short tour\n\n```sh\n\
# a comment, not a heading\ndpipe whoami\n```\n\n```toml\nx = 1\n```\n\nMore:\n\n\
```sh\ndpipe pull\n```\n\n### Profiles\n\n```sh\ndpipe profile list\n```\n";
    assert_eq!(
        tour_blocks(readme),
        ["# a comment, not a heading\ndpipe whoami", "dpipe pull"]
    );
}
