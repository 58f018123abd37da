//! `dpipe-test-s3`: the testkit's s3s-fs S3 server (with TCP_NODELAY, see
//! `dpipe_testkit::services::s3`) as a standalone process, for benchmarks and manual tests.
//!
//! ```text
//! dpipe-test-s3 [--port PORT] [--root FOLDER] [--bucket NAME]...
//! ```
//!
//! Listens on 127.0.0.1:PORT (default: a free port); buckets are the top-level folders of
//! FOLDER (default: a temporary folder, removed on exit); each `--bucket` is created up
//! front. Once serving it prints one line on stdout,
//! `READY <endpoint url> <access key> <secret key>`, and serves until SIGTERM or Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;

use dpipe_testkit::services::s3::{ACCESS_KEY, S3Server, SECRET_KEY};

const USAGE: &str = "usage: dpipe-test-s3 [--port PORT] [--root FOLDER] [--bucket NAME]...";

struct Args {
    port: u16,
    root: Option<PathBuf>,
    buckets: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 0,
        root: None,
        buckets: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--port" => {
                let v = value("--port")?;
                args.port = v
                    .parse()
                    .map_err(|_| format!("--port: {v:?} is not a port number (0-65535)"))?;
            }
            "--root" => {
                let v = PathBuf::from(value("--root")?);
                if !v.is_dir() {
                    return Err(format!("--root: {} is not an existing folder", v.display()));
                }
                args.root = Some(v);
            }
            "--bucket" => args.buckets.push(value("--bucket")?),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("dpipe-test-s3: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let server = S3Server::start_with(args.root.as_deref(), args.port);
    for bucket in &args.buckets {
        server.create_bucket(bucket);
    }
    println!("READY {} {ACCESS_KEY} {SECRET_KEY}", server.endpoint);
    use std::io::Write;
    let _ = std::io::stdout().flush();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("dpipe-test-s3: signal runtime");
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("dpipe-test-s3: SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    });
    eprintln!("dpipe-test-s3: stopping");
    drop(server);
    ExitCode::SUCCESS
}
