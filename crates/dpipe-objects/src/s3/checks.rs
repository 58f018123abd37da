//! What a request body must match, read from the request: `Content-MD5`, the
//! `x-amz-checksum-*` headers, and the trailers of an aws-chunked body (announced by
//! `x-amz-trailer`, known only once the body has ended); the body stream with s3s's decoding
//! errors translated; and the conditional headers of GET and HEAD.

use base64::Engine as _;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use hyper::HeaderMap;
use s3s::TrailingHeaders;
use s3s::checksum::ChecksumHasher;
use s3s::dto::{Checksum, ETagCondition, StreamingBlob, Timestamp, TimestampFormat};

use crate::error::{Error, ErrorKind, Result};
use crate::store::index::ObjectRow;
use crate::store::write::Expected;

/// The checksum algorithms S3 knows, by the suffix of their `x-amz-checksum-` header.
const ALGORITHMS: [&str; 5] = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"];

/// The checksums a request body is hashed with, and the values it must match.
pub(crate) struct BodyChecks {
    announced: [bool; 5],
    content_md5: Option<String>,
    values: Checksum,
    trailers: Option<TrailingHeaders>,
}

/// The [`BodyChecks`] of a request whose input has S3's checksum fields (PutObject and
/// UploadPart share them, as fields of two unrelated types).
macro_rules! body_checks {
    ($req:expr, $input:expr) => {
        $crate::s3::checks::BodyChecks::new(
            &$req.headers,
            $input.content_md5,
            s3s::dto::Checksum {
                checksum_crc32: $input.checksum_crc32,
                checksum_crc32c: $input.checksum_crc32c,
                checksum_crc64nvme: $input.checksum_crc64nvme,
                checksum_sha1: $input.checksum_sha1,
                checksum_sha256: $input.checksum_sha256,
                ..Default::default()
            },
            $input
                .checksum_algorithm
                .as_ref()
                .map(s3s::dto::ChecksumAlgorithm::as_str),
            $req.trailing_headers,
        )
    };
}
pub(crate) use body_checks;

/// The [`Conditions`] (`If-Match`, `If-None-Match`, `If-Modified-Since`,
/// `If-Unmodified-Since`) of a GetObject or HeadObject input.
macro_rules! conditions {
    ($input:expr) => {
        $crate::s3::checks::Conditions {
            if_match: $input.if_match,
            if_none_match: $input.if_none_match,
            if_modified_since: $input.if_modified_since,
            if_unmodified_since: $input.if_unmodified_since,
        }
    };
}
pub(crate) use conditions;

impl BodyChecks {
    /// Reads the checks of a PutObject or UploadPart: `values` from the checksum headers,
    /// `algorithm` from `x-amz-sdk-checksum-algorithm`, trailers announced in `headers`.
    pub(crate) fn new(
        headers: &HeaderMap,
        content_md5: Option<String>,
        values: Checksum,
        algorithm: Option<&str>,
        trailers: Option<TrailingHeaders>,
    ) -> BodyChecks {
        let mut announced = [false; 5];
        let trailer = headers
            .get("x-amz-trailer")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let algorithm = algorithm.unwrap_or("").to_ascii_lowercase();
        for (i, name) in ALGORITHMS.iter().enumerate() {
            let header = format!("x-amz-checksum-{name}");
            announced[i] = value(&values, i).is_some()
                || algorithm == *name
                || trailer.split(',').any(|t| t.trim() == header);
        }
        BodyChecks {
            announced,
            content_md5,
            values,
            trailers,
        }
    }

    /// The hasher computing every announced checksum.
    pub(crate) fn hasher(&self) -> ChecksumHasher {
        let on = self.announced;
        ChecksumHasher {
            crc32: on[0].then(Default::default),
            crc32c: on[1].then(Default::default),
            crc64nvme: on[2].then(Default::default),
            sha1: on[3].then(Default::default),
            sha256: on[4].then(Default::default),
        }
    }

    /// What the body must match, once it has ended (trailers included). A checksum that
    /// arrives unannounced cannot have been computed: refused rather than left unchecked.
    pub(crate) fn expected(self) -> Result<Expected> {
        let md5 = match self.content_md5 {
            Some(text) => Some(decode_md5(&text)?),
            None => None,
        };
        let mut values = self.values;
        if let Some(trailers) = self.trailers.and_then(|t| t.take()) {
            for (i, name) in ALGORITHMS.iter().enumerate() {
                if let Some(v) = trailers.get(format!("x-amz-checksum-{name}").as_str()) {
                    let v = v.to_str().map_err(|_| {
                        Error::new(ErrorKind::InvalidArgument, "a checksum trailer is not text")
                    })?;
                    *value_mut(&mut values, i) = Some(v.to_owned());
                }
            }
        }
        for (i, name) in ALGORITHMS.iter().enumerate() {
            if value(&values, i).is_some() && !self.announced[i] {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("x-amz-checksum-{name} was sent without being announced"),
                ));
            }
        }
        Ok(Expected {
            md5,
            checksums: values,
        })
    }
}

