//! The arguments of `dpipe scan remote` and `dpipe scan local`.

use clap::{Args, Subcommand};

use super::pipe_arg::PipeArg;

/// `dpipe scan`.
#[derive(Subcommand)]
pub enum ScanCommand {
    /// List the files of a pipe in its storage (path, size, modified, ETag).
    Remote(ScanArgs),
    /// List the files of a pipe's folder in the file repo (path, size, modified, SHA-256).
    Local(ScanArgs),
}

/// Which pipe, and which of its files.
#[derive(Args)]
pub struct ScanArgs {
    /// The pipe.
    #[command(flatten)]
    pub pipe: PipeArg,
    /// Only files matching these globs, separated by '|' (instead of the pipe's own).
    #[arg(long, value_name = "GLOBS")]
    pub include: Option<String>,
    /// Leave out files matching these globs, separated by '|' (instead of the pipe's own).
    #[arg(long, value_name = "GLOBS")]
    pub exclude: Option<String>,
}
