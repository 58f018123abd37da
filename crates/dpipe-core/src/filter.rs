//! Include/exclude filters: which relative paths of a pipe a command considers.
//!
//! A filter is two `|`-separated lists of glob patterns, matched against the whole relative
//! path (`/`-separated) with d6tpipe's semantics, i.e. Python's `fnmatch` on POSIX:
//!
//! * `*` matches any run of characters **including `/`**, so `*.csv` matches `a.csv` and
//!   `a/b.csv`, and `a/*` matches everything under `a/` at any depth;
//! * `?` matches exactly one character (a Unicode scalar value, `/` included);
//! * `[seq]` matches one character of the set, `[!seq]` one character not in it; ranges such
//!   as `[a-z]` work, a `]` first in the set is literal (`[]]`), and `[[]` matches a literal
//!   `[` (fnmatch has no backslash escape);
//! * everything else matches itself, case-sensitively; spaces are significant (no trimming,
//!   since file names may begin or end with spaces).
//!
//! Empty parts (`a||b`, a trailing `|`) are ignored. An empty include list means "everything";
//! an exclude always wins over an include. One deliberate difference from fnmatch: an
//! unclosed `[` is an error rather than a literal, because it is almost always a typo.

use crate::{Error, Result};

/// One element of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A character that matches itself.
    Literal(char),
    /// `?`: any one character.
    AnyChar,
    /// `*`: any run of characters, possibly empty.
    AnyRun,
    /// `[...]`: one character in (or, if `negated`, not in) the inclusive ranges.
    Set {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A compiled fnmatch-style pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern(Vec<Token>);

impl Pattern {
    fn parse(text: &str) -> std::result::Result<Pattern, String> {
        let chars: Vec<char> = text.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' => {
                    if tokens.last() != Some(&Token::AnyRun) {
                        tokens.push(Token::AnyRun);
                    }
                    i += 1;
                }
                '?' => {
                    tokens.push(Token::AnyChar);
                    i += 1;
                }
                '[' => {
                    let (token, next) = parse_set(&chars, i).ok_or_else(|| {
                        format!("\"{text}\": unclosed `[` (write `[[]` to match a literal `[`).")
                    })?;
                    tokens.push(token);
                    i = next;
                }
                c => {
                    tokens.push(Token::Literal(c));
                    i += 1;
                }
            }
        }
        Ok(Pattern(tokens))
    }

    /// Whether the pattern matches all of `text`: greedy `*` with single-point backtracking,
    /// linear in practice and never exponential.
    fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        let tokens = &self.0;
        let (mut t, mut p) = (0, 0);
        let mut backtrack: Option<(usize, usize)> = None;
        while t < text.len() {
            let step = match tokens.get(p) {
                Some(Token::AnyRun) => {
                    backtrack = Some((p, t));
                    p += 1;
                    continue;
                }
                Some(Token::Literal(c)) => *c == text[t],
                Some(Token::AnyChar) => true,
                Some(Token::Set { negated, ranges }) => {
                    ranges
                        .iter()
                        .any(|&(lo, hi)| lo <= text[t] && text[t] <= hi)
                        != *negated
                }
                None => false,
            };
            if step {
                p += 1;
                t += 1;
            } else if let Some((star, from)) = backtrack {
                p = star + 1;
                t = from + 1;
                backtrack = Some((star, from + 1));
            } else {
                return false;
            }
        }
        tokens[p..].iter().all(|token| *token == Token::AnyRun)
    }
}

/// Parses the set starting at `chars[start] == '['`; returns it and the index after its `]`,
/// or `None` when it is not closed.
fn parse_set(chars: &[char], start: usize) -> Option<(Token, usize)> {
    let mut i = start + 1;
    let negated = chars.get(i) == Some(&'!');
    if negated {
        i += 1;
    }
    let first = i;
    let mut ranges = Vec::new();
    loop {
        let c = *chars.get(i)?;
        if c == ']' && i > first {
            return Some((Token::Set { negated, ranges }, i + 1));
        }
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|&hi| hi != ']') {
            let hi = chars[i + 2];
            // fnmatch drops reversed ranges such as `[z-a]`: they match nothing.
            if c <= hi {
                ranges.push((c, hi));
            }
            i += 3;
        } else {
            ranges.push((c, c));
            i += 1;
        }
    }
}

/// Parses a `|`-separated list, skipping empty parts; `field` names the list in errors.
fn parse_list(field: &str, list: Option<&str>) -> Result<Vec<Pattern>> {
    list.unwrap_or_default()
        .split('|')
        .filter(|part| !part.is_empty())
        .map(|part| Pattern::parse(part).map_err(|why| Error::invalid_field(field, why)))
        .collect()
}

