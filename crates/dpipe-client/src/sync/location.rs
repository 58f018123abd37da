//! Where a pipe's files live, as dpipe-storage needs it: a pipe as the repo API shows it
//! (protocol, location, `options.remotepath`) plus the credentials it released, turned into a
//! [`Location`]; and storage errors translated into the client's [`Error`].
//!
//! `remotepath` is `s3://bucket/prefix/` for S3 (the root is `prefix`), `folder/sub/` for `fs`
//! (the root is `sub`), and an absolute path for FTP/SFTP. The S3 credentials reply may carry
//! `endpoint_url`/`region_name` (what boto3 takes): they become the `endpoint`/`region`
//! settings; for FTP and SFTP the released settings
//! ([`FILE_SERVER_RELEASED_SETTINGS`]: the pinned `host_key`, `tls`) become settings of the
//! same name; every other string value is a credential. An SFTP location also gets the
//! `known_hosts_file` setting ([`known_hosts_file`]), where an unpinned server's host key is
//! recorded on first use and checked after.

use dpipe_core::credentials::FILE_SERVER_RELEASED_SETTINGS;
use dpipe_core::protocol::Protocol;
use dpipe_core::role::Access;
use dpipe_core::wire::PipeView;
use dpipe_storage::Location;
use serde_json::{Map, Value};

use crate::{Error, ErrorKind, Result};

/// Builds the storage location of `pipe` with the `credentials` the repo API released for it.
pub fn location_for(pipe: &PipeView, credentials: &Map<String, Value>) -> Result<Location> {
    let protocol = Protocol::parse(&pipe.protocol).map_err(|e| {
        Error::new(
            ErrorKind::Config,
            format!("pipe {}: {}", pipe.name, e.message()),
        )
    })?;
    let remotepath = pipe
        .options
        .get("remotepath")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                format!("pipe {} has no options.remotepath", pipe.name),
            )
        })?;
    let mut location = match protocol {
        // The bucket, or the remote's folder (which must exist), is the location; the pipe's
        // folders in it are the root.
        Protocol::S3 | Protocol::Fs => {
            let storage_root = protocol.root_path(&pipe.location);
            let prefix = remotepath.strip_prefix(&storage_root).ok_or_else(|| {
                Error::new(
                    ErrorKind::Config,
                    format!(
                        "pipe {}: remotepath {remotepath:?} is not in {storage_root:?}",
                        pipe.name
                    ),
                )
            })?;
            Location::new(protocol, &pipe.location, prefix.trim_end_matches('/'))
        }
        Protocol::Ftp | Protocol::Sftp => Location::new(protocol, &pipe.location, remotepath),
    };
    for (key, value) in credentials {
        let Some(value) = value.as_str() else {
            continue;
        };
        location = match (protocol, key.as_str()) {
            (Protocol::S3, "endpoint_url") => location.setting("endpoint", value),
            (Protocol::S3, "region_name") => location.setting("region", value),
            (Protocol::Ftp | Protocol::Sftp, name)
                if FILE_SERVER_RELEASED_SETTINGS.contains(&name) =>
            {
                location.setting(name, value)
            }
            _ => location.credential(key, value),
        };
    }
    if protocol == Protocol::Sftp && !location.settings.contains_key("known_hosts_file") {
        // Without a pinned key, the server's key is recorded on first use, and checked after,
        // in the known-hosts file next to the profiles file (one for every profile).
        if let Some(file) = known_hosts_file() {
            location = location.setting("known_hosts_file", file.to_string_lossy());
        }
    }
    Ok(location)
}

/// dpipe's known-hosts file of SFTP servers: `known_hosts` in the folder of the profiles
/// file (`~/.config/dpipe/known_hosts`), if that folder can be told.
pub fn known_hosts_file() -> Option<std::path::PathBuf> {
    let profiles = crate::profile_file::ConfigFile::default_path().ok()?;
    Some(profiles.parent()?.join("known_hosts"))
}

/// The `SHA256:…` fingerprint of an SFTP remote's `host_key` setting (a public key line or a
/// fingerprint); a [`ErrorKind::Config`] error in words if it is neither.
pub fn host_key_fingerprint(host_key: &str) -> Result<String> {
    dpipe_storage::host_key_fingerprint(host_key)
        .map_err(|e| Error::new(ErrorKind::Config, e.message().to_string()))
}

/// What a run of `pipe` at `location` warns about, once per run: a password that FTP sends in
/// plain text (neither `ftps://` nor the remote's `tls: required`).
pub fn run_warnings(pipe: &str, location: &Location) -> Vec<String> {
    if dpipe_storage::sends_password_in_plain_text(location) {
        vec![format!(
            "pipe {pipe}: FTP sends the password in plain text; use ftps:// (or tls: required) \
             if the server offers TLS"
        )]
    } else {
        Vec::new()
    }
}

/// Translates an error of the storage of `pipe`, reached with its `access` credentials, into
/// the client's error type: its one-line message (it carries no secret) saying whose storage
/// and whose credentials, and its detail (OpenDAL's context, the storage's answer) kept apart.
/// A missing bucket or folder is not found, refused or expired credentials are forbidden, an
/// unreachable storage is a transport failure; local file trouble is only itself.
pub(crate) fn storage_error(pipe: &str, access: Access) -> impl Fn(dpipe_storage::Error) -> Error {
    move |err| {
        let error = storage_error_kind(&err);
        let message = match error {
            ErrorKind::Io => err.to_string(),
            ErrorKind::Forbidden => format!("pipe {pipe} ({} credentials): {err}", access.as_str()),
            _ => format!("pipe {pipe}: {err}"),
        };
        Error::new(error, message).with_detail(err.detail())
    }
}

