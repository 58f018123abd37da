//! The flags of every destructive command (`delete`, `remove-orphans`, `reset`, `pipe delete`,
//! `remote delete`): without `--apply` a command only shows what it would do — on a terminal
//! it then asks — so that nothing is lost to a mistyped name.

use clap::Args;

/// Whether a destructive command acts, asks, or only shows what it would do.
#[derive(Args)]
pub struct ApplyArgs {
    /// Really do it, without asking (default: show what would be done; on a terminal, then
    /// ask).
    #[arg(long, visible_alias = "yes", short = 'y')]
    pub apply: bool,
    /// Only show what would be done, and do not ask (the opposite of --apply).
    #[arg(long, conflicts_with = "apply")]
    pub dry_run: bool,
}
