//! Writing a file that holds secrets (tokens, storage keys): atomically — a temporary file in
//! the same folder, synced, then renamed over the target — and readable by its owner only
//! (mode 0600 on Unix) from its first byte on, so neither a crash nor another user ever sees
//! a partial or world-readable copy.

use std::path::Path;

use crate::{Error, ErrorKind, Result};

/// Writes `contents` to `path` atomically with mode 0600, replacing any file there (the one
/// implementation is `dpipe_registry::write_private_file`, shared with the server's key
/// files). The folder must exist. Errors are [`ErrorKind::Config`] naming the path.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    dpipe_registry::write_private_file(path, contents)
        .map_err(|err| Error::new(ErrorKind::Config, format!("{}: {err}", path.display())))
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn replaces_the_file_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.json");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
        let err = write_private(&dir.path().join("missing/x"), b"x").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
    }
}
