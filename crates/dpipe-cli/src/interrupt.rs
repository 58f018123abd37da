//! Ctrl-C during a pull or a push: instead of dying silently by SIGINT, dpipe clears the
//! progress line, says `interrupted: rerun to continue` on stderr and exits with
//! [`exit::INTERRUPTED`] (130, the shells' 128 + SIGINT), so that scripts still see an
//! interruption and people see what to do.
//!
//! Exiting at once from the handler, with transfers in flight, is safe: an interrupted run
//! is a killed run, and a killed run loses nothing and is finished by the next one (as read
//! in dpipe-client's `sync/engine` and dpipe-storage's `transfer` and `staging`, and shown by
//! `tests/it/interrupt.rs` with `kill -9`):
//! * downloads go to `.dpipe-<pid>-*.part` files next to their final names and are renamed
//!   into place only once whole and verified; scans never list such files, and the next
//!   pull or push deletes those of ended processes from the pipe's folder;
//! * uploads to S3 appear only when their upload completes; on `fs` and SFTP they go to
//!   `.dpipe-<pid>-*.part` keys renamed into place once whole (scans skip them; the storage
//!   keeps them until removed by hand);
//! * the sync state is SQLite (WAL, `synchronous = FULL`), one transaction per write: it is
//!   as before the write or after it. Files both sides hold identically that the state did
//!   not record yet are adopted by the next run.
//!
//! Other commands keep the default: they either finish in a moment or, as `dpipe serve`, stop
//! gracefully on Ctrl-C by themselves.

use std::io::{IsTerminal as _, Write as _};

use tokio::signal::unix::{SignalKind, signal};

use crate::exit;

/// What an interrupted pull or push says on stderr.
pub const MESSAGE: &str = "interrupted: rerun to continue";

/// Erases the terminal's current line (where the progress bar is drawn): back to its start,
/// then clear it.
const CLEAR_LINE: &str = "\r\x1b[2K";

/// Handles Ctrl-C as the module docs say from here on (a pull or a push calls it first).
/// Without the handler Ctrl-C still stops dpipe, by the signal's default action, so a
/// failure to install it is only a warning.
pub fn exit_on_ctrl_c() {
    if let Err(err) = install() {
        eprintln!("warning: cannot handle Ctrl-C: {err}");
    }
}

/// Installs the SIGINT handler before returning (so no Ctrl-C slips through to the default
/// action), and waits for the signal on a thread of its own, away from the runtime of the
/// transfers.
fn install() -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let mut interrupts = {
        let _inside = runtime.enter();
        signal(SignalKind::interrupt())?
    };
    std::thread::Builder::new()
        .name("dpipe-ctrl-c".to_string())
        .spawn(move || {
            runtime.block_on(interrupts.recv());
            say_interrupted();
            std::process::exit(i32::from(exit::INTERRUPTED));
        })?;
    Ok(())
}

/// Prints [`MESSAGE`] on stderr in one write, at the start of a cleared line on a terminal.
fn say_interrupted() {
    let stderr = std::io::stderr();
    let clear = if stderr.is_terminal() { CLEAR_LINE } else { "" };
    let _ = stderr
        .lock()
        .write_all(format!("{clear}{MESSAGE}\n").as_bytes());
}
