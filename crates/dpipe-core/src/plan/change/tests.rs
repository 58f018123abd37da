//! Table-driven tests of content comparison and change detection.

use super::*;
use crate::plan::testutil::*;

/// Name, local, remote, last-sync record, protocol, expected verdict.
type CompareRow<'a> = (
    &'a str,
    &'a ManifestEntry,
    ManifestEntry,
    Option<&'a SyncedFile>,
    Protocol,
    Sameness,
);

fn rules(p: Protocol) -> ChangeRules {
    ChangeRules::for_protocol(p)
}

#[test]
fn windows_per_protocol() {
    let cases = [
        (Protocol::S3, 0),
        (Protocol::Fs, 0),
        (Protocol::Sftp, 2),
        (Protocol::Ftp, 60),
    ];
    for (p, secs) in cases {
        assert_eq!(rules(p).mtime_window, Duration::from_secs(secs), "{p}");
        assert_eq!(rules(p).protocol, p);
    }
}

#[test]
fn single_part_etags() {
    assert!(is_single_part_etag(&md5_of("x")));
    assert!(is_single_part_etag("D41D8CD98F00B204E9800998ECF8427E"));
    assert!(!is_single_part_etag(&multipart_etag("x")));
    assert!(!is_single_part_etag("d41d8cd98f00b204e9800998ecf8427"));
    assert!(!is_single_part_etag("g41d8cd98f00b204e9800998ecf8427e"));
    assert!(!is_single_part_etag(""));
}

#[test]
fn md5_is_wanted_only_where_it_may_decide() {
    let l = local("f", "v1", 100);
    let object = s3("f", "v1", 100);
    let replaced = s3("f", "v2", 100);
    let rec = record(&l, &object);
    let cases = [
        (
            "single-part etag, never synced",
            &object,
            None,
            Protocol::S3,
            true,
        ),
        (
            "synced with this etag",
            &object,
            Some(&rec),
            Protocol::S3,
            false,
        ),
        (
            "replaced since the sync",
            &replaced,
            Some(&rec),
            Protocol::S3,
            true,
        ),
        (
            "multipart etag",
            &multipart("f", "v1", 5),
            None,
            Protocol::S3,
            false,
        ),
        (
            "stored sha256",
            &dpipe_upload("f", "v1", 5),
            None,
            Protocol::S3,
            false,
        ),
        ("no etag", &ftp("f", 2, 100), None, Protocol::S3, false),
        ("not S3", &object, None, Protocol::Fs, false),
    ];
    for (name, remote, synced, protocol, wanted) in cases {
        assert_eq!(
            md5_may_decide(remote, synced, rules(protocol)),
            wanted,
            "{name}"
        );
        // Where it is not wanted, compare decides the same without it.
        let without = ManifestEntry {
            md5: None,
            ..l.clone()
        };
        if !wanted {
            assert_eq!(
                compare(&without, remote, synced, rules(protocol)),
                compare(&l, remote, synced, rules(protocol)),
                "{name}"
            );
        }
    }
}

#[test]
fn compare_table() {
    use Sameness::*;
    let l = local("f", "v1", 100);
    let l_edit = local("f", "v2", 100); // same size, same mtime, other content
    let l_upper = ManifestEntry {
        md5: l.md5.as_ref().map(|m| m.to_uppercase()),
        sha256: None,
        ..l.clone()
    };
    let rec = record(&l, &s3("f", "v1", 100));
    let ftp_rec = record(&l, &ftp("f", 2, 100));
    let cases: Vec<CompareRow> = vec![
        (
            "sha256 equal",
            &l,
            dpipe_upload("f", "v1", 1),
            None,
            Protocol::S3,
            Same,
        ),
        (
            "sha256 same-size edit",
            &l_edit,
            dpipe_upload("f", "v1", 100),
            None,
            Protocol::S3,
            Different,
        ),
        (
            "sha256 wins over a multipart etag",
            &l,
            multipart("f", "v1", 5),
            None,
            Protocol::S3,
            Same,
        ),
        (
            "md5 = single-part etag",
            &l,
            s3("f", "v1", 7),
            None,
            Protocol::S3,
            Same,
        ),
        (
            "md5 case-insensitive",
            &l_upper,
            s3("f", "v1", 7),
            None,
            Protocol::S3,
            Same,
        ),
        (
            "md5 same-size edit",
            &l_edit,
            s3("f", "v1", 100),
            None,
            Protocol::S3,
            Different,
        ),
        (
            "multipart etag not compared",
            &l,
            ManifestEntry {
                sha256: None,
                ..multipart("f", "v1", 100)
            },
            None,
            Protocol::S3,
            Unknown,
        ),
        (
            "multipart etag, sizes differ",
            &l,
            ManifestEntry {
                sha256: None,
                ..multipart("f", "v1-long", 100)
            },
            None,
            Protocol::S3,
            Different,
        ),
        (
            "etag off S3 not an md5",
            &l,
            s3("f", "v1", 100),
            None,
            Protocol::Fs,
            Unknown,
        ),
        (
            "s3s-fs: no etag, no record",
            &l,
            ftp("f", 2, 100),
            None,
            Protocol::S3,
            Unknown,
        ),
        (
            "s3s-fs: no etag, record",
            &l,
            ftp("f", 2, 100),
            Some(&rec),
            Protocol::S3,
            Same,
        ),
        (
            "ftp sizes differ",
            &l,
            ftp("f", 3, 100),
            Some(&ftp_rec),
            Protocol::Ftp,
            Different,
        ),
        (
            "ftp no record",
            &l,
            ftp("f", 2, 100),
            None,
            Protocol::Ftp,
            Unknown,
        ),
        (
            "ftp record, mtime in window",
            &l,
            ftp("f", 2, 159),
            Some(&ftp_rec),
            Protocol::Ftp,
            Same,
        ),
        (
            "ftp record, mtime at window",
            &l,
            ftp("f", 2, 40),
            Some(&ftp_rec),
            Protocol::Ftp,
            Same,
        ),
        (
            "ftp record, mtime outside",
            &l,
            ftp("f", 2, 161),
            Some(&ftp_rec),
            Protocol::Ftp,
            Unknown,
        ),
        (
            "sftp record, mtime outside",
            &l,
            ftp("f", 2, 103),
            Some(&ftp_rec),
            Protocol::Sftp,
            Unknown,
        ),
        (
            "sftp record, mtime inside",
            &l,
            ftp("f", 2, 102),
            Some(&ftp_rec),
            Protocol::Sftp,
            Same,
        ),
        (
            "ftp record, local same-size edit",
            &l_edit,
            ftp("f", 2, 100),
            Some(&ftp_rec),
            Protocol::Ftp,
            Unknown,
        ),
        (
            "ftp record, remote mtime unknown",
            &l,
            ManifestEntry {
                modified: None,
                ..ftp("f", 2, 100)
            },
            Some(&ftp_rec),
            Protocol::Ftp,
            Unknown,
        ),
    ];
    for (name, local, remote, synced, p, expected) in cases {
        assert_eq!(
            compare(local, &remote, synced, rules(p)),
            expected,
            "{name}"
        );
    }
}

