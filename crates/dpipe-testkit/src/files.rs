//! Looking at folders the way tests check them: every file below a folder, with its path
//! relative to it, so that "nothing changed" and "no secret in clear" cover sub-folders too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every regular file below `root` (recursively), by path relative to `root`, with its size.
pub fn files_under(root: &Path) -> BTreeMap<PathBuf, u64> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, u64>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let entry = entry.expect("a folder entry");
        let meta = entry.metadata().expect("an entry's metadata");
        if meta.is_dir() {
            walk(root, &entry.path(), out);
        } else {
            let path = entry
                .path()
                .strip_prefix(root)
                .expect("below root")
                .to_path_buf();
            out.insert(path, meta.len());
        }
    }
}
