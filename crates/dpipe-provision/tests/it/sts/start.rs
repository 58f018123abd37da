//! What the server checks at start and the wrong calls of STS and the managed bucket.

use std::sync::Arc;

use dpipe_core::role::Access;
use dpipe_provision::{
    AccessKeyPair, BucketCheck, ErrorKind, StsIssuer, StsMode, ensure_managed_bucket,
};
use serde_json::json;

use dpipe_testkit::moto::{self, closed_port};

use super::support::*;

#[tokio::test]
async fn the_caller_is_known_at_start() {
    let fx = fixture().await;
    let issuer = StsIssuer::load(
        options(&moto::moto().url, &fx.admin),
        StsMode::FederationToken,
    )
    .await
    .unwrap();
    assert_eq!(issuer.caller_arn().await.unwrap(), fx.admin_arn);
    assert_eq!(issuer.max_session_seconds(), 129_600);
    let debug = format!("{issuer:?}");
    assert!(debug.contains(&moto::moto().url), "{debug}");
    assert!(!debug.contains(fx.admin.secret()), "{debug}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_does_not_trust_the_server_is_refused() {
    let fx = fixture().await;
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:user/somebody-else"},
        "Action": "sts:AssumeRole"}]});
    let untrusting = role("dpipe-managed-untrusting", &trust, Access::Read).await;
    let issuer = issuer(&fx.admin, StsMode::assume_role(&untrusting)).await;
    let err = issue(&issuer, request(Access::Read, 900))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), dpipe_core::ErrorKind::Internal);
    assert!(
        err.message()
            .starts_with("STS refused to issue credentials: AccessDenied"),
        "{err}"
    );
    assert!(err.message().contains(&untrusting), "{err}");
}

#[tokio::test]
async fn a_malformed_role_arn_is_refused_before_any_call() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let keys = AccessKeyPair::new("AKIAEXAMPLE", "example");
    for arn in ["dpipe-role", "arn:aws:iam::123456789012:user/ann"] {
        let err = StsIssuer::load(options(&url, &keys), StsMode::assume_role(arn))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{arn}: {err}");
        assert!(err.message().contains("invalid role ARN"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_without_the_right_to_call_sts_are_refused() {
    let fx = fixture().await;
    let (keys, _) = user(
        "sts-no-rights",
        json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]),
    )
    .await;
    for (mode, action) in [
        (StsMode::assume_role(&fx.write_role), "sts:AssumeRole"),
        (StsMode::FederationToken, "sts:GetFederationToken"),
    ] {
        let issuer = issuer(&keys, mode).await;
        let err = issue(&issuer, request(Access::Write, 900))
            .await
            .unwrap_err();
        assert!(
            err.message()
                .starts_with("STS refused to issue credentials: AccessDenied"),
            "{err}"
        );
        assert!(err.message().contains(action), "{err}");
        assert!(!err.message().contains(keys.secret()), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_keys_are_refused() {
    let keys = AccessKeyPair::new("AKIANOBODY", "not-a-secret-moto-knows");
    let issuer = issuer(&keys, StsMode::FederationToken).await;
    let err = issue(&issuer, request(Access::Read, 900))
        .await
        .unwrap_err();
    assert!(
        err.message()
            .starts_with("STS refused to issue credentials: InvalidClientTokenId"),
        "{err}"
    );
    assert!(!err.message().contains(keys.secret()), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_sts_is_a_clear_error() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let keys = AccessKeyPair::new("AKIAEXAMPLE", "example-secret");
    let issuer = Arc::new(
        StsIssuer::load(options(&url, &keys), StsMode::FederationToken)
            .await
            .unwrap(),
    );
    let err = issue(&issuer, request(Access::Read, 900))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), dpipe_core::ErrorKind::Internal);
    assert!(
        err.message()
            .starts_with(&format!("cannot reach STS at {url}")),
        "{err}"
    );
    assert!(!err.message().contains("example-secret"), "{err}");
    let err = issuer.caller_arn().await.unwrap_err();
    assert!(err.message().starts_with("cannot reach STS at"), "{err}");
}

#[tokio::test]
async fn the_managed_bucket_is_found_or_created() {
    let root = moto::root().await;
    let bucket = "dpipe-managed-fresh";
    let err = ensure_managed_bucket(&root, bucket, false)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(
        err.message().contains(&format!(
            "managed bucket {bucket} does not exist at {}",
            moto::moto().url
        )),
        "{err}"
    );
    assert!(!moto::bucket_exists(bucket).await);
    assert_eq!(
        ensure_managed_bucket(&root, bucket, true).await.unwrap(),
        BucketCheck::Created
    );
    assert!(moto::bucket_exists(bucket).await);
    for create in [true, false] {
        assert_eq!(
            ensure_managed_bucket(&root, bucket, create).await.unwrap(),
            BucketCheck::Existed
        );
    }

    for bad in ["", "ab", "a/b", "b?x", "b*"] {
        let err = ensure_managed_bucket(&root, bad, true).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{bad:?}: {err}");
    }
}

#[tokio::test]
async fn the_bucket_check_names_the_missing_permission() {
    let (keys, _) = user(
        "sts-list-only",
        json!([{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]),
    )
    .await;
    let session = moto::session(&keys).await;
    let err = ensure_managed_bucket(&session, "dpipe-managed-not-made", true)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AccessDenied, "{err}");
    assert!(err.message().contains("need s3:CreateBucket"), "{err}");
    assert!(!moto::bucket_exists("dpipe-managed-not-made").await);

    let (keys, _) = user(
        "sts-no-s3",
        json!([{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]),
    )
    .await;
    let session = moto::session(&keys).await;
    fixture().await;
    let err = ensure_managed_bucket(&session, BUCKET, false)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AccessDenied, "{err}");
    assert!(err.message().contains("need s3:ListBucket"), "{err}");
}
