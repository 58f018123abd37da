//! S3: bucket, root, region, endpoint, path or virtual-host style, keys and session token.

use opendal::services;

use crate::error::Result;
use crate::location::Location;
use crate::operator::config;

pub(crate) fn s3_builder(location: &Location, root: &str) -> Result<services::S3> {
    if location.location.is_empty() {
        return Err(config("s3: the location (a bucket) is empty"));
    }
    let mut b = services::S3::default()
        .bucket(&location.location)
        .root(root)
        .region(location.set("region").unwrap_or("us-east-1"))
        // Credentials come from the location only, never from the machine's AWS config,
        // environment or instance metadata.
        .disable_config_load()
        .disable_ec2_metadata()
        // Every upload (each part of a multipart one) carries the CRC32C of its bytes, which
        // the server checks before it keeps them: a byte changed on the way is refused
        // (`BadDigest`). Downloads are checked against the ETag or the stored SHA-256.
        .checksum_algorithm("crc32c");
    if let Some(endpoint) = location.set("endpoint") {
        b = b.endpoint(endpoint);
    }
    match location.set("path_style").unwrap_or("true") {
        "true" | "yes" | "1" => {}
        "false" | "no" | "0" => b = b.enable_virtual_host_style(),
        other => {
            return Err(config(format!(
                "s3: path_style must be true or false, not {other:?}"
            )));
        }
    }
    match (
        location.cred("aws_access_key_id"),
        location.cred("aws_secret_access_key"),
    ) {
        (Some(id), Some(secret)) => b = b.access_key_id(id).secret_access_key(secret),
        (None, None) => b = b.skip_signature(),
        _ => {
            return Err(config(
                "s3: give both aws_access_key_id and aws_secret_access_key, or neither",
            ));
        }
    }
    if let Some(token) = location.cred("aws_session_token") {
        b = b.session_token(token);
    }
    Ok(b)
}