#[test]
fn local_changes() {
    let l = local("f", "v1", 100);
    let rec = record(&l, &s3("f", "v1", 100));
    assert!(!local_changed_since_sync(&l, Some(&rec)));
    let touched = local("f", "v1", 999); // mtime alone is not a change
    assert!(!local_changed_since_sync(&touched, Some(&rec)));
    assert!(local_changed_since_sync(&local("f", "v2", 100), Some(&rec)));
    assert!(local_changed_since_sync(&l, None));
    let unhashed = ManifestEntry { sha256: None, ..l };
    assert!(local_changed_since_sync(&unhashed, Some(&rec)));
}

#[test]
fn remote_changes() {
    let l = local("f", "v1", 100);
    let s3_rec = record(&l, &s3("f", "v1", 100));
    let ftp_rec = record(&l, &ftp("f", 2, 100));
    let cases: Vec<(&str, ManifestEntry, Option<&SyncedFile>, Protocol, bool)> = vec![
        ("never synced", s3("f", "v1", 100), None, Protocol::S3, true),
        (
            "etag equal",
            s3("f", "v1", 100),
            Some(&s3_rec),
            Protocol::S3,
            false,
        ),
        (
            "etag equal, mtime moved",
            s3("f", "v1", 500),
            Some(&s3_rec),
            Protocol::S3,
            false,
        ),
        (
            "etag differs, same size",
            s3("f", "v2", 100),
            Some(&s3_rec),
            Protocol::S3,
            true,
        ),
        (
            "no etag listed, same time",
            ftp("f", 2, 100),
            Some(&s3_rec),
            Protocol::S3,
            false,
        ),
        (
            "no etag listed, 1 s later",
            ftp("f", 2, 101),
            Some(&s3_rec),
            Protocol::S3,
            true,
        ),
        (
            "stored sha256 equal",
            ManifestEntry {
                etag: None,
                ..dpipe_upload("f", "v1", 999)
            },
            Some(&ftp_rec),
            Protocol::Ftp,
            false,
        ),
        (
            "stored sha256 differs",
            ManifestEntry {
                etag: None,
                ..dpipe_upload("f", "v2", 100)
            },
            Some(&ftp_rec),
            Protocol::Ftp,
            true,
        ),
        (
            "ftp size differs",
            ftp("f", 3, 100),
            Some(&ftp_rec),
            Protocol::Ftp,
            true,
        ),
        (
            "ftp within 60 s",
            ftp("f", 2, 160),
            Some(&ftp_rec),
            Protocol::Ftp,
            false,
        ),
        (
            "ftp beyond 60 s",
            ftp("f", 2, 161),
            Some(&ftp_rec),
            Protocol::Ftp,
            true,
        ),
        (
            "ftp earlier, within",
            ftp("f", 2, 41),
            Some(&ftp_rec),
            Protocol::Ftp,
            false,
        ),
        (
            "sftp beyond 2 s",
            ftp("f", 2, 97),
            Some(&ftp_rec),
            Protocol::Sftp,
            true,
        ),
        (
            "fs exact",
            ftp("f", 2, 100),
            Some(&ftp_rec),
            Protocol::Fs,
            false,
        ),
        (
            "fs 1 s off",
            ftp("f", 2, 99),
            Some(&ftp_rec),
            Protocol::Fs,
            true,
        ),
        (
            "mtime unknown",
            ManifestEntry {
                modified: None,
                ..ftp("f", 2, 100)
            },
            Some(&ftp_rec),
            Protocol::Ftp,
            true,
        ),
    ];
    for (name, remote, synced, p, expected) in cases {
        assert_eq!(
            remote_changed_since_sync(&remote, synced, rules(p)),
            expected,
            "{name}"
        );
    }
}
