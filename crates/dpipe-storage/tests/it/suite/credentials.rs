//! Wrong credentials: refused as such, and no secret in any message.

use dpipe_storage::{ErrorKind, Location, Protocol, Storage};

use crate::backends::{Backend, tuning};

pub async fn wrong_credentials(b: &Backend) {
    let mut location: Location = b.location.clone();
    match location.protocol {
        Protocol::S3 => {
            location
                .credentials
                .insert("aws_secret_access_key".into(), "wrong-secret".into());
        }
        Protocol::Ftp => {
            location
                .credentials
                .insert("password".into(), "wrong-password".into());
        }
        Protocol::Sftp if location.credentials.contains_key("password") => {
            location
                .credentials
                .insert("password".into(), "wrong-password".into());
        }
        Protocol::Sftp => {
            // A key the server never authorized.
            let dir = tempfile::tempdir().unwrap();
            let key = dir.path().join("other");
            let status = std::process::Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(&key)
                .status()
                .unwrap();
            assert!(status.success());
            location
                .credentials
                .insert("private_key".into(), std::fs::read_to_string(&key).unwrap());
        }
        Protocol::Fs => unreachable!("a local folder has no credentials"),
    }
    let storage = Storage::connect(&location, tuning()).unwrap();
    let err = storage.scan("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    for secret in ["wrong-secret", "wrong-password", "PRIVATE KEY"] {
        assert!(
            !err.to_string().contains(secret),
            "the error shows no secret: {err}"
        );
        assert!(
            !format!("{storage:?}{location:?}").contains(secret),
            "Debug shows no secret"
        );
    }
}
