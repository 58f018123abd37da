//! ListObjects (v1) and ListObjectsV2: ETags, delimiter, continuation, start-after,
//! encoding-type=url.

use aws_sdk_s3::types::EncodingType;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_carry_the_put_etag_size_and_time() {
    let server = Server::start().await;
    let c = server.admin();
    let mut etags = Vec::new();
    for (i, k) in ["x/1", "x/2", "y"].iter().enumerate() {
        etags.push((k.to_string(), put(&c, k, bytes(1000 + i, i as u64)).await));
    }
    let v2 = c.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    let v1 = c.list_objects().bucket(BUCKET).send().await.unwrap();
    assert_eq!(v2.key_count(), Some(3));
    for list in [v2.contents(), v1.contents()] {
        let got: Vec<(String, String)> = list
            .iter()
            .map(|o| (o.key().unwrap().to_owned(), o.e_tag().unwrap().to_owned()))
            .collect();
        assert_eq!(got, etags);
        for (i, o) in list.iter().enumerate() {
            assert_eq!(o.size(), Some(1000 + i as i64));
            assert!(o.last_modified().is_some());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delimiter_rolls_up_common_prefixes() {
    let server = Server::start().await;
    let c = server.admin();
    for k in ["a/1", "a/2", "a/b/3", "b/1", "top", "z/9"] {
        put(&c, k, b"x".to_vec()).await;
    }
    let out = c
        .list_objects_v2()
        .bucket(BUCKET)
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<&str> = out
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(prefixes, ["a/", "b/", "z/"]);
    assert_eq!(keys, ["top"]);
    assert_eq!(out.key_count(), Some(4));

    let out = c
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("a/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<&str> = out
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(prefixes, ["a/b/"]);
    assert_eq!(keys, ["a/1", "a/2"]);

    // An empty delimiter is no delimiter.
    let out = c
        .list_objects_v2()
        .bucket(BUCKET)
        .delimiter("")
        .send()
        .await
        .unwrap();
    assert_eq!(out.contents().len(), 6);
    assert!(out.common_prefixes().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continuation_pages_through_every_key_once() {
    let server = Server::start().await;
    let c = server.admin();
    let mut all: Vec<String> = (0..30).map(|i| format!("k/{i:03}")).collect();
    all.extend((0..4).map(|i| format!("d{i}/inner")));
    for k in &all {
        put(&c, k, b"x".to_vec()).await;
    }
    all.sort();
    // v2, max-keys 7
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let out = c
            .list_objects_v2()
            .bucket(BUCKET)
            .max_keys(7)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        assert!(out.key_count().unwrap() <= 7);
        seen.extend(out.contents().iter().map(|o| o.key().unwrap().to_owned()));
        if !out.is_truncated().unwrap() {
            break;
        }
        token = out.next_continuation_token().map(str::to_owned);
    }
    assert_eq!(seen, all);

    // v1 with a delimiter: NextMarker may be a common prefix, never repeated.
    let mut items = Vec::new();
    let mut marker = None;
    loop {
        let out = c
            .list_objects()
            .bucket(BUCKET)
            .delimiter("/")
            .max_keys(2)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        items.extend(out.contents().iter().map(|o| o.key().unwrap().to_owned()));
        items.extend(
            out.common_prefixes()
                .iter()
                .map(|p| p.prefix().unwrap().to_owned()),
        );
        if !out.is_truncated().unwrap() {
            break;
        }
        marker = out.next_marker().map(str::to_owned);
        assert!(
            marker.is_some(),
            "a truncated v1 page names its next marker"
        );
    }
    items.sort();
    assert_eq!(items, ["d0/", "d1/", "d2/", "d3/", "k/"]);

    // start-after
    let out = c
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("k/")
        .start_after("k/027")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["k/028", "k/029"]);

    let err = c
        .list_objects_v2()
        .bucket(BUCKET)
        .continuation_token("not base64 !!")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "InvalidArgument");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_a_thousand_keys_come_in_pages_of_a_thousand() {
    let server = Server::start().await;
    let c = server.admin();
    let mut tasks = Vec::new();
    for chunk in 0..10 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..110 {
                put(&c, &format!("many/{:05}", chunk * 110 + i), b"x".to_vec()).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let first = c.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    assert_eq!(first.key_count(), Some(1000));
    assert_eq!(first.is_truncated(), Some(true));
    let second = c
        .list_objects_v2()
        .bucket(BUCKET)
        .continuation_token(first.next_continuation_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(second.key_count(), Some(100));
    assert_eq!(second.is_truncated(), Some(false));
    assert_eq!(second.contents()[99].key(), Some("many/01099"));
    // max-keys above 1000 is 1000.
    let capped = c
        .list_objects_v2()
        .bucket(BUCKET)
        .max_keys(5000)
        .send()
        .await
        .unwrap();
    assert_eq!(capped.key_count(), Some(1000));
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoding_type_url_encodes_keys_and_prefixes() {
    let server = Server::start().await;
    let c = server.admin();
    let keys = ["sp ace/a b.csv", "pct/100%.txt", "uni/é—ü.txt", "plus/a+b"];
    for k in keys {
        put(&c, k, b"x".to_vec()).await;
    }
    let out = c
        .list_objects_v2()
        .bucket(BUCKET)
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    assert_eq!(out.encoding_type(), Some(&EncodingType::Url));
    let raw: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert!(raw.contains(&"sp%20ace/a%20b.csv"), "{raw:?}");
    assert!(raw.contains(&"pct/100%25.txt"), "{raw:?}");
    assert!(raw.contains(&"plus/a%2Bb"), "{raw:?}");
    let mut decoded: Vec<String> = raw.iter().map(|k| decode(k)).collect();
    decoded.sort();
    let mut want: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    want.sort();
    assert_eq!(decoded, want);

    // Prefixes (and v1's Prefix/Marker/NextMarker) are encoded too.
    let out = c
        .list_objects()
        .bucket(BUCKET)
        .prefix("sp ace/")
        .delimiter(" ")
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    assert_eq!(out.prefix(), Some("sp%20ace/"));
    assert_eq!(out.delimiter(), Some("%20"));
    let prefixes: Vec<&str> = out
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["sp%20ace/a%20"]);
    // Without encoding-type, keys come as they are.
    let out = c
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("uni/")
        .send()
        .await
        .unwrap();
    assert_eq!(out.contents()[0].key(), Some("uni/é—ü.txt"));
}
