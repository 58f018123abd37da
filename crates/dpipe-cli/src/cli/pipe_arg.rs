//! How a command names its pipe: as its argument (`dpipe pull NAME`), or with `--pipe NAME`,
//! the older form kept as an alias. One of the two, never both. `dpipe import`, whose paths
//! follow the pipe, takes both forms from one list of arguments ([`PipeAndPaths`]).

use std::path::PathBuf;

use clap::Args;

use crate::exit::UsageError;

/// The pipe a command acts on: `PIPE` or `--pipe PIPE`.
#[derive(Args)]
#[group(id = "pipe_name", required = true, multiple = false)]
pub struct PipeArg {
    /// The pipe.
    #[arg(value_name = "PIPE")]
    positional: Option<String>,
    /// The pipe, as a flag (the same as PIPE).
    #[arg(long = "pipe", value_name = "PIPE")]
    flag: Option<String>,
}

impl PipeArg {
    /// The pipe's name, however it was given.
    pub fn name(&self) -> &str {
        self.positional
            .as_deref()
            .or(self.flag.as_deref())
            .expect("clap requires PIPE or --pipe")
    }
}

/// The pipe and the paths of `dpipe import`: `PIPE PATH...`, or `--pipe PIPE PATH...`.
#[derive(Args)]
pub struct PipeAndPaths {
    /// The pipe, then the files or folders to import; with --pipe, only the files and folders.
    #[arg(required = true, value_name = "PIPE_OR_PATH")]
    arguments: Vec<PathBuf>,
    /// The pipe, as a flag (then every argument is a path).
    #[arg(long = "pipe", value_name = "PIPE")]
    flag: Option<String>,
}

impl PipeAndPaths {
    /// The pipe's name and the paths; a usage error when no path follows the pipe.
    pub fn split(&self) -> Result<(&str, &[PathBuf]), UsageError> {
        let (pipe, paths) = match &self.flag {
            Some(pipe) => (pipe.as_str(), self.arguments.as_slice()),
            None => {
                let (first, paths) = self.arguments.split_first().expect("clap requires one");
                let pipe = first
                    .to_str()
                    .ok_or_else(|| UsageError(format!("{} is not a pipe name", first.display())))?;
                (pipe, paths)
            }
        };
        if paths.is_empty() {
            return Err(UsageError(format!(
                "no file or folder to import into pipe {pipe}: give `dpipe import {pipe} PATH...`"
            )));
        }
        Ok((pipe, paths))
    }
}
