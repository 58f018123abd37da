//! Strings from storage and from other users made safe to print on a terminal. An object key,
//! a pipe name, a grant's email, an error text relayed from storage or a pipe's README can
//! carry control characters (ESC starts sequences that recolour the terminal, set its window
//! title or move the cursor; BEL, DEL, C1 controls such as CSI) and bidi controls (U+202E and
//! friends reorder what is shown, so `txt.exe` can look like `exe.txt`). Each such character is
//! shown escaped instead, as Rust writes it in a string: `\x1b`, `\n`, `\u{202e}`.
//!
//! This is done always, not only when stdout or stderr is a terminal: output piped to a file
//! or a log is read on a terminal later (`cat`, `less -R`, a CI page), the same command gives
//! the same text wherever it runs, and scripts that need the exact bytes have `--json`, which
//! stays exact (see [`escape_json`]).
//!
//! The escapes use only printable ASCII, so escaping twice changes nothing: a table cell
//! escaped as a value goes through the escaping of the whole text unchanged. A backslash is
//! left as it is, so a key that holds the four characters `\x1b` looks like one holding ESC;
//! `--json` tells them apart.

use std::borrow::Cow;
use std::fmt::Write as _;

/// One value — a table cell, a field, a name in a sentence — with every control and bidi
/// character escaped, tabs and newlines included, so it stays on its line and in its column.
pub fn escape_value(value: &str) -> Cow<'_, str> {
    escape(value, |_| false)
}

/// Text of several lines (a command's output, an error, a README) with every control and bidi
/// character escaped except the newlines and tabs that give it its shape.
pub fn escape_text(text: &str) -> Cow<'_, str> {
    escape(text, |c| c == '\n' || c == '\t')
}

/// JSON text with the characters serde_json leaves raw inside strings (DEL, C1 controls, bidi
/// controls) written as `\uXXXX` escapes: the same JSON value, safe on a terminal. serde_json
/// escapes the C0 controls already; the only raw newlines are those between its lines.
pub fn escape_json(json: &str) -> Cow<'_, str> {
    if !json.chars().any(|c| is_unsafe(c) && c != '\n') {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if is_unsafe(c) && c != '\n' {
            // Every unsafe character is in the Basic Multilingual Plane: one `\uXXXX`.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether `c` can steer a terminal or reorder what it shows: a control character (C0, DEL,
/// C1) or a bidi control (the Arabic letter mark, LRM and RLM, the embeddings and overrides
/// U+202A–U+202E, the isolates U+2066–U+2069), or a line or paragraph separator, which some
/// terminals take as a line break.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with the unsafe characters that are not `kept` escaped; borrowed when there are none.
fn escape(text: &str, kept: impl Fn(char) -> bool) -> Cow<'_, str> {
    let escaped = |c: char| is_unsafe(c) && !kept(c);
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if !escaped(c) {
            out.push(c);
            continue;
        }
        let _ = match c {
            '\n' => out.write_str("\\n"),
            '\t' => out.write_str("\\t"),
            '\r' => out.write_str("\\r"),
            c if c.is_ascii() => write!(out, "\\x{:02x}", u32::from(c)),
            c => write!(out, "\\u{{{:x}}}", u32::from(c)),
        };
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "x\u{1b}[31mRED\u{1b}]0;TITLE\u{7}.txt";

    #[test]
    fn values_escape_controls_bidi_tabs_and_newlines() {
        assert_eq!(escape_value(HOSTILE), "x\\x1b[31mRED\\x1b]0;TITLE\\x07.txt");
        assert_eq!(escape_value("a\u{1}b\u{7f}c"), "a\\x01b\\x7fc");
        assert_eq!(escape_value("a\nb\tc\rd"), "a\\nb\\tc\\rd");
        assert_eq!(escape_value("txt\u{202e}exe.txt"), "txt\\u{202e}exe.txt");
        assert_eq!(escape_value("\u{9b}31m"), "\\u{9b}31m", "C1 CSI");
        assert_eq!(escape_value("\u{80}\u{9f}"), "\\u{80}\\u{9f}");
        for bidi in [
            '\u{61c}', '\u{200e}', '\u{200f}', '\u{2028}', '\u{2029}', '\u{202a}', '\u{202b}',
            '\u{202c}', '\u{202d}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
        ] {
            let shown = escape_value(&bidi.to_string()).into_owned();
            assert_eq!(shown, format!("\\u{{{:x}}}", u32::from(bidi)));
        }
    }

    #[test]
    fn harmless_text_is_borrowed_unchanged() {
        for text in ["data/2024 report.csv", "ünïcødé ✓ 数据", "a\\x1b", ""] {
            assert!(matches!(escape_value(text), Cow::Borrowed(t) if t == text));
            assert!(matches!(escape_text(text), Cow::Borrowed(t) if t == text));
            assert!(matches!(escape_json(text), Cow::Borrowed(t) if t == text));
        }
    }

    #[test]
    fn text_keeps_its_lines_and_tabs() {
        let readme = "# Title\u{1b}[2J\n\tindented\u{7}\r\nlast\u{202e}";
        assert_eq!(
            escape_text(readme),
            "# Title\\x1b[2J\n\tindented\\x07\\r\nlast\\u{202e}"
        );
    }

    #[test]
    fn escaping_twice_changes_nothing() {
        let once = escape_value(HOSTILE).into_owned();
        assert_eq!(escape_value(&once), once);
        assert_eq!(escape_text(&once), once);
    }

    #[test]
    fn json_stays_the_same_value() {
        let key = format!("{HOSTILE}\u{7f}\u{85}\u{202e}\u{2066}");
        let json = serde_json::to_string_pretty(&serde_json::json!({ "path": key })).unwrap();
        let safe = escape_json(&json);
        assert!(!safe.chars().any(|c| is_unsafe(c) && c != '\n'), "{safe}");
        assert!(safe.contains("\\u007f\\u0085\\u202e\\u2066"), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["path"], key.as_str());
    }
}
