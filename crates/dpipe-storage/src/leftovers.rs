//! What interrupted uploads left on a storage, listed ([`Storage::leftovers`]) and removed
//! ([`Storage::remove_leftovers`]): on `fs`, FTP and SFTP, dpipe's temporary keys
//! (`.dpipe-*`, which scans skip) anywhere under the pipe's root; on S3, multipart uploads
//! under the root that were never completed — as the server lists them, or, where it cannot
//! list them (s3s-fs), as this machine recorded them ([`Tuning::upload_records`]). Only
//! leftovers older than an age count ([`Tuning::leftover_age`]): a younger one may be an
//! upload of a run still going, or one the next run continues.
//!
//! [`Tuning::upload_records`]: crate::Tuning::upload_records
//! [`Tuning::leftover_age`]: crate::Tuning::leftover_age

use std::fmt;
use std::time::{Duration, SystemTime};

use futures::TryStreamExt as _;
use opendal::EntryMode;

use crate::error::{Error, Result};
use crate::location::Protocol;
use crate::manifest::is_temp_name;
use crate::operator::Storage;
use crate::s3_multipart::age_of;

/// One leftover of an interrupted upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// Its key, relative to the pipe's root: the temporary key, or the key an S3 upload was
    /// for.
    pub key: String,
    /// What it is.
    pub kind: LeftoverKind,
    /// How old it is (since its last write, or since the S3 upload started).
    pub age: Duration,
}

/// What a [`Leftover`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeftoverKind {
    /// A temporary key (`fs`, FTP, SFTP), deleted to remove it.
    TempKey,
    /// An S3 multipart upload never completed, aborted to remove it.
    Upload {
        /// The upload's id.
        upload_id: String,
    },
}

impl fmt::Display for Leftover {
    /// `data/big.bin (unfinished upload, 3 h old)`, or `data/.dpipe-put-….part (2 d old)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let age = rounded(self.age);
        match self.kind {
            LeftoverKind::TempKey => write!(f, "{} ({age})", self.key),
            LeftoverKind::Upload { .. } => {
                write!(f, "{} (unfinished upload, {age})", self.key)
            }
        }
    }
}

impl Storage {
    /// The leftovers of interrupted uploads under the pipe's root older than `age`, sorted by
    /// key.
    pub async fn leftovers(&self, age: Duration) -> Result<Vec<Leftover>> {
        let mut found = match self.protocol {
            Protocol::S3 => self.unfinished_uploads().await?,
            Protocol::Fs | Protocol::Ftp | Protocol::Sftp => self.temp_keys().await?,
        };
        found.retain(|l| l.age >= age);
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    /// Removes `leftovers` (as [`Storage::leftovers`] listed them): deletes the temporary
    /// keys, aborts the uploads. One that is already gone is fine; the first failure stops.
    pub async fn remove_leftovers(&self, leftovers: &[Leftover]) -> Result<()> {
        for leftover in leftovers {
            match &leftover.kind {
                LeftoverKind::TempKey => self
                    .op
                    .delete(&leftover.key)
                    .await
                    .map_err(|e| Error::from_opendal(e, "delete", &leftover.key))?,
                LeftoverKind::Upload { upload_id } => {
                    let multipart = self.multipart.as_deref().expect("an S3 storage");
                    multipart
                        .abort(&multipart.full_key(&leftover.key), upload_id)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Every dpipe temporary key under the root, with its age.
    async fn temp_keys(&self) -> Result<Vec<Leftover>> {
        let list_error = |e| Error::from_opendal(e, "list leftovers", "/");
        let mut lister = self
            .op
            .lister_with("")
            .recursive(true)
            .await
            .map_err(list_error)?;
        let mut found = Vec::new();
        while let Some(entry) = lister.try_next().await.map_err(list_error)? {
            let key = entry.path().trim_start_matches('/');
            if entry.metadata().mode() == EntryMode::DIR || !is_temp_name(key) {
                continue;
            }
            let modified = match entry.metadata().last_modified() {
                Some(t) => Some(t),
                None => self
                    .op
                    .stat(entry.path())
                    .await
                    .ok()
                    .and_then(|m| m.last_modified()),
            };
            found.push(Leftover {
                key: key.to_string(),
                kind: LeftoverKind::TempKey,
                // No time: a leftover of unknown age is taken as old (dpipe's own name).
                age: modified.map_or(Duration::MAX, |t| age_of(SystemTime::from(t))),
            });
        }
        Ok(found)
    }

    /// The S3 multipart uploads under the root never completed: as the server lists them, or
    /// as they were recorded here when it cannot list them.
    async fn unfinished_uploads(&self) -> Result<Vec<Leftover>> {
        let multipart = self.multipart.as_deref().expect("an S3 storage");
        let upload = |key: &str, upload_id: String, age| Leftover {
            key: multipart.relative(key).to_string(),
            kind: LeftoverKind::Upload { upload_id },
            age,
        };
        Ok(match multipart.list_uploads().await? {
            Some(listed) => listed
                .into_iter()
                .map(|u| {
                    let age = u.initiated.map_or(Duration::MAX, age_of);
                    upload(&u.key, u.upload_id, age)
                })
                .collect(),
            None => multipart
                .recorded()
                .into_iter()
                .map(|r| upload(&r.key, r.upload_id.clone(), r.age()))
                .collect(),
        })
    }
}

/// `age` in its largest whole unit: `40 s old`, `12 min old`, `3 h old`, `2 d old`.
fn rounded(age: Duration) -> String {
    let secs = age.as_secs();
    match secs {
        _ if age == Duration::MAX => "age unknown".to_string(),
        0..60 => format!("{secs} s old"),
        60..3600 => format!("{} min old", secs / 60),
        3600..86400 => format!("{} h old", secs / 3600),
        _ => format!("{} d old", secs / 86400),
    }
}
