//! What commands print: data on stdout — aligned tables or `key: value` lines for people, the
//! repo API's JSON with `--json` — and notes and warnings on stderr. Everything printed here is
//! made safe for a terminal on the way out (see [`terminal_safe`]): control and bidi characters
//! from keys, names and storage errors are shown escaped, in one place no command can forget;
//! the JSON keeps the exact strings.

mod terminal_safe;

use std::io::Write;

use serde::Serialize;

pub use terminal_safe::{escape_text, escape_value};

/// Where and how a command prints.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
}

impl Output {
    /// Prints JSON when `json`, human text otherwise.
    pub fn new(json: bool) -> Output {
        Output { json }
    }

    /// True with `--json`.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Prints `value` as JSON with `--json`, else what `human` makes of it.
    pub fn show<T: Serialize>(
        &self,
        value: &T,
        human: impl FnOnce(&T) -> String,
    ) -> anyhow::Result<()> {
        if self.json {
            self.json_value(value)
        } else {
            self.text(&human(value))
        }
    }

    /// Prints `value` as pretty JSON on stdout, its strings exact (see
    /// [`terminal_safe::escape_json`]).
    pub fn json_value<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        let json = serde_json::to_string_pretty(value)?;
        print_stdout(&terminal_safe::escape_json(&json))
    }

    /// Prints `text` on stdout, with a final newline; every control and bidi character in it
    /// but its newlines and tabs escaped ([`escape_text`]).
    pub fn text(&self, text: &str) -> anyhow::Result<()> {
        print_stdout(&escape_text(text))
    }

    /// Prints `text` for people on stderr, even with `--json` (which keeps stdout for the
    /// report); escaped as [`Output::text`].
    pub fn text_on_stderr(&self, text: &str) {
        eprintln!("{}", escape_text(text));
    }

    /// A one-line note for people on stderr (confirmations, hints); silent with `--json`. A
    /// newline inside is shown escaped.
    pub fn note(&self, text: &str) {
        if !self.json {
            eprintln!("{}", escape_value(text));
        }
    }

    /// A one-line warning on stderr, always shown. A newline inside is shown escaped.
    pub fn warn(&self, text: &str) {
        eprintln!("warning: {}", escape_value(text));
    }
}

/// Prints `text` on stdout with a final newline (nothing when empty).
fn print_stdout(text: &str) -> anyhow::Result<()> {
    if text.is_empty() {
        return Ok(());
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", text.trim_end_matches('\n'))?;
    stdout.flush()?;
    Ok(())
}

/// Rows under a header, each column as wide as its widest cell; each cell escaped as a value
/// ([`escape_value`]), so a key with a newline or a tab keeps its row and column.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|cell| escape_value(cell).into_owned())
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let padded: Vec<String> = cells
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(&mut headers.iter().copied())];
    out.extend(
        rows.iter()
            .map(|row| line(&mut row.iter().map(String::as_str))),
    );
    out.join("\n")
}

/// `key: value` lines with the values aligned, each value escaped ([`escape_value`]); empty
/// values are left out.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let shown = || pairs.iter().filter(|(_, v)| !v.is_empty());
    let width = shown().map(|(k, _)| k.len() + 1).max().unwrap_or(0);
    shown()
        .map(|(k, v)| format!("{:<width$} {}", format!("{k}:"), escape_value(v)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// An optional value as a table cell: `-` when absent.
pub fn or_dash(value: Option<&str>) -> String {
    value.filter(|v| !v.is_empty()).unwrap_or("-").to_string()
}

/// Bytes for people: `512 B`, `3.4 KiB`, `1.0 MiB`, ….
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let rows = vec![
            vec!["a".to_string(), "long-value".to_string()],
            vec!["bbb".to_string(), "x".to_string()],
        ];
        assert_eq!(
            table(&["NAME", "V"], &rows),
            "NAME  V\na     long-value\nbbb   x"
        );
        assert_eq!(table(&["NAME"], &[]), "");
    }

    #[test]
    fn fields_align_and_skip_empty_values() {
        let text = fields(&[
            ("name", "p".into()),
            ("parent", String::new()),
            ("remotepath", "s3://b/".into()),
        ]);
        assert_eq!(text, "name:       p\nremotepath: s3://b/");
        let text = fields(&[("key id", "K1".into()), ("re-encrypted", String::new())]);
        assert_eq!(
            text, "key id: K1",
            "a left-out key does not widen the others"
        );
    }

    #[test]
    fn cells_and_values_are_escaped_and_keep_their_row() {
        let rows = vec![
            vec!["a\nb\u{1b}[31m".to_string(), "x".to_string()],
            vec!["\u{202e}c".to_string(), "y".to_string()],
        ];
        assert_eq!(
            table(&["PATH", "V"], &rows),
            "PATH          V\na\\nb\\x1b[31m  x\n\\u{202e}c     y"
        );
        assert_eq!(
            fields(&[("email", "eve\u{202e}@example.com".into())]),
            "email: eve\\u{202e}@example.com"
        );
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(super::human_size(0), "0 B");
        assert_eq!(super::human_size(1023), "1023 B");
        assert_eq!(super::human_size(3482), "3.4 KiB");
        assert_eq!(super::human_size(1024 * 1024), "1.0 MiB");
    }
}
