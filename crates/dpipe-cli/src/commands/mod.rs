//! The commands, one module per group; [`run`] parses the command line and dispatches.

mod account;
mod audit;
mod codec;
mod completions;
mod confirm;
mod key;
mod maintain;
mod perm;
mod pipe;
mod profile;
mod remote;
mod s3;
mod scan;
mod serve;
mod sync;
mod verify;

use clap::Parser;
use dpipe_client::sync::Direction;

use crate::cli::{Cli, Command};
use crate::output::Output;
use crate::settings::Context;

/// Says which pipe an error is about: `pipe NAME: ...`, unless the error names the pipe
/// already (a pipe not found, worded by the client with the close names).
pub(crate) trait AboutPipe<T> {
    fn about_pipe(self, pipe: &str) -> anyhow::Result<T>;
}

impl<T> AboutPipe<T> for dpipe_client::Result<T> {
    fn about_pipe(self, pipe: &str) -> anyhow::Result<T> {
        self.map_err(|err| {
            let named = err.kind() == dpipe_client::ErrorKind::NotFound
                && err.message().starts_with(&format!("pipe {pipe} "));
            if named {
                anyhow::Error::new(err)
            } else {
                anyhow::Error::new(err).context(format!("pipe {pipe}"))
            }
        })
    }
}

/// Parses the command line and runs the command.
pub fn run() -> anyhow::Result<()> {
    let cli = Cli::try_parse()?;
    // Loaded only by the commands that use a profile: the server runs whatever the file holds.
    let ctx = || Context::load(&cli.global);
    match cli.command {
        Command::Serve(args) => serve::run(args, &Output::new(cli.global.json)),
        Command::Profile(command) => profile::run(&mut ctx()?, command),
        Command::Register(args) => account::register(&mut ctx()?, args),
        Command::Login(args) => account::login(&mut ctx()?, args),
        Command::Logout => account::logout(&mut ctx()?),
        Command::Whoami => account::whoami(&ctx()?),
        Command::Token(command) => account::token(&mut ctx()?, command),
        Command::Remote(command) => remote::run(&ctx()?, command),
        Command::Pipe(command) => pipe::run(&ctx()?, command),
        Command::Perm(command) => perm::run(&ctx()?, command),
        Command::Audit(args) => audit::run(&ctx()?, args),
        Command::Key(command) => key::run(&mut ctx()?, command),
        Command::Encode(args) => codec::encode(&ctx()?, args),
        Command::Decode(args) => codec::decode(&ctx()?, args),
        Command::S3(command) => s3::run(&cli.global, command),
        Command::Pull(args) => sync::run(&ctx()?, args, Direction::Pull),
        Command::Push(args) => sync::run(&ctx()?, args, Direction::Push),
        Command::Status(args) => sync::status(&ctx()?, args),
        Command::Scan(command) => scan::run(&ctx()?, command),
        Command::Verify(args) => verify::run(&ctx()?, args),
        Command::Maintain(command) => maintain::run(&ctx()?, command),
        Command::Completions { shell } => completions::run(shell),
    }
}