/// The client's kind of a storage error.
fn storage_error_kind(err: &dpipe_storage::Error) -> ErrorKind {
    use dpipe_storage::ErrorKind as S;
    match err.kind() {
        S::Config => ErrorKind::Config,
        // Credentials the storage refuses, or that expired and a renewal did not cure.
        // A server that is not the one recorded or pinned: as refused as a wrong password.
        S::PermissionDenied | S::ExpiredCredentials | S::HostKeyChanged => ErrorKind::Forbidden,
        S::NotFound | S::LocationNotFound => ErrorKind::NotFound,
        S::Transient => ErrorKind::Transport,
        S::Io => ErrorKind::Io,
        _ => ErrorKind::Server,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn storage_errors_keep_their_meaning() {
        use dpipe_storage::ErrorKind as S;
        for (storage, client) in [
            (S::PermissionDenied, ErrorKind::Forbidden),
            (S::ExpiredCredentials, ErrorKind::Forbidden),
            (S::HostKeyChanged, ErrorKind::Forbidden),
            (S::NotFound, ErrorKind::NotFound),
            (S::LocationNotFound, ErrorKind::NotFound),
            (S::Transient, ErrorKind::Transport),
            (S::Io, ErrorKind::Io),
            (S::Config, ErrorKind::Config),
            (S::Integrity, ErrorKind::Server),
        ] {
            let err = storage_error("p", Access::Read)(
                dpipe_storage::Error::new(storage, "it failed").with("path", "a.csv"),
            );
            assert_eq!(err.kind(), client, "{storage:?}");
            let whose = match client {
                ErrorKind::Io => "",
                ErrorKind::Forbidden => "pipe p (read credentials): ",
                _ => "pipe p: ",
            };
            assert_eq!(err.to_string(), format!("{whose}it failed"));
            assert_eq!(err.detail(), Some("path: a.csv"));
        }
    }

    fn pipe(protocol: &str, location: &str, remotepath: &str) -> PipeView {
        serde_json::from_value(json!({
            "name": "p", "protocol": protocol, "location": location,
            "parent-ultimate": "p", "options": {"remotepath": remotepath},
            "schema": {}, "role": "write", "owner": "u"
        }))
        .unwrap()
    }

    fn creds(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn every_protocol() {
        let c = creds(
            json!({"aws_access_key_id": "A", "aws_secret_access_key": "B",
            "endpoint_url": "http://127.0.0.1:9", "region_name": "eu-west-1"}),
        );
        let s3 = location_for(&pipe("s3", "bkt", "s3://bkt/a/b/"), &c).unwrap();
        assert_eq!((s3.location.as_str(), s3.root.as_str()), ("bkt", "a/b"));
        assert_eq!(s3.settings["endpoint"], "http://127.0.0.1:9");
        assert_eq!(s3.settings["region"], "eu-west-1");
        assert_eq!(s3.credentials.len(), 2);
        let top = location_for(&pipe("s3", "bkt", "s3://bkt/"), &Map::new()).unwrap();
        assert_eq!(top.root, "");
        let fs = location_for(&pipe("fs", "/srv", "/srv/d/"), &Map::new()).unwrap();
        assert_eq!((fs.location.as_str(), fs.root.as_str()), ("/srv", "d"));
        let fs = location_for(&pipe("fs", "/srv/", "/srv/"), &Map::new()).unwrap();
        assert_eq!((fs.location.as_str(), fs.root.as_str()), ("/srv/", ""));
        let login = creds(json!({"username": "u", "password": "p"}));
        let ftp = location_for(&pipe("ftp", "h:21", "/x/"), &login).unwrap();
        assert_eq!((ftp.location.as_str(), ftp.root.as_str()), ("h:21", "/x/"));
        assert_eq!(ftp.credentials["username"], "u");
        assert!(ftp.settings.is_empty());
        let pinned = creds(
            json!({"username": "u", "password": "p", "host_key": "SHA256:x", "tls": "required"}),
        );
        let sftp = location_for(&pipe("sftp", "h", "/x/"), &pinned).unwrap();
        assert_eq!(sftp.settings["host_key"], "SHA256:x");
        assert_eq!(sftp.settings["tls"], "required");
        assert_eq!(sftp.credentials.len(), 2);
        // Unpinned keys are recorded next to the profiles file.
        assert!(sftp.settings["known_hosts_file"].ends_with("/known_hosts"));
    }

    #[test]
    fn plain_ftp_passwords_are_warned_about() {
        let login = creds(json!({"username": "u", "password": "p"}));
        let warned = |location: &str, credentials: &Map<String, Value>| {
            run_warnings(
                "p",
                &location_for(&pipe("ftp", location, "/x/"), credentials).unwrap(),
            )
        };
        assert_eq!(
            warned("h:21", &login),
            [
                "pipe p: FTP sends the password in plain text; use ftps:// (or tls: required) if \
              the server offers TLS"
            ]
        );
        assert!(warned("ftps://h:21", &login).is_empty());
        let required = creds(json!({"username": "u", "password": "p", "tls": "required"}));
        assert!(warned("h:21", &required).is_empty());
        assert!(warned("h:21", &creds(json!({"username": "u"}))).is_empty());
    }

    #[test]
    fn wrong_pipes() {
        let err = location_for(&pipe("s3", "bkt", "s3://other/"), &Map::new()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let err = location_for(&pipe("fs", "/srv", "/elsewhere/"), &Map::new()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let err = location_for(&pipe("gopher", "x", "/"), &Map::new()).unwrap_err();
        assert!(err.message().contains("not a valid choice"), "{err}");
        let mut p = pipe("fs", "/srv", "/srv/");
        p.options.clear();
        assert!(location_for(&p, &Map::new()).is_err());
    }
}
