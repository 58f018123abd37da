//! `create_bucket_with_users`: the remote it returns, least privilege of its users, and
//! running it twice.

use dpipe_provision::create_bucket_with_users;

use crate::objects::{as_user, assert_denied, delete, get, list, put};
use dpipe_testkit::moto::{self, REGION, json_of, keys_of};

#[tokio::test]
async fn creates_a_bucket_with_least_privilege_users() {
    let admin = moto::admin("create", &[]).await;
    let remote = create_bucket_with_users(&admin, "alpha").await.unwrap();

    let json = json_of(&remote);
    assert_eq!(json["name"], "alpha");
    assert_eq!(json["protocol"], "s3");
    assert_eq!(json["location"], "dpipe-alpha");
    assert_eq!(
        json["settings"],
        serde_json::json!({"endpoint": moto::moto().url, "region": REGION})
    );
    for role in ["read", "write"] {
        let keys = json["credentials"][role].as_object().unwrap();
        assert_eq!(keys.len(), 2, "{role}");
        let secret = keys["aws_secret_access_key"].as_str().unwrap();
        assert!(
            !secret.is_empty() && !format!("{remote:?}").contains(secret),
            "Debug shows a secret"
        );
    }
    assert_eq!(
        keys_of("dpipe-alpha-read").await.unwrap(),
        std::slice::from_ref(&remote.credentials.read.aws_access_key_id)
    );

    let reader = as_user(&remote.credentials.read).await;
    let writer = as_user(&remote.credentials.write).await;
    put(&writer, "dpipe-alpha", "data/a.csv", "a,b\n1,2\n")
        .await
        .unwrap();
    assert_eq!(list(&reader, "dpipe-alpha").await.unwrap(), ["data/a.csv"]);
    assert_eq!(
        get(&reader, "dpipe-alpha", "data/a.csv").await.unwrap(),
        "a,b\n1,2\n"
    );
    assert_denied(put(&reader, "dpipe-alpha", "data/b.csv", "x").await);
    assert_denied(delete(&reader, "dpipe-alpha", "data/a.csv").await);
    assert_eq!(list(&writer, "dpipe-alpha").await.unwrap(), ["data/a.csv"]);
    delete(&writer, "dpipe-alpha", "data/a.csv").await.unwrap();
    assert_eq!(
        list(&reader, "dpipe-alpha").await.unwrap(),
        Vec::<String>::new()
    );

    // A neighbour whose name starts like this one: neither user may touch it.
    let root = moto::root().await;
    root.s3()
        .create_bucket()
        .bucket("dpipe-alphabet")
        .send()
        .await
        .unwrap();
    put(&root, "dpipe-alphabet", "secret.csv", "s")
        .await
        .unwrap();
    for user in [&reader, &writer] {
        assert_denied(list(user, "dpipe-alphabet").await);
        assert_denied(get(user, "dpipe-alphabet", "secret.csv").await);
        assert_denied(put(user, "dpipe-alphabet", "x.csv", "x").await);
        assert_denied(delete(user, "dpipe-alphabet", "secret.csv").await);
    }
    assert_eq!(
        get(&root, "dpipe-alphabet", "secret.csv").await.unwrap(),
        "s"
    );
}

#[tokio::test]
async fn running_twice_reuses_everything_and_rotates_the_keys() {
    let admin = moto::admin("twice", &[]).await;
    let first = create_bucket_with_users(&admin, "beta").await.unwrap();
    let writer = as_user(&first.credentials.write).await;
    put(&writer, "dpipe-beta", "kept.csv", "kept")
        .await
        .unwrap();

    let second = create_bucket_with_users(&admin, "beta").await.unwrap();
    assert_eq!(second.location, first.location);
    for (user, old, new) in [
        (
            "dpipe-beta-read",
            &first.credentials.read,
            &second.credentials.read,
        ),
        (
            "dpipe-beta-write",
            &first.credentials.write,
            &second.credentials.write,
        ),
    ] {
        assert_ne!(old.aws_access_key_id, new.aws_access_key_id);
        assert_eq!(
            keys_of(user).await.unwrap(),
            std::slice::from_ref(&new.aws_access_key_id),
            "{user}"
        );
        let old_session = as_user(old).await;
        assert_eq!(
            list(&old_session, "dpipe-beta").await.unwrap_err(),
            "InvalidAccessKeyId"
        );
        assert_eq!(
            list(&as_user(new).await, "dpipe-beta").await.unwrap(),
            ["kept.csv"]
        );
    }
    // The bucket was reused, not recreated: the object survived, and the policies still hold.
    let reader = as_user(&second.credentials.read).await;
    assert_eq!(
        get(&reader, "dpipe-beta", "kept.csv").await.unwrap(),
        "kept"
    );
    assert_denied(put(&reader, "dpipe-beta", "x.csv", "x").await);
    put(
        &as_user(&second.credentials.write).await,
        "dpipe-beta",
        "x.csv",
        "x",
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn an_existing_bucket_is_reused_with_its_objects() {
    let root = moto::root().await;
    root.s3()
        .create_bucket()
        .bucket("dpipe-gamma")
        .send()
        .await
        .unwrap();
    put(&root, "dpipe-gamma", "old.csv", "old").await.unwrap();
    let admin = moto::admin("existing-bucket", &[]).await;
    let remote = create_bucket_with_users(&admin, "gamma").await.unwrap();
    let reader = as_user(&remote.credentials.read).await;
    assert_eq!(get(&reader, "dpipe-gamma", "old.csv").await.unwrap(), "old");
}
