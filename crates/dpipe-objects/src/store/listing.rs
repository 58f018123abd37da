//! Listing a page of keys without reading the bucket: one index range scan from the marker,
//! stopped at the end of the prefix or once the page is full; a common prefix (keys rolled
//! up at the delimiter) is skipped with one new range scan past it, not key by key.
//!
//! Continuation: a page ends after an item (a key or a common prefix); the next page starts
//! after that item, and a common prefix that sorts at or before the marker is not repeated
//! (S3's rule, which makes a returned common prefix a valid marker).

use rusqlite::{Connection, params};

use super::ObjectStore;
use crate::error::{Error, Result};

/// The most keys S3 returns in a page.
pub(crate) const MAX_KEYS: usize = 1000;

/// What to list.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListQuery {
    pub(crate) bucket: String,
    pub(crate) prefix: String,
    /// `None` or non-empty.
    pub(crate) delimiter: Option<String>,
    /// Start after this (a marker, start-after or a continuation point).
    pub(crate) after: Option<Vec<u8>>,
    pub(crate) max: usize,
}

/// A listed key.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub(crate) key: String,
    pub(crate) size: u64,
    pub(crate) etag: String,
    pub(crate) modified_ms: i64,
}

/// An item of a page.
#[derive(Debug, Clone)]
pub(crate) enum Entry {
    Object(Listed),
    /// A common prefix, ending with the delimiter.
    Prefix(String),
}

impl Entry {
    /// The key or prefix: where the next page starts after.
    pub(crate) fn name(&self) -> &str {
        match self {
            Entry::Object(o) => &o.key,
            Entry::Prefix(p) => p,
        }
    }
}

/// A page: its items in key order, and whether more follow.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub(crate) entries: Vec<Entry>,
    pub(crate) truncated: bool,
}

/// The first byte string after every string that starts with `prefix` (`prefix` with its
/// last byte raised, dropping trailing 0xFF bytes, which UTF-8 never holds anyway).
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut next = prefix.to_vec();
    while let Some(last) = next.pop() {
        if last < 0xFF {
            next.push(last + 1);
            return Some(next);
        }
    }
    None
}

/// Lists one page (blocking).
pub(crate) fn list(conn: &Connection, q: &ListQuery) -> Result<Page> {
    let mut page = Page::default();
    if q.max == 0 {
        return Ok(page);
    }
    let prefix = q.prefix.as_bytes();
    let delimiter = q.delimiter.as_deref().map(str::as_bytes);
    let after = q.after.as_deref();
    // (bound, inclusive)
    let mut start: (Vec<u8>, bool) = match after {
        Some(a) if a >= prefix => (a.to_vec(), false),
        _ => (prefix.to_vec(), true),
    };
    let db = |e| Error::db("list objects", e);
    'scan: loop {
        let sql = if start.1 {
            "SELECT key, size, etag, modified_ms FROM objects
             WHERE bucket = ?1 AND key >= ?2 ORDER BY key"
        } else {
            "SELECT key, size, etag, modified_ms FROM objects
             WHERE bucket = ?1 AND key > ?2 ORDER BY key"
        };
        let mut stmt = conn.prepare_cached(sql).map_err(db)?;
        let mut rows = stmt.query(params![q.bucket, start.0]).map_err(db)?;
        while let Some(row) = rows.next().map_err(db)? {
            let key = row.get_ref(0).and_then(|v| Ok(v.as_blob()?)).map_err(db)?;
            if !key.starts_with(prefix) {
                break 'scan;
            }
            let rolled = delimiter.and_then(|d| {
                let rest = &key[prefix.len()..];
                rest.windows(d.len())
                    .position(|w| w == d)
                    .map(|at| &key[..prefix.len() + at + d.len()])
            });
            if let Some(common) = rolled {
                let common = common.to_vec();
                let next = successor(&common);
                if after.is_none_or(|a| common.as_slice() > a) {
                    if page.entries.len() == q.max {
                        page.truncated = true;
                        break 'scan;
                    }
                    page.entries.push(Entry::Prefix(utf8(common)?));
                }
                match next {
                    Some(next) => start = (next, true),
                    None => break 'scan,
                }
                continue 'scan;
            }
            if page.entries.len() == q.max {
                page.truncated = true;
                break 'scan;
            }
            let key = utf8(key.to_vec())?;
            page.entries.push(Entry::Object(Listed {
                key,
                size: row.get(1).map_err(db)?,
                etag: row.get(2).map_err(db)?,
                modified_ms: row.get(3).map_err(db)?,
            }));
        }
        break;
    }
    Ok(page)
}

fn utf8(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| {
        Error::new(
            crate::error::ErrorKind::Corrupt,
            "the index holds a key that is not UTF-8",
        )
    })
}

impl ObjectStore {
    /// One page of `q`.
    pub(crate) async fn list(&self, q: ListQuery) -> Result<Page> {
        self.check_bucket(&q.bucket)?;
        self.blocking(move |inner| inner.readers.with(|conn| list(conn, &q)))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::successor;

    #[test]
    fn the_successor_of_a_prefix_sorts_after_all_its_keys() {
        assert_eq!(successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(successor(b"\xff"), None);
    }
}