/// Which relative paths a command considers: d6tpipe's `include` / `exclude` options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    include: Vec<Pattern>,
    exclude: Vec<Pattern>,
}

impl Filter {
    /// Compiles `|`-separated glob lists. `None`, `""` or only empty parts mean no include
    /// restriction / nothing excluded. An invalid pattern is an [`Error::invalid_field`] on
    /// `include` or `exclude`.
    pub fn new(include: Option<&str>, exclude: Option<&str>) -> Result<Filter> {
        Ok(Filter {
            include: parse_list("include", include)?,
            exclude: parse_list("exclude", exclude)?,
        })
    }

    /// A filter that lets every path through.
    pub fn all() -> Filter {
        Filter::default()
    }

    /// Whether `path` (relative, `/`-separated) passes: it matches an include pattern (or
    /// there are none) and no exclude pattern.
    pub fn matches(&self, path: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| p.matches(path)))
            && !self.exclude.iter().any(|p| p.matches(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(pattern: &str, path: &str) -> bool {
        Pattern::parse(pattern).unwrap().matches(path)
    }

    #[test]
    fn fnmatch_semantics() {
        let cases: &[(&str, &str, bool)] = &[
            ("*.csv", "a.csv", true),
            ("*.csv", "a/b/c.csv", true),
            ("*.csv", "a.csv.bak", false),
            ("*.csv", ".csv", true),
            ("a/*", "a/b/c.txt", true),
            ("a/*", "ab/c.txt", false),
            ("*", "", true),
            ("", "", true),
            ("", "a", false),
            ("?.txt", "a.txt", true),
            ("?.txt", "ab.txt", false),
            ("a?b", "a/b", true),
            ("**/x", "a/b/x", true),
            ("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
            ("*a*b", "xaxxbyb", true),
            ("data[0-9].csv", "data7.csv", true),
            ("data[0-9].csv", "dataX.csv", false),
            ("data[!0-9].csv", "dataX.csv", true),
            ("data[!0-9].csv", "data7.csv", false),
            ("[]]x", "]x", true),
            ("[!]]x", "ax", true),
            ("[!]]x", "]x", false),
            ("[[]1]", "[1]", true),
            ("[a-]", "-", true),
            ("[z-a]x", "zx", false),
            ("[^a]", "^", true),
            ("[*]", "*", true),
            ("[*]", "x", false),
            ("Report.CSV", "report.csv", false),
            ("ü*.txt", "über/ß.txt", true),
            ("?ber", "über", true),
            ("[ä-ü]", "ö", true),
            ("*日本*", "dir/日本語.csv", true),
            ("my file *.txt", "my file 1.txt", true),
            ("my file *.txt", "myfile 1.txt", false),
            (" x", "x", false),
        ];
        for &(pattern, path, expected) in cases {
            assert_eq!(glob(pattern, path), expected, "{pattern:?} ~ {path:?}");
        }
    }

    #[test]
    fn include_and_exclude_lists() {
        let f = |inc: Option<&str>, exc: Option<&str>| Filter::new(inc, exc).unwrap();
        let cases: &[(Filter, &str, bool)] = &[
            (Filter::all(), "anything/at/all", true),
            (f(None, None), "x", true),
            (f(Some(""), Some("")), "x", true),
            (f(Some("|"), Some("||")), "x", true),
            (f(Some("*.csv|*.xls*"), None), "a/b.xlsx", true),
            (f(Some("*.csv|*.xls*"), None), "a/b.txt", false),
            (f(Some("*.csv||*.txt"), None), "b.txt", true),
            (f(Some("*.csv|"), None), "b.txt", false),
            (f(None, Some("tmp/*")), "tmp/x.csv", false),
            (f(None, Some("tmp/*")), "data/tmp/x.csv", true),
            (f(Some("*.csv"), Some("*secret*")), "a/secret.csv", false),
            (f(Some("*.csv"), Some("*.csv")), "a.csv", false),
            (f(Some("with space/*"), None), "with space/x", true),
            (f(Some("[[]draft]*"), None), "[draft] notes.md", true),
        ];
        for (i, (filter, path, expected)) in cases.iter().enumerate() {
            assert_eq!(filter.matches(path), *expected, "case {i}: {path:?}");
        }
    }

    #[test]
    fn invalid_patterns_name_their_field() {
        let err = Filter::new(Some("*.csv|data[1.csv"), None).unwrap_err();
        assert_eq!(err.field(), Some("include"));
        assert!(err.message().contains("unclosed `[`"), "{err}");
        assert!(err.message().contains("data[1.csv"), "{err}");
        let err = Filter::new(Some("*.csv"), Some("[!")).unwrap_err();
        assert_eq!(err.field(), Some("exclude"));
        assert!(Filter::new(Some("[]"), None).is_err());
        assert!(Filter::new(Some("[!]"), None).is_err());
    }
}
