//! A run that fails half-way undoes what it created: no user it made is left, none holds a
//! key, no bucket it made is left. The failures are real: AWS (moto) refusing an action the
//! admin was not granted, at the call where the run needs it.

use dpipe_provision::{ErrorKind, create_bucket_with_users};

use dpipe_testkit::moto::{self, bucket_exists, keys_of, user_exists};

#[tokio::test]
async fn a_failure_after_the_read_key_was_made_deletes_it_and_its_user() {
    // The write user exists from before, with a key; the read user does not. The admin may
    // not list access keys, which the run needs only to rotate the write user's old key —
    // after the read user and its new key were created.
    let root = moto::root().await;
    root.iam()
        .create_user()
        .user_name("dpipe-delta-write")
        .send()
        .await
        .unwrap();
    let old = root
        .iam()
        .create_access_key()
        .user_name("dpipe-delta-write")
        .send()
        .await
        .unwrap();
    let old_id = old.access_key().unwrap().access_key_id().to_owned();
    let admin = moto::admin("no-list-keys", &["iam:ListAccessKeys"]).await;

    let err = create_bucket_with_users(&admin, "delta").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AccessDenied, "{err}");
    assert!(
        err.message()
            .contains("ListAccessKeys on dpipe-delta-write"),
        "{err}"
    );

    assert!(
        !user_exists("dpipe-delta-read").await,
        "the read user made by the run is left"
    );
    assert_eq!(keys_of("dpipe-delta-read").await, None);
    assert!(
        !bucket_exists("dpipe-delta").await,
        "the bucket made by the run is left"
    );
    // What existed before the run is not the run's to delete.
    assert_eq!(keys_of("dpipe-delta-write").await.unwrap(), [old_id]);
}

#[tokio::test]
async fn a_failure_at_the_first_key_deletes_the_users_and_the_bucket() {
    let admin = moto::admin("no-create-keys", &["iam:CreateAccessKey"]).await;
    let err = create_bucket_with_users(&admin, "epsilon")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AccessDenied, "{err}");
    assert!(
        err.message()
            .contains("CreateAccessKey on dpipe-epsilon-read"),
        "{err}"
    );
    for user in ["dpipe-epsilon-read", "dpipe-epsilon-write"] {
        assert!(!user_exists(user).await, "{user} is left");
    }
    assert!(!bucket_exists("dpipe-epsilon").await);

    // The same run with the full admin policy then succeeds from the clean state.
    let admin = moto::admin("after-failure", &[]).await;
    let remote = create_bucket_with_users(&admin, "epsilon").await.unwrap();
    assert_eq!(
        keys_of("dpipe-epsilon-write").await.unwrap(),
        [remote.credentials.write.aws_access_key_id]
    );
}
