//! Names that do not exist, in words: "pipe typo not found; did you mean demo?". The close
//! names come from what the caller can see (its pipe list), so a suggestion never reveals a
//! pipe the caller may not read.

use crate::{Error, ErrorKind, RepoApi};

/// At most this many suggestions.
const MOST: usize = 3;

/// The names among `candidates` close to `name`: within an edit distance of 2, or sharing a
/// prefix of 3 characters (or all of the shorter name), closest first. `name` itself is not
/// suggested.
pub fn close_names<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut close: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter(|c| *c != name)
        .filter_map(|c| {
            let distance = edit_distance(name, c);
            let prefix = common_prefix(name, c);
            let shorter = name.chars().count().min(c.chars().count());
            (distance <= 2 || (prefix > 0 && prefix >= shorter.min(3))).then_some((distance, c))
        })
        .collect();
    close.sort();
    close.dedup();
    close
        .into_iter()
        .take(MOST)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// The error for a pipe `pipe` the caller cannot see: its name, and the close names among
/// the caller's pipes (none when the list cannot be read).
pub fn pipe_not_found(api: &dyn RepoApi, pipe: &str) -> Error {
    let pipes = api.list_pipes().unwrap_or_default();
    let close = close_names(pipe, pipes.iter().map(|p| p.name.as_str()));
    Error::new(ErrorKind::NotFound, not_found_text("pipe", pipe, &close))
}

/// `what name not found`, with `; did you mean a, b?` when something is close.
pub fn not_found_text(what: &str, name: &str, close: &[String]) -> String {
    if close.is_empty() {
        format!("{what} {name} not found")
    } else {
        format!(
            "{what} {name} not found; did you mean {}?",
            close.join(", ")
        )
    }
}

/// Replaces a not-found error about `pipe` with one that names it and suggests close names;
/// any other error is returned unchanged.
pub(crate) fn name_missing_pipe(api: &dyn RepoApi, pipe: &str, err: Error) -> Error {
    if err.kind() == ErrorKind::NotFound && err.field().is_none() {
        pipe_not_found(api, pipe)
    } else {
        err
    }
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_by_distance_or_prefix() {
        let names = ["demo", "demo-eu", "sales", "vendor"];
        assert_eq!(close_names("demoo", names), ["demo", "demo-eu"]);
        assert_eq!(close_names("dem", names), ["demo", "demo-eu"]);
        assert_eq!(close_names("sale", names), ["sales"]);
        assert_eq!(close_names("vendro", names), ["vendor"]);
        assert!(close_names("zzzzzz", names).is_empty());
        assert!(close_names("demo", ["demo"]).is_empty());
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "ab"), 2);
    }

    #[test]
    fn not_found_text_names_and_suggests() {
        assert_eq!(not_found_text("pipe", "x", &[]), "pipe x not found");
        assert_eq!(
            not_found_text("pipe", "demoo", &["demo".to_string()]),
            "pipe demoo not found; did you mean demo?"
        );
    }
}
