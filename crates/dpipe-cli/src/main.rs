//! `dpipe`: the command-line face of dpipe-client. `main` only runs the command and turns
//! its result into an exit code (see `exit`).

mod body;
mod cli;
mod commands;
mod exit;
mod interrupt;
mod output;
mod settings;

fn main() -> std::process::ExitCode {
    exit::finish(commands::run())
}
