//! `delete_bucket` and `delete_user`: what they remove, what they refuse, and that running
//! them again is a no-op success.

use dpipe_provision::{ErrorKind, Removal, create_bucket_with_users, delete_bucket, delete_user};

use crate::objects::{as_user, list, put};
use dpipe_testkit::moto::{self, bucket_exists, keys_of, user_exists};

#[tokio::test]
async fn removes_bucket_users_and_keys() {
    let admin = moto::admin("remove", &[]).await;
    let remote = create_bucket_with_users(&admin, "zeta").await.unwrap();
    let writer = as_user(&remote.credentials.write).await;
    for i in 0..3 {
        put(&writer, "dpipe-zeta", &format!("part-{i}.csv"), "x")
            .await
            .unwrap();
    }

    let err = delete_bucket(&admin, "dpipe-zeta", false)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotEmpty, "{err}");
    assert!(err.message().contains("dpipe-zeta is not empty"), "{err}");
    assert_eq!(
        list(&writer, "dpipe-zeta").await.unwrap().len(),
        3,
        "refusal deleted objects"
    );

    assert_eq!(
        delete_bucket(&admin, "dpipe-zeta", true).await.unwrap(),
        Removal::Removed
    );
    assert!(!bucket_exists("dpipe-zeta").await);
    for user in ["dpipe-zeta-read", "dpipe-zeta-write"] {
        assert_eq!(delete_user(&admin, user).await.unwrap(), Removal::Removed);
        assert!(!user_exists(user).await);
        assert_eq!(keys_of(user).await, None);
    }
    assert_eq!(
        list(&writer, "dpipe-zeta").await.unwrap_err(),
        "InvalidAccessKeyId"
    );

    // Again: nothing left to do, and that is fine.
    assert_eq!(
        delete_bucket(&admin, "dpipe-zeta", true).await.unwrap(),
        Removal::AlreadyAbsent
    );
    assert_eq!(
        delete_user(&admin, "dpipe-zeta-read").await.unwrap(),
        Removal::AlreadyAbsent
    );
}

#[tokio::test]
async fn an_empty_bucket_needs_no_force() {
    let root = moto::root().await;
    root.s3()
        .create_bucket()
        .bucket("dpipe-eta")
        .send()
        .await
        .unwrap();
    let admin = moto::admin("remove-empty", &[]).await;
    assert_eq!(
        delete_bucket(&admin, "dpipe-eta", false).await.unwrap(),
        Removal::Removed
    );
    assert!(!bucket_exists("dpipe-eta").await);
}
