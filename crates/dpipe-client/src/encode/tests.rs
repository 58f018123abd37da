use dpipe_core::role::Access;
use serde_json::{Value, json};

use super::*;

fn ring(key: &Key) -> Keyring {
    Keyring::new(Some(key.clone()), vec![])
}

fn split_remote() -> Value {
    json!({
        "name": "vendor", "protocol": "s3", "location": "bucket",
        "settings": {"dir": "base", "endpoint": "http://127.0.0.1:9000", "region": "eu",
                     "path_style": true, "extra": {"depth": 2}, "none": null},
        "credentials": {
            "read": {"key": "READKEY", "secret": "read-secret"},
            "write": {"aws_access_key_id": "WRITEKEY", "aws_secret_access_key": "write-secret"}},
        "schema": {"pandas": {"sep": ","}},
    })
}

fn assert_key_error(result: Result<Value>, needle: &str) {
    let err = result.expect_err("must not decrypt");
    assert_eq!(err.kind(), ErrorKind::Key, "{err}");
    assert!(err.to_string().contains(needle), "{err}");
}

#[test]
fn split_settings_round_trip_with_readable_structure() {
    let key = Key::generate().unwrap();
    let remote = ResourceRef::remote("vendor");
    let encoded = encode(&split_remote(), remote, &key).unwrap();
    let text = encoded.to_string();
    for secret in [
        "READKEY",
        "read-secret",
        "WRITEKEY",
        "write-secret",
        "127.0.0.1",
        "\"eu\"",
    ] {
        assert!(!text.contains(secret), "{secret} in clear: {text}");
    }
    for kept in ["name", "protocol", "location", "schema"] {
        assert_eq!(encoded[kept], split_remote()[kept], "{kept} stays readable");
    }
    assert_eq!(encoded["settings"]["dir"], "base");
    assert_eq!(encoded["settings"]["none"], Value::Null);
    assert!(
        encoded["settings"]["extra"]["depth"].is_string(),
        "nested keys kept"
    );
    let read = encoded["credentials"]["read"].as_object().unwrap();
    let mut names: Vec<&String> = read.keys().collect();
    names.sort();
    assert_eq!(
        names,
        ["aws_access_key_id", "aws_secret_access_key"],
        "aliases renamed"
    );
    let value = read["aws_secret_access_key"].as_str().unwrap();
    assert!(
        value.starts_with(&format!("dpipe:enc:v1:{}:", key.id())),
        "{value}"
    );
    assert_eq!(key_ids(&encoded), [key.id().to_string()]);
    assert_eq!(
        encode(&encoded, remote, &key).unwrap(),
        encoded,
        "idempotent"
    );

    let decoded = decode(&encoded, remote, &ring(&key)).unwrap();
    let mut expected = split_remote();
    expected["credentials"]["read"] =
        json!({"aws_access_key_id": "READKEY", "aws_secret_access_key": "read-secret"});
    assert_eq!(decoded, expected);
}

#[test]
fn flat_credentials_round_trip_and_plain_values_pass() {
    let key = Key::generate().unwrap();
    let pipe = ResourceRef::pipe("drop");
    let settings = json!({"name": "drop", "protocol": "sftp", "location": "h:22",
        "credentials": {"username": "u", "password": "pw"}, "options": {"dir": "in"}});
    let encoded = encode(&settings, pipe, &key).unwrap();
    assert_eq!(encoded["options"], json!({"dir": "in"}));
    assert!(is_encrypted(
        encoded["credentials"]["password"].as_str().unwrap()
    ));
    assert_eq!(decode(&encoded, pipe, &ring(&key)).unwrap(), settings);
    // A mixed object: plain values come back as they are, even without any key.
    let mut mixed = encoded.clone();
    mixed["credentials"]["username"] = json!("plain");
    let decoded = decode(&mixed, pipe, &ring(&key)).unwrap();
    assert_eq!(
        decoded["credentials"],
        json!({"username": "plain", "password": "pw"})
    );
    assert_eq!(
        decode(&settings, pipe, &Keyring::default()).unwrap(),
        settings
    );
}

