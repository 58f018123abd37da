//! Issued credentials reach the pipe's folder with the caller's role only.

use dpipe_core::role::Access;
use dpipe_provision::StsMode;
use serde_json::{Value, json};

use dpipe_testkit::moto;

use super::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_credentials_reach_the_pipe_only() {
    let fx = fixture().await;
    let issuer = issuer(&fx.admin, StsMode::assume_role(&fx.write_role)).await;
    // 12 hours wanted; the role's default maximum is one.
    let issued = issue(&issuer, request(Access::Write, 43_200))
        .await
        .unwrap();
    assert_lifetime(&issued, 3_600);
    assert!(!issued.session_token.is_empty());
    let debug = format!("{issued:?}");
    assert!(!debug.contains(&issued.secret_access_key) && !debug.contains(&issued.session_token));

    let received = assumed_role(&issued.access_key_id);
    assert_eq!(
        received["policy"].as_str().unwrap(),
        include_str!("../../../../dpipe-core/src/session_policy/write.json")
    );
    assert_eq!(received["session_name"], "dpipe-ann-demo");
    assert_eq!(received["role_arn"], fx.write_role.as_str());

    let s3 = s3_with(&issued);
    put(&s3, "ann/demo/a.csv").await.unwrap();
    assert_eq!(get(&s3, "ann/demo/a.csv").await.unwrap(), b"ann/demo/a.csv");
    assert_eq!(get(&s3, "ann/demo/seed.csv").await.unwrap(), b"seed");
    let listed = list(&s3, PREFIX).await.unwrap();
    assert!(listed.contains(&"ann/demo/a.csv".to_owned()), "{listed:?}");
    multipart(&s3, "ann/demo/big.bin").await.unwrap();
    assert_eq!(get(&s3, "ann/demo/big.bin").await.unwrap(), b"one part");
    aborted_multipart(&s3, "ann/demo/gone.bin").await.unwrap();
    delete(&s3, "ann/demo/a.csv").await.unwrap();
    delete(&s3, "ann/demo/big.bin").await.unwrap();
    assert!(
        !list(&s3, PREFIX)
            .await
            .unwrap()
            .contains(&"ann/demo/a.csv".to_owned())
    );

    for outside in ["ann/demo-2/x", "bob/demo/x", "ann/demo"] {
        assert_denied(put(&s3, outside).await);
        assert_denied(get(&s3, outside).await);
        assert_denied(delete(&s3, outside).await);
        assert_denied(multipart(&s3, outside).await);
    }
    let root = moto::root().await;
    for kept in ["ann/demo-2/x", "bob/demo/x"] {
        let object = root.s3().get_object().bucket(BUCKET).key(kept).send();
        let body = object.await.unwrap().body.collect().await.unwrap();
        assert_eq!(body.into_bytes().as_ref(), b"seed", "{kept}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_credentials_list_and_get_the_pipe_only() {
    let fx = fixture().await;
    let issuer = issuer(&fx.admin, StsMode::assume_role(&fx.read_role)).await;
    // Shorter than STS's minimum: 15 minutes.
    let issued = issue(&issuer, request(Access::Read, 60)).await.unwrap();
    assert_lifetime(&issued, 900);
    let received = assumed_role(&issued.access_key_id);
    assert_eq!(
        received["policy"].as_str().unwrap(),
        include_str!("../../../../dpipe-core/src/session_policy/read.json")
    );

    let s3 = s3_with(&issued);
    assert!(
        list(&s3, PREFIX)
            .await
            .unwrap()
            .contains(&"ann/demo/seed.csv".to_owned())
    );
    assert_eq!(get(&s3, "ann/demo/seed.csv").await.unwrap(), b"seed");
    assert_denied(put(&s3, "ann/demo/new.csv").await);
    assert_denied(delete(&s3, "ann/demo/seed.csv").await);
    assert_denied(multipart(&s3, "ann/demo/big.bin").await);
    for outside in ["ann/demo-2/x", "bob/demo/x"] {
        assert_denied(get(&s3, outside).await);
        assert_denied(put(&s3, outside).await);
        assert_denied(delete(&s3, outside).await);
    }
    assert_eq!(get(&s3, "ann/demo/seed.csv").await.unwrap(), b"seed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_and_write_credentials_differ() {
    let fx = fixture().await;
    let reader = issuer(&fx.admin, StsMode::assume_role(&fx.read_role)).await;
    let writer = issuer(&fx.admin, StsMode::assume_role(&fx.write_role)).await;
    let read = issue(&reader, request(Access::Read, 900)).await.unwrap();
    let write = issue(&writer, request(Access::Write, 900)).await.unwrap();
    let again = issue(&writer, request(Access::Write, 900)).await.unwrap();
    assert_ne!(read.access_key_id, write.access_key_id);
    assert_ne!(write.access_key_id, again.access_key_id);
    assert_ne!(write.secret_access_key, again.secret_access_key);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federation_tokens_are_issued_with_the_pipe_s_name() {
    let fx = fixture().await;
    let issuer = issuer(&fx.admin, StsMode::FederationToken).await;
    // Longer than GetFederationToken allows: 36 hours.
    let issued = issue(&issuer, request(Access::Write, 200_000))
        .await
        .unwrap();
    assert_lifetime(&issued, 129_600);
    assert!(!issued.access_key_id.is_empty() && !issued.session_token.is_empty());
    let names: Vec<Value> = moto_sts("Token")
        .into_iter()
        .map(|t| t["name"].clone())
        .collect();
    assert!(names.contains(&json!("dpipe-ann-demo")), "{names:?}");
}
