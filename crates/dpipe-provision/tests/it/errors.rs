//! Wrong calls: bad names are refused before any AWS call, a dead endpoint and wrong keys
//! give clear errors, and none of them creates anything.

use dpipe_provision::{
    AccessKeyPair, AdminSession, ErrorKind, SessionOptions, create_bucket_with_users,
    delete_bucket, delete_user,
};

use dpipe_testkit::moto::{self, REGION, bucket_exists, closed_port, user_exists};

async fn session_at(url: String, keys: AccessKeyPair) -> AdminSession {
    let options = SessionOptions {
        endpoint_url: Some(url),
        region: Some(REGION.to_owned()),
        credentials: Some(keys),
    };
    AdminSession::load(options).await.unwrap()
}

#[tokio::test]
async fn bad_names_are_refused_without_an_aws_call() {
    // Any AWS call would fail as Unreachable: getting Invalid proves none was made.
    let url = format!("http://127.0.0.1:{}", closed_port());
    let session = session_at(url, AccessKeyPair::new("AKIAEXAMPLE", "example")).await;
    for name in [
        "",
        "Upper",
        "under_score",
        "dot.ted",
        "-lead",
        "trail-",
        &"x".repeat(53),
    ] {
        let err = create_bucket_with_users(&session, name).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{name:?}: {err}");
        assert!(err.message().starts_with("invalid remote name"), "{err}");
    }
    for bucket in ["other-bucket", "dpipe-", "dpipe-UP"] {
        let err = delete_bucket(&session, bucket, true).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{bucket}: {err}");
    }
    let err = delete_user(&session, "root").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(
        err.message().contains("dpipe only removes what it creates"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_clear_error() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let session = session_at(url, AccessKeyPair::new("AKIAEXAMPLE", "example")).await;
    let err = create_bucket_with_users(&session, "theta")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
    assert!(
        err.message().contains("could not reach the AWS endpoint"),
        "{err}"
    );
    assert!(
        !err.message().contains("example"),
        "the secret leaked: {err}"
    );
}

#[tokio::test]
async fn an_endpoint_that_is_not_http_is_refused() {
    let options = SessionOptions {
        endpoint_url: Some("ftp://127.0.0.1".into()),
        ..Default::default()
    };
    let err = AdminSession::load(options).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(
        err.message()
            .contains("must start with http:// or https://"),
        "{err}"
    );
}

#[tokio::test]
async fn unknown_keys_are_denied_and_create_nothing() {
    let session = session_at(
        moto::moto().url.clone(),
        AccessKeyPair::new("AKIAUNKNOWN", "nope"),
    )
    .await;
    let err = create_bucket_with_users(&session, "iota")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AccessDenied, "{err}");
    assert!(!err.message().contains("nope"), "the secret leaked: {err}");
    assert!(!bucket_exists("dpipe-iota").await);
    assert!(!user_exists("dpipe-iota-read").await);
}