#[test]
fn a_wrong_or_missing_key_is_a_key_error() {
    let key = Key::generate().unwrap();
    let other = Key::generate().unwrap();
    let encoded = encode(&split_remote(), ResourceRef::remote("vendor"), &key).unwrap();
    let remote = ResourceRef::remote("vendor");
    assert_key_error(decode(&encoded, remote, &ring(&other)), key.id());
    assert_key_error(
        decode(&encoded, remote, &Keyring::default()),
        "no encryption key",
    );
    // A previous key of the ring still decrypts.
    let rotated = Keyring::new(Some(other), vec![key]);
    assert!(decode(&encoded, remote, &rotated).is_ok());
}

#[test]
fn damaged_values_are_key_errors_never_garbage() {
    let key = Key::generate().unwrap();
    let remote = ResourceRef::remote("vendor");
    let encoded = encode(&split_remote(), remote, &key).unwrap();
    let value = encoded["credentials"]["write"]["aws_secret_access_key"]
        .as_str()
        .unwrap()
        .to_string();
    let with = |damaged: String| {
        let mut copy = encoded.clone();
        copy["credentials"]["write"]["aws_secret_access_key"] = json!(damaged);
        decode(&copy, remote, &ring(&key))
    };
    // One flipped character of the ciphertext.
    let mut bytes = value.clone().into_bytes();
    let last = bytes.len() - 3;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    assert_key_error(with(String::from_utf8(bytes).unwrap()), "damaged");
    assert_key_error(with(value[..value.len() - 4].to_string()), "damaged");
    let head = format!("dpipe:enc:v1:{}:", key.id());
    assert_key_error(with(head.clone()), "truncated");
    assert_key_error(with("dpipe:enc:v1".to_string()), "truncated");
    assert_key_error(with(value.replacen(":v1:", ":v9:", 1)), "\"v9\"");
    assert_key_error(with(value.replace(&head, "dpipe:enc:v1:")), "truncated");
}

#[test]
fn moved_values_do_not_decrypt() {
    let key = Key::generate().unwrap();
    let keys = ring(&key);
    let remote = ResourceRef::remote("vendor");
    let encoded = encode(&split_remote(), remote, &key).unwrap();
    let write_secret = encoded["credentials"]["write"]["aws_secret_access_key"].clone();
    // Into another field of the same record.
    let mut moved = encoded.clone();
    moved["credentials"]["read"]["aws_secret_access_key"] = write_secret.clone();
    assert_key_error(decode(&moved, remote, &keys), "moved");
    let mut moved = encoded.clone();
    moved["settings"]["endpoint"] = write_secret.clone();
    assert_key_error(decode(&moved, remote, &keys), "settings.endpoint");
    // Into another record, or the same name of another kind.
    assert_key_error(
        decode(&encoded, ResourceRef::remote("other"), &keys),
        "moved",
    );
    assert_key_error(
        decode(&encoded, ResourceRef::pipe("vendor"), &keys),
        "moved",
    );
}

#[test]
fn released_credentials_decrypt_from_their_origin() {
    let key = Key::generate().unwrap();
    let keys = ring(&key);
    let remote = ResourceRef::remote("vendor");
    let encoded = encode(&split_remote(), remote, &key).unwrap();
    let stored = &encoded["credentials"]["read"];
    let released = json!({
        "aws_access_key_id": stored["aws_access_key_id"],
        "aws_secret_access_key": stored["aws_secret_access_key"],
        "endpoint_url": encoded["settings"]["endpoint"],
        "region_name": encoded["settings"]["region"],
    });
    let released = released.as_object().unwrap();
    let plain = decode_released(released, remote, Access::Read, &keys).unwrap();
    assert_eq!(
        Value::Object(plain),
        json!({"aws_access_key_id": "READKEY", "aws_secret_access_key": "read-secret",
               "endpoint_url": "http://127.0.0.1:9000", "region_name": "eu"})
    );
    // The read half handed out for writing is refused.
    let err = decode_released(released, remote, Access::Write, &keys).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Key);
    // Flat credentials serve both accesses.
    let flat = json!({"protocol": "ftp", "credentials": {"username": "u", "password": "p"}});
    let flat = encode(&flat, remote, &key).unwrap();
    let released = flat["credentials"].as_object().unwrap();
    for access in [Access::Read, Access::Write] {
        let plain = decode_released(released, remote, access, &keys).unwrap();
        assert_eq!(plain["password"], "p");
    }
}
