//! Attacks on where a key reaches: other pipes' folders, keys and prefixes that would leave
//! the pipe's folder, and writes with a read key.

use dpipe_core::role::Access;

use super::support::*;

/// Case 1 and 7: another pipe's folder, another owner's folder of the same pipe name, the
/// bucket root, a bare prefix that would match a sibling, bucket operations, another bucket.
#[test]
fn a_key_reaches_only_its_own_pipe_folder_in_the_managed_bucket() {
    let w = World::new();
    let read = w.keys(&w.ann, "demo", Access::Read);
    let write = w.keys(&w.ann, "demo", Access::Write);
    w.ok(&read, Op::Get("ann/demo/a.csv"));
    w.ok(&read, Op::List(Some("ann/demo/"), Some("/")));
    w.ok(&read, Op::HeadBucket(BUCKET));
    let before = w.snapshot();

    for key in [
        "ann/other/x",
        "ann/demo-2/c.csv",
        "bob/demo/x",
        "bob/data/y",
        "ann/demo",
        "ann/demox",
    ] {
        let failure = w.refused(&read, Op::Get(key), "AccessDenied");
        let why = failure.message.unwrap_or_default();
        assert!(why.contains("reaches only s3://dpipe/ann/demo/"), "{why}");
        w.refused(&read, Op::Head(key), "AccessDenied");
        w.refused(&write, Op::Put(key), "AccessDenied");
        w.refused(&write, Op::Delete(key), "AccessDenied");
        w.refused(&write, Op::CreateUpload(key), "AccessDenied");
    }
    for (prefix, delimiter) in [
        (None, None),
        (Some(""), None),
        (None, Some("/")),
        (Some(""), Some("/")),
        (Some("ann/"), Some("/")),
        (Some("ann/demo"), None),
        (Some("ann/demo"), Some("/")),
        (Some("bob/demo/"), None),
        (Some("ann/other/"), None),
    ] {
        w.refused(&read, Op::List(prefix, delimiter), "AccessDenied");
        w.refused(&read, Op::ListV1(prefix), "AccessDenied");
    }
    // A copy would read another folder through a write to this one; ListMultipartUploads
    // would show every upload of the bucket. Neither operation is served at all.
    w.refused(
        &write,
        Op::Copy("bob/data/y", "ann/demo/stolen"),
        "NotImplemented",
    );
    w.refused(&read, Op::ListUploads, "NotImplemented");

    // Buckets are the server's: no key creates, deletes or lists them, nor reaches another.
    for keys in [&read, &write] {
        w.refused(keys, Op::CreateBucket("newbucket"), "AccessDenied");
        w.refused(keys, Op::DeleteBucket(BUCKET), "AccessDenied");
        w.refused(keys, Op::ListBuckets, "AccessDenied");
        w.refused(keys, Op::HeadBucket("elsewhere"), "AccessDenied");
        w.refused(
            keys,
            Op::GetIn("elsewhere", "ann/demo/a.csv"),
            "AccessDenied",
        );
        w.refused(keys, Op::ListIn("elsewhere", "ann/demo/"), "AccessDenied");
    }
    w.refused(
        &write,
        Op::PutIn("elsewhere", "ann/demo/a.csv"),
        "AccessDenied",
    );
    w.refused(&write, Op::CreateBucket("elsewhere"), "AccessDenied");
    assert_eq!(w.snapshot(), before);
}