fn value(c: &Checksum, i: usize) -> &Option<String> {
    match i {
        0 => &c.checksum_crc32,
        1 => &c.checksum_crc32c,
        2 => &c.checksum_crc64nvme,
        3 => &c.checksum_sha1,
        _ => &c.checksum_sha256,
    }
}

fn value_mut(c: &mut Checksum, i: usize) -> &mut Option<String> {
    match i {
        0 => &mut c.checksum_crc32,
        1 => &mut c.checksum_crc32c,
        2 => &mut c.checksum_crc64nvme,
        3 => &mut c.checksum_sha1,
        _ => &mut c.checksum_sha256,
    }
}

fn decode_md5(text: &str) -> Result<[u8; 16]> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|d| <[u8; 16]>::try_from(d).ok())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidDigest,
                "The Content-MD5 you specified was invalid.",
            )
        })
}

/// The body as a stream of this crate's results. s3s reports a bad chunk signature or a
/// payload hash mismatch only as its (private) error types' text: matched here, once.
pub(crate) fn body_stream(body: Option<StreamingBlob>) -> impl Stream<Item = Result<Bytes>> + Send {
    let body = body.unwrap_or_else(|| StreamingBlob::from(s3s::Body::empty()));
    body.map(|chunk| {
        chunk.map_err(|e| {
            let text = e.to_string();
            let kind = if text.contains("SignatureMismatch") {
                ErrorKind::BadSignature
            } else if text.contains("Sha256Mismatch") {
                ErrorKind::BadDigest
            } else {
                ErrorKind::IncompleteBody
            };
            Error::new(kind, format!("the request body could not be read: {text}"))
        })
    })
}

/// The conditional headers of a GET or HEAD.
#[derive(Debug, Default)]
pub(crate) struct Conditions {
    pub(crate) if_match: Option<ETagCondition>,
    pub(crate) if_none_match: Option<ETagCondition>,
    pub(crate) if_modified_since: Option<Timestamp>,
    pub(crate) if_unmodified_since: Option<Timestamp>,
}

impl Conditions {
    /// `Ok` when the object may be returned; `PreconditionFailed` or `NotModified` as S3
    /// answers (RFC 9110 §13.2.2 order: If-Match, If-Unmodified-Since, If-None-Match,
    /// If-Modified-Since).
    pub(crate) fn check(&self, row: &ObjectRow) -> Result<()> {
        let matches = |c: &ETagCondition| match c {
            ETagCondition::Any => true,
            ETagCondition::ETag(e) => e.value() == row.etag,
        };
        let seconds = row.modified_ms.div_euclid(1000);
        let failed = || {
            Error::new(
                ErrorKind::PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold",
            )
        };
        let not_modified = || Error::new(ErrorKind::NotModified, "Not Modified");
        if let Some(c) = &self.if_match {
            if !matches(c) {
                return Err(failed());
            }
        } else if let Some(t) = self.if_unmodified_since.as_ref().and_then(epoch_seconds)
            && seconds > t
        {
            return Err(failed());
        }
        if let Some(c) = &self.if_none_match {
            if matches(c) {
                return Err(not_modified());
            }
        } else if let Some(t) = self.if_modified_since.as_ref().and_then(epoch_seconds)
            && seconds <= t
        {
            return Err(not_modified());
        }
        Ok(())
    }
}

fn epoch_seconds(t: &Timestamp) -> Option<i64> {
    let mut buf = Vec::new();
    t.format(TimestampFormat::EpochSeconds, &mut buf).ok()?;
    std::str::from_utf8(&buf)
        .ok()?
        .parse::<f64>()
        .ok()
        .map(|s| s as i64)
}

/// `x-amz-meta-*` as stored (a JSON object), or `None` when there is none.
pub(crate) fn encode_metadata(metadata: Option<s3s::dto::Metadata>) -> Option<String> {
    metadata
        .filter(|m| !m.is_empty())
        .and_then(|m| serde_json::to_string(&m).ok())
}

/// The stored metadata, back as S3's map.
pub(crate) fn decode_metadata(text: Option<&str>) -> Option<s3s::dto::Metadata> {
    text.and_then(|t| serde_json::from_str(t).ok())
}

/// Refuses a key holding a character XML 1.0 cannot carry (NUL, the C0 controls but tab and
/// line feed, U+FFFE, U+FFFF) or a carriage return (which XML parsers turn into a line
/// feed): stored, it would break every listing of its bucket that is not url-encoded.
pub(crate) fn writable_key(key: &str) -> Result<()> {
    let bad = |c: char| matches!(c, '\0'..='\u{8}' | '\u{b}' | '\u{c}' | '\r' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}');
    if key.chars().any(bad) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "Object keys may not hold control characters other than tab and line feed",
        ));
    }
    Ok(())
}
