//! The arguments of `dpipe pull`, `dpipe push` and `dpipe status`: which pipe, which files
//! (mode, filters, a file list, the N newest), how to resolve conflicts, how many files move at
//! once, how long an unreachable storage is waited out, how old a leftover of an interrupted
//! transfer must be to be removed, whether to only preview, and whether `status` tells "not in
//! sync" by its exit code.

use clap::{Args, ValueEnum};
use dpipe_client::sync::DEFAULT_CONCURRENCY;

use super::pipe_arg::PipeArg;
use super::serve::parse_duration;

/// `dpipe pull` and `dpipe push`.
#[derive(Args)]
pub struct SyncArgs {
    /// The pipe.
    #[command(flatten)]
    pub pipe: PipeArg,
    /// Show what would move and how many bytes; transfer nothing.
    #[arg(long, visible_alias = "dry-run")]
    pub preview: bool,
    /// Which files: new and modified (default), only new, only modified, or all.
    #[arg(long, value_enum, default_value = "default")]
    pub mode: ModeArg,
    /// Only files matching these globs, separated by '|' (instead of the pipe's own).
    #[arg(long, value_name = "GLOBS")]
    pub include: Option<String>,
    /// Leave out files matching these globs, separated by '|' (instead of the pipe's own).
    #[arg(long, value_name = "GLOBS")]
    pub exclude: Option<String>,
    /// Exactly these files, comma-separated (moved even when unchanged).
    #[arg(long, value_name = "PATHS", value_delimiter = ',')]
    pub files: Option<Vec<String>>,
    /// Only the N most recently modified files.
    #[arg(long, value_name = "N")]
    pub nrecent: Option<usize>,
    /// What to do with a file changed on both sides since the last sync: keep the target's
    /// version, or overwrite it (default: refuse the whole run).
    #[arg(long, value_enum)]
    pub merge: Option<MergeArg>,
    /// Files transferred at once (1 to 256).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CONCURRENCY as u16,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub transfers: u16,
    /// How long to wait out a storage that cannot be reached (connections refused or cut,
    /// nothing getting through) before stopping every transfer, e.g. 60s, 5m; a rerun
    /// continues where the run stopped.
    #[arg(long, value_name = "DURATION", env = "DPIPE_GIVE_UP_AFTER", default_value = "60s",
          value_parser = parse_duration)]
    pub give_up_after: chrono::TimeDelta,
    /// How old a leftover of an interrupted transfer must be before a run removes it, e.g.
    /// 24h, 30m: a pull or push removes older partial downloads (and downloads the file
    /// whole), a push the temporary files and unfinished uploads on the storage it did not
    /// resume (a preview lists them); younger ones may belong to a run still going.
    #[arg(long, value_name = "DURATION", env = "DPIPE_LEFTOVER_AGE", default_value = "24h",
          value_parser = parse_duration)]
    pub leftover_age: chrono::TimeDelta,
    /// Print nothing but problems: no summary, notes or first-pull README (failed files and
    /// refused keys are still reported).
    #[arg(long, short)]
    pub quiet: bool,
}

/// `dpipe status`.
#[derive(Args)]
pub struct StatusArgs {
    /// The pipe.
    #[command(flatten)]
    pub pipe: PipeArg,
    /// Only files matching these globs, separated by '|' (instead of the pipe's own).
    #[arg(long, value_name = "GLOBS")]
    pub include: Option<String>,
    /// Leave out files matching these globs, separated by '|' (instead of the pipe's own).
    #[arg(long, value_name = "GLOBS")]
    pub exclude: Option<String>,
    /// Exit with code 1 when the pipe is not in sync (as `git diff --exit-code`), 0 when it
    /// is; without it, status exits 0 either way.
    #[arg(long)]
    pub exit_code: bool,
}

/// `--mode`.
#[derive(Clone, Copy, ValueEnum)]
pub enum ModeArg {
    /// New and modified files.
    Default,
    /// Only files missing on the other side.
    New,
    /// Only files whose content differs.
    Mod,
    /// Every file; a push also goes ahead while the remote has changes not yet pulled.
    All,
}

/// `--merge`.
#[derive(Clone, Copy, ValueEnum)]
pub enum MergeArg {
    /// Keep the target's version.
    Keep,
    /// Overwrite the target's version.
    Overwrite,
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use crate::cli::{Cli, Command};

    #[test]
    fn the_default_bound_is_the_storage_default() {
        let cli = Cli::try_parse_from(["dpipe", "push", "p"]).unwrap();
        let Command::Push(args) = cli.command else {
            panic!("a push");
        };
        assert_eq!(
            args.give_up_after.to_std().unwrap(),
            dpipe_client::sync::DEFAULT_GIVE_UP_AFTER
        );
    }
}
