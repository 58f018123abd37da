//! Orphans: files that exist on one side only, for `remove-orphans local|remote|both`.

use crate::filter::Filter;
use crate::manifest::Manifest;

/// Filtered paths present on one side only, each list sorted by path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Orphans {
    /// Local files the remote does not have (`remove-orphans local` deletes these).
    pub local_only: Vec<String>,
    /// Remote files the local side does not have (`remove-orphans remote` deletes these).
    pub remote_only: Vec<String>,
}

/// The orphans of `local` and `remote` among the paths `filter` lets through. Rejected keys
/// are not entries, so they are never orphans (nothing deletes what it cannot name safely).
pub fn orphans(local: &Manifest, remote: &Manifest, filter: &Filter) -> Orphans {
    let only = |side: &Manifest, other: &Manifest| -> Vec<String> {
        side.entries
            .iter()
            .filter(|e| filter.matches(&e.path) && other.get(&e.path).is_none())
            .map(|e| e.path.clone())
            .collect()
    };
    Orphans {
        local_only: only(local, remote),
        remote_only: only(remote, local),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testutil::*;

    #[test]
    fn one_sided_files() {
        let local = manifest(
            vec![
                local("both", "x", 1),
                local("l/only.csv", "x", 1),
                local("l.tmp", "x", 1),
            ],
            &[],
        );
        let remote = manifest(
            vec![
                s3("both", "y", 1),
                s3("r only.csv", "x", 1),
                s3("ü.csv", "x", 1),
            ],
            &["../escape"],
        );
        let f = |inc: Option<&str>, exc: Option<&str>| Filter::new(inc, exc).unwrap();
        let cases: Vec<(Filter, Vec<&str>, Vec<&str>)> = vec![
            (
                Filter::all(),
                vec!["l.tmp", "l/only.csv"],
                vec!["r only.csv", "ü.csv"],
            ),
            (
                f(Some("*.csv"), None),
                vec!["l/only.csv"],
                vec!["r only.csv", "ü.csv"],
            ),
            (
                f(None, Some("*.tmp|ü*")),
                vec!["l/only.csv"],
                vec!["r only.csv"],
            ),
            (f(Some("both"), None), vec![], vec![]),
        ];
        for (i, (filter, local_only, remote_only)) in cases.into_iter().enumerate() {
            let got = orphans(&local, &remote, &filter);
            assert_eq!(got.local_only, local_only, "case {i}");
            assert_eq!(got.remote_only, remote_only, "case {i}");
        }
        let empty = Manifest::default();
        assert_eq!(orphans(&empty, &empty, &Filter::all()), Orphans::default());
        let all_local = orphans(&local, &empty, &Filter::all());
        assert_eq!(all_local.local_only.len(), 3);
        assert!(all_local.remote_only.is_empty());
    }
}
