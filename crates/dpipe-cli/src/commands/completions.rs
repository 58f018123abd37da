//! `dpipe completions SHELL`: the shell's completion script for the whole command tree,
//! generated from the same clap definitions the binary parses with, so it never lags behind.

use clap::CommandFactory as _;
use clap_complete::Shell;

use crate::cli::Cli;

/// Prints the completion script of `shell` on stdout.
pub fn run(shell: Shell) -> anyhow::Result<()> {
    let mut command = Cli::command();
    let name = command.get_name().to_string();
    let mut stdout = std::io::stdout().lock();
    clap_complete::generate(shell, &mut command, name, &mut stdout);
    Ok(())
}
