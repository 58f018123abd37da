//! What provisioning returns: the remote settings dpipe stores (`name`, `protocol`,
//! `location`, split `credentials`, `settings`), serialized exactly as the remotes resource
//! takes them. Secrets serialize (they must reach the remote record) but never `Debug`-print.

use std::fmt;

use serde::Serialize;

/// An IAM access key: the id (not secret; it shows in `Debug`) and the secret key (never shown).
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct AccessKeyPair {
    /// The access key id (`AKIA…`).
    pub aws_access_key_id: String,
    aws_secret_access_key: String,
}

impl AccessKeyPair {
    /// A key pair from its id and secret.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        AccessKeyPair {
            aws_access_key_id: access_key_id.into(),
            aws_secret_access_key: secret_access_key.into(),
        }
    }

    /// The secret access key.
    pub fn secret(&self) -> &str {
        &self.aws_secret_access_key
    }
}

impl fmt::Debug for AccessKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKeyPair")
            .field("aws_access_key_id", &self.aws_access_key_id)
            .field("aws_secret_access_key", &"<redacted>")
            .finish()
    }
}

/// The read and the write half of a remote's credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SplitCredentials {
    /// Keys of `dpipe-NAME-read`: list and get.
    pub read: AccessKeyPair,
    /// Keys of `dpipe-NAME-write`: list, get, put, delete.
    pub write: AccessKeyPair,
}

/// Connection settings a client of the bucket needs beyond AWS's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoteSettings {
    /// The custom S3 endpoint, when one was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The bucket's region.
    pub region: String,
}

/// A provisioned S3 remote: serializes to the settings of dpipe's remotes resource, e.g.
/// `{"name": "sales", "protocol": "s3", "location": "dpipe-sales", "credentials": {"read":
/// {…}, "write": {…}}, "settings": {"endpoint": …, "region": …}}` (`settings` only for a
/// custom endpoint or region).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProvisionedRemote {
    /// The remote name.
    pub name: String,
    /// Always `s3`.
    pub protocol: &'static str,
    /// The bucket, `dpipe-NAME`.
    pub location: String,
    /// The freshly created keys of the read and write users.
    pub credentials: SplitCredentials,
    /// Endpoint and region, when not AWS's defaults.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<RemoteSettings>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets_and_json_carries_them() {
        let remote = ProvisionedRemote {
            name: "x".into(),
            protocol: "s3",
            location: "dpipe-x".into(),
            credentials: SplitCredentials {
                read: AccessKeyPair::new("AKIAREAD", "read-secret"),
                write: AccessKeyPair::new("AKIAWRITE", "write-secret"),
            },
            settings: None,
        };
        let debug = format!("{remote:?}");
        assert!(
            debug.contains("AKIAREAD") && debug.contains("<redacted>"),
            "{debug}"
        );
        assert!(
            !debug.contains("read-secret") && !debug.contains("write-secret"),
            "{debug}"
        );
        let json = serde_json::to_value(&remote).unwrap();
        assert_eq!(
            json["credentials"]["write"]["aws_secret_access_key"],
            "write-secret"
        );
        assert!(json.get("settings").is_none());
    }
}
