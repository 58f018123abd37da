//! A pipe's `README.md` and `LICENSE.md` shown when first pulled: their first lines under a
//! header.

use std::path::Path;

use crate::output::Output;

/// Lines of a first-pulled `README.md` or `LICENSE.md` shown.
pub const SHOWN_LINES: usize = 40;

/// Shows the first [`SHOWN_LINES`] lines of `path` in `folder` under a header; a file that
/// cannot be read is a warning, not a failure of the pull.
pub(super) fn show_file(out: &Output, folder: &Path, path: &str, to_stderr: bool) {
    let text = match std::fs::read(folder.join(path)) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            out.warn(&format!("cannot show {path}: {e}"));
            return;
        }
    };
    let text = excerpt(path, &text);
    if to_stderr {
        out.text_on_stderr(&text);
    } else if let Err(e) = out.text(&text) {
        out.warn(&format!("cannot show {path}: {e}"));
    }
}

/// `path`'s header, its first [`SHOWN_LINES`] lines, and how many more there are.
fn excerpt(path: &str, text: &str) -> String {
    let total = text.lines().count();
    let mut lines = vec![format!("===== {path} =====")];
    lines.extend(text.lines().take(SHOWN_LINES).map(str::to_string));
    if total > SHOWN_LINES {
        lines.push(format!("… ({} more lines)", total - SHOWN_LINES));
    }
    lines.push("=".repeat(path.chars().count() + 12));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn excerpts_cut_long_files() {
        let long: String = (1..=45).map(|i| format!("line {i}\n")).collect();
        let shown = super::excerpt("README.md", &long);
        assert!(
            shown.starts_with("===== README.md =====\nline 1\n"),
            "{shown}"
        );
        assert!(shown.contains("line 40\n… (5 more lines)\n"), "{shown}");
        assert!(!shown.contains("line 41"), "{shown}");
        assert_eq!(super::excerpt("L", "x"), "===== L =====\nx\n=============");
    }
}
