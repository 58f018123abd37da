//! Exit codes, and turning the result of a command into one: the error is printed on stderr
//! and its kind decides the code, so scripts can tell a typo from a refusal from an outage.
//! The detail behind a message (a storage's own answer) follows it only under
//! `RUST_LOG=debug`. Both are escaped for the terminal ([`escape_text`]): they can quote a
//! key, a name or a storage's answer.

use std::process::ExitCode;

use dpipe_client::ErrorKind;

use crate::output::escape_text;

/// Success.
pub const OK: u8 = 0;
/// Any other failure.
pub const OTHER: u8 = 1;
/// Wrong usage or invalid input: bad flags, a request the repo API refused as invalid, a
/// wrong profile or settings file.
pub const USAGE: u8 = 2;
/// The pipe, remote, user or profile entry does not exist, or the storage's bucket or folder.
pub const NOT_FOUND: u8 = 3;
/// Not allowed, not logged in, refused after too many failed logins (wait and retry), or the
/// storage refused the pipe's credentials.
pub const DENIED: u8 = 4;
/// The server or the storage failed or could not be reached.
pub const UNAVAILABLE: u8 = 5;
/// An encrypted value cannot be decrypted with the profile's key (wrong or missing key, or a
/// damaged value).
pub const KEY: u8 = 6;
/// A pull or a push interrupted by Ctrl-C (128 + SIGINT, as shells report it).
pub const INTERRUPTED: u8 = 130;

/// The footer of `dpipe --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
    0  success
    1  other error; `status --exit-code`: not in sync
    2  usage error or invalid input (bad flags, refused request, wrong profile or settings file)
    3  not found (pipe, user, remote, profile; the storage's bucket or folder)
    4  forbidden, not logged in, too many failed logins (wait and retry), or the storage
       refused the pipe's credentials
    5  the server or the storage failed or could not be reached
    6  encrypted values cannot be decrypted (wrong or missing encryption key, damaged value)
  130  interrupted by Ctrl-C during a pull or push: rerun to continue";

/// A mistake in how the command was called that clap cannot see (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A failure already told by the command's own output, ending it with exit code 1 and
/// nothing more on stderr: `status --exit-code` of a pipe not in sync (as `git diff
/// --exit-code`).
#[derive(Debug)]
pub struct Untold;

impl std::fmt::Display for Untold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failed as shown")
    }
}

impl std::error::Error for Untold {}

/// Prints a failed command's error on stderr and gives the exit code for a result.
pub fn finish(result: anyhow::Result<()>) -> ExitCode {
    let Err(err) = result else {
        return ExitCode::from(OK);
    };
    if let Some(clap_err) = err.downcast_ref::<clap::Error>() {
        // Help and version also arrive here, with exit code 0.
        let _ = clap_err.print();
        return ExitCode::from(u8::try_from(clap_err.exit_code()).unwrap_or(USAGE));
    }
    if err.is::<Untold>() {
        return ExitCode::from(OTHER);
    }
    if is_broken_pipe(&err) {
        // The reader of stdout went away (`dpipe pipe list | head`): not an error.
        return ExitCode::from(OK);
    }
    eprintln!("error: {}", escape_text(&format!("{err:#}")));
    if let Some(detail) = detail_of(&err).filter(|_| detail_wanted()) {
        eprintln!("detail:");
        for line in escape_text(detail).lines() {
            eprintln!("  {line}");
        }
    }
    ExitCode::from(code_for(&err))
}

/// The detail behind the first client error in `err`'s chain (what the storage answered).
fn detail_of(err: &anyhow::Error) -> Option<&str> {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<dpipe_client::Error>())
        .and_then(dpipe_client::Error::detail)
}

/// Whether `RUST_LOG` asks for debug output (`debug` or `trace`, for any target): the CLI has
/// no `-v`, and the one-line message is what everyone else wants.
fn detail_wanted() -> bool {
    std::env::var("RUST_LOG").is_ok_and(|filter| {
        let filter = filter.to_ascii_lowercase();
        filter.contains("debug") || filter.contains("trace")
    })
}

/// The exit code for `err`, from the first error in its chain that has a known kind.
fn code_for(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(client) = cause.downcast_ref::<dpipe_client::Error>() {
            return match client.kind() {
                ErrorKind::Invalid | ErrorKind::TooLarge | ErrorKind::Config => USAGE,
                ErrorKind::NotFound => NOT_FOUND,
                ErrorKind::Unauthenticated | ErrorKind::Forbidden | ErrorKind::TooManyRequests => {
                    DENIED
                }
                ErrorKind::Server | ErrorKind::Transport => UNAVAILABLE,
                ErrorKind::Key => KEY,
                ErrorKind::Io | ErrorKind::Conflict => OTHER,
            };
        }
        if let Some(aws) = cause.downcast_ref::<dpipe_provision::Error>() {
            return aws_code(aws.kind());
        }
        if cause.is::<UsageError>() {
            return USAGE;
        }
    }
    OTHER
}

/// The exit code of a `dpipe s3` provisioning error.
fn aws_code(kind: dpipe_provision::ErrorKind) -> u8 {
    use dpipe_provision::ErrorKind as Aws;
    match kind {
        Aws::Invalid | Aws::Config => USAGE,
        Aws::NotFound => NOT_FOUND,
        Aws::AccessDenied => DENIED,
        Aws::Unreachable => UNAVAILABLE,
        Aws::Conflict | Aws::NotEmpty | Aws::Service | Aws::Internal => OTHER,
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
