//! The arguments of the upkeep commands: `dpipe remove-orphans`, `dpipe delete`,
//! `dpipe reset`, `dpipe files`, `dpipe list local` and `dpipe import`.

use clap::{Args, Subcommand, ValueEnum};

use super::apply::ApplyArgs;
use super::pipe_arg::{PipeAndPaths, PipeArg};

/// The upkeep commands (flattened into the top-level command list).
#[derive(Subcommand)]
pub enum MaintainCommand {
    /// Delete the files of a pipe present on one side only (dry run unless --apply).
    #[command(
        override_usage = "dpipe remove-orphans [OPTIONS] <SIDE> <PIPE>\n       \
                                dpipe remove-orphans [OPTIONS] <SIDE> --pipe <PIPE>"
    )]
    RemoveOrphans(RemoveOrphansArgs),
    /// Delete a pipe's files, all or the listed ones, on one side or both (dry run unless
    /// --apply).
    #[command(override_usage = "dpipe delete [OPTIONS] <SIDE> <PIPE>\n       \
                                dpipe delete [OPTIONS] <SIDE> --pipe <PIPE>")]
    Delete(DeleteArgs),
    /// Forget a pipe's sync state; with --local-files also remove its local folder (dry run
    /// unless --apply).
    Reset(ResetArgs),
    /// List the synced files of a pipe.
    Files(FilesArgs),
    /// List what the file repo holds: `dpipe list local` shows the pipes pulled so far.
    List(ListArgs),
    /// Copy (or move) local files or folders into a pipe's folder.
    #[command(override_usage = "dpipe import [OPTIONS] <PIPE> <PATH>...\n       \
                                dpipe import [OPTIONS] --pipe <PIPE> <PATH>...")]
    Import(ImportArgs),
}

/// Which side a deletion is about.
#[derive(Clone, Copy, ValueEnum)]
pub enum SideArg {
    /// The pipe's local folder.
    Local,
    /// The pipe's storage.
    Remote,
    /// Both.
    Both,
}

/// `dpipe remove-orphans`.
#[derive(Args)]
pub struct RemoveOrphansArgs {
    /// Where to delete: local files the remote lacks, remote files the folder lacks, or both.
    #[arg(value_enum)]
    pub side: SideArg,
    /// The pipe.
    #[command(flatten)]
    pub pipe: PipeArg,
    /// Whether to delete or only list.
    #[command(flatten)]
    pub apply: ApplyArgs,
}

/// `dpipe delete`.
#[derive(Args)]
pub struct DeleteArgs {
    /// Where to delete.
    #[arg(value_enum)]
    pub side: SideArg,
    /// The pipe.
    #[command(flatten)]
    pub pipe: PipeArg,
    /// Only these files, comma-separated (default: every file of the pipe on that side).
    #[arg(long, value_name = "PATHS", value_delimiter = ',')]
    pub files: Option<Vec<String>>,
    /// Whether to delete or only list.
    #[command(flatten)]
    pub apply: ApplyArgs,
}

/// `dpipe reset`.
#[derive(Args)]
pub struct ResetArgs {
    /// The pipe.
    #[command(flatten)]
    pub pipe: PipeArg,
    /// Also remove the pipe's local folder.
    #[arg(long)]
    pub local_files: bool,
    /// Whether to reset or only say what would be forgotten.
    #[command(flatten)]
    pub apply: ApplyArgs,
}

/// `--sort`.
#[derive(Clone, Copy, ValueEnum)]
pub enum SortArg {
    /// By path.
    Name,
    /// Newest first.
    Time,
    /// Largest first.
    Size,
}

/// `dpipe files`.
#[derive(Args)]
pub struct FilesArgs {
    /// The pipe.
    #[command(flatten)]
    pub pipe: PipeArg,
    /// How to sort.
    #[arg(long, value_enum, default_value = "name")]
    pub sort: SortArg,
    /// Only files matching these globs, separated by '|'.
    #[arg(long, value_name = "GLOBS")]
    pub include: Option<String>,
    /// Leave out files matching these globs, separated by '|'.
    #[arg(long, value_name = "GLOBS")]
    pub exclude: Option<String>,
    /// Print full local paths only.
    #[arg(long)]
    pub paths: bool,
}

/// What `dpipe list` lists.
#[derive(Clone, Copy, ValueEnum)]
pub enum ListWhat {
    /// The pipes with files in the file repo.
    Local,
}

/// `dpipe list`.
#[derive(Args)]
pub struct ListArgs {
    /// What to list.
    #[arg(value_enum)]
    pub what: ListWhat,
}

/// `dpipe import`.
#[derive(Args)]
pub struct ImportArgs {
    /// The pipe and the files or folders to import.
    #[command(flatten)]
    pub target: PipeAndPaths,
    /// Remove the sources once copied.
    #[arg(long = "move")]
    pub move_files: bool,
    /// A sub-folder of the pipe's folder to import into.
    #[arg(long, value_name = "DIR")]
    pub subdir: Option<String>,
    /// Overwrite existing files with different content.
    #[arg(long)]
    pub force: bool,
}