/// Case 2: keys that would leave the pipe's folder, spelt as an SDK sends them and
/// percent-encoded on the wire (s3s decodes the whole path, `%2F` included, before it splits
/// bucket from key, so `%2e%2e` reaches the gate as `..`).
#[test]
fn keys_that_would_leave_the_pipe_folder_are_refused() {
    let w = World::new();
    let read = w.keys(&w.ann, "demo", Access::Read);
    let write = w.keys(&w.ann, "demo", Access::Write);
    let before = w.snapshot();
    for key in [
        "ann/demo/../bob/data/y",
        "ann/demo/../other/x",
        "ann/demo/..",
        "ann/demo/./a.csv",
        "/ann/demo/a.csv",
        "ann/demo//a.csv",
        "ann/demo//",
        "ann/demo/../",
        "ann/demo/sub//",
        "ann/demo/a\\..\\..\\bob\\data\\y",
        "ann/demo/a\u{1}b",
        "ann/demo/a\0b",
        "ann/demo/a\nb",
    ] {
        w.refused(&read, Op::Get(key), "AccessDenied");
        w.refused(&write, Op::Put(key), "AccessDenied");
        w.refused(&write, Op::Delete(key), "AccessDenied");
        w.refused(&write, Op::CreateUpload(key), "AccessDenied");
    }
    for prefix in [
        "ann/demo/../",
        "ann/demo/../bob/",
        "ann/demo/./",
        "ann/demo/a\\b",
    ] {
        w.refused(&read, Op::List(Some(prefix), None), "AccessDenied");
        w.refused(&read, Op::ListV1(Some(prefix)), "AccessDenied");
    }
    // Signed as the decoded path, sent encoded: AccessDenied (not SignatureDoesNotMatch)
    // shows the server decoded the wire path into `..` and the gate judged that.
    for (key, wire) in [
        (
            "ann/demo/../bob/data/y",
            "/dpipe/ann/demo/%2e%2e/bob/data/y",
        ),
        (
            "ann/demo/../bob/data/y",
            "/dpipe/ann/demo/%2E%2E/bob/data/y",
        ),
        ("ann/demo/../bob/data/y", "/dpipe/ann/demo/.%2e/bob/data/y"),
        (
            "ann/demo/../bob/data/y",
            "/dpipe/ann/demo/..%2Fbob%2Fdata%2Fy",
        ),
        (
            "ann/demo/../bob/data/y",
            "/dpipe/ann%2Fdemo%2F..%2Fbob%2Fdata%2Fy",
        ),
        ("ann/demo/../../x", "/dpipe/ann/demo/%2e%2e/%2e%2e/x"),
        ("/ann/demo/a.csv", "/dpipe/%2Fann/demo/a.csv"),
    ] {
        for write_op in [false, true] {
            let keys = if write_op { &write } else { &read };
            let op = Op::Rewired {
                key,
                wire,
                write: write_op,
            };
            w.refused(keys, op, "AccessDenied");
        }
    }
    // Folder markers (`sub/`, the pipe's own `ann/demo/`) are admitted since d6tpipe's
    // luigi probes them: they stay inside the folder, a missing key, not a refusal.
    for key in ["ann/demo/", "ann/demo/sub/"] {
        let failure = w.attempt(&read, Op::Get(key)).unwrap_err();
        assert_eq!(
            failure.code.as_deref(),
            Some("NoSuchKey"),
            "{key}: {failure:?}"
        );
    }
    assert_eq!(w.snapshot(), before);

    // A `%` the SDK sends as `%25` is an ordinary character: `%2e%2e` is then a plain name
    // inside the pipe's folder, stored and listed there, and nowhere else.
    w.ok(&write, Op::Put("ann/demo/%2e%2e/x"));
    let after = w.snapshot();
    let added: Vec<_> = after
        .listings
        .iter()
        .filter(|entry| !before.listings.contains(entry))
        .map(|(key, _, _)| key.as_str())
        .collect();
    assert_eq!(added, ["ann/demo/%2e%2e/x"]);
}

/// Case 3: a read key writes, deletes and uploads nothing; a DeleteObjects with one key
/// outside the folder is refused whole.
#[test]
fn a_read_key_changes_nothing_and_a_delete_reaching_out_is_refused_whole() {
    let w = World::new();
    let read = w.keys(&w.ann, "demo", Access::Read);
    let write = w.keys(&w.ann, "demo", Access::Write);
    let upload = w
        .run(
            write
                .client()
                .create_multipart_upload()
                .bucket(BUCKET)
                .key("ann/demo/big")
                .send(),
        )
        .unwrap();
    let id = upload.upload_id().unwrap();
    let before = w.snapshot();
    for op in [
        Op::Put("ann/demo/new.csv"),
        Op::Put("ann/demo/a.csv"),
        Op::Delete("ann/demo/a.csv"),
        Op::DeleteMany(&["ann/demo/a.csv"]),
        Op::CreateUpload("ann/demo/m"),
        Op::UploadPart("ann/demo/big", id),
        Op::CompleteUpload("ann/demo/big", id),
        Op::AbortUpload("ann/demo/big", id),
        Op::ListParts("ann/demo/big", id),
    ] {
        let failure = w.refused(&read, op, "AccessDenied");
        let why = failure.message.unwrap_or_default();
        assert!(why.contains("read-only"), "{op:?}: {why}");
    }
    // access.rs asks the gate about every key of a DeleteObjects before any is deleted, and
    // the first refusal refuses the request: not S3's per-key answer, but nothing half-done.
    for keys in [
        &["ann/demo/a.csv", "bob/data/y"][..],
        &["ann/demo/a.csv", "ann/demo/../bob/data/y"],
        &["ann/demo/a.csv", "ann/demo-2/c.csv"],
    ] {
        w.refused(&write, Op::DeleteMany(keys), "AccessDenied");
    }
    assert_eq!(w.snapshot(), before);

    // The same calls inside the folder with the write key go through.
    w.ok(&write, Op::AbortUpload("ann/demo/big", id));
    w.ok(&write, Op::DeleteMany(&["ann/demo/a.csv"]));
    let keys: Vec<_> = w.snapshot().listings.into_iter().map(|e| e.0).collect();
    assert_eq!(keys, ["ann/demo/sub/b.csv", "bob/data/y"]);
}
