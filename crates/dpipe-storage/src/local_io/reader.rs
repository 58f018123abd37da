//! The reading side: a local file read in batches for an upload, hashed as it is read, and
//! whether it stayed the same version meanwhile.

use std::fs::{File, Metadata};
use std::io::Read as _;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::blocking;
use crate::error::{Error, Result};

/// A local file read in batches, for an upload, and hashed (SHA-256) as it is read.
pub(crate) struct LocalReader {
    file: Option<(File, Sha256)>,
    path: PathBuf,
    /// A read came back short: the end is reached, no need to ask the file again.
    at_end: bool,
}

impl LocalReader {
    /// Opens `path`; returns the reader and the file's metadata (from the open handle).
    pub(crate) async fn open(path: &Path) -> Result<(LocalReader, Metadata)> {
        let owned = path.to_path_buf();
        let (file, meta) = blocking("open", path, move || {
            let io = |e| Error::from_io(e, "open", &owned);
            let file = File::open(&owned).map_err(io)?;
            let meta = file.metadata().map_err(io)?;
            Ok((file, meta))
        })
        .await?;
        let reader = LocalReader {
            file: Some((file, Sha256::new())),
            path: path.to_path_buf(),
            at_end: false,
        };
        Ok((reader, meta))
    }

    /// Up to `max` bytes (fewer only at the end of the file; none at its end).
    pub(crate) async fn read(&mut self, max: usize) -> Result<Vec<u8>> {
        if self.at_end {
            return Ok(Vec::new());
        }
        let Some((mut file, mut sha)) = self.file.take() else {
            return Ok(Vec::new());
        };
        let path = self.path.clone();
        let (file, sha, buf) = blocking("read", &self.path, move || {
            let mut buf = Vec::with_capacity(max);
            (&mut file)
                .take(max as u64)
                .read_to_end(&mut buf)
                .map_err(|e| Error::from_io(e, "read", &path))?;
            sha.update(&buf);
            Ok((file, sha, buf))
        })
        .await?;
        self.file = Some((file, sha));
        self.at_end = buf.len() < max;
        Ok(buf)
    }

    /// The SHA-256 (hex) of what was read, and the file's metadata now (from the handle).
    pub(crate) fn finish(self) -> Result<(String, Metadata)> {
        let Some((file, sha)) = self.file else {
            return Err(Error::from_io(
                std::io::Error::other("an earlier read failed"),
                "read",
                &self.path,
            ));
        };
        let meta = file
            .metadata()
            .map_err(|e| Error::from_io(e, "read", &self.path))?;
        Ok((hex::encode(sha.finalize()), meta))
    }
}

/// Whether `a` and `b`, metadata of one open file at two moments, show the same version of it:
/// same inode, size and modification time (a write in between changes the time).
pub(crate) fn same_version(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    a.ino() == b.ino() && a.len() == b.len() && a.modified().ok() == b.modified().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::io::Write as _;
    use std::time::SystemTime;
    #[tokio::test]
    async fn a_file_written_while_it_is_read_is_another_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "first").unwrap();
        let (mut reader, opened) = LocalReader::open(&path).await.unwrap();
        assert_eq!(reader.read(1024).await.unwrap(), b"first");
        let (sha, now) = reader.finish().unwrap();
        assert_eq!(sha, hex::encode(Sha256::digest(b"first")));
        assert!(same_version(&opened, &now), "untouched: the same version");

        let (mut reader, opened) = LocalReader::open(&path).await.unwrap();
        reader.read(2).await.unwrap();
        let mut file = std::fs::File::options().append(true).open(&path).unwrap();
        file.write_all(b" and more").unwrap();
        file.set_modified(SystemTime::now() + std::time::Duration::from_secs(1))
            .unwrap();
        let (_, now) = reader.finish().unwrap();
        assert!(!same_version(&opened, &now), "written meanwhile");
    }
}
