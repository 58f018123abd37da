//! The one rule of destructive commands: act with `--apply` (or `--yes`); otherwise the
//! command has shown what it would do, and only a person at a terminal who answers yes makes
//! it act. Scripts (no terminal on stdin, or `--json`) and `--dry-run` never get asked.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use crate::cli::apply::ApplyArgs;
use crate::output::{Output, escape_value};

/// Whether a command called without `--apply`, which has shown what it would do, acts after
/// all: only on a yes to `question` asked on the terminal.
pub fn ask(args: &ApplyArgs, out: &Output, question: &str) -> anyhow::Result<bool> {
    let asked = !args.dry_run && !out.is_json() && std::io::stdin().is_terminal();
    if !asked {
        out.note("dry run: nothing changed; --apply to do it");
        return Ok(false);
    }
    let mut stderr = std::io::stderr().lock();
    write!(stderr, "{} [y/N] ", escape_value(question))?;
    stderr.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    let yes = matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes");
    if !yes {
        out.note("nothing changed");
    }
    Ok(yes)
}
