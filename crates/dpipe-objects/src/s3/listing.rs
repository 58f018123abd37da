//! ListObjects (v1: Marker/NextMarker, what boto3's `bucket.objects.filter` pages with) and
//! ListObjectsV2 (ContinuationToken, StartAfter, KeyCount), both with ETag, size and
//! LastModified for every key, Delimiter/CommonPrefixes (an empty `delimiter=` is none), and
//! `encoding-type=url`, which percent-encodes the keys and prefixes of the answer as AWS
//! does (botocore sends it by default and decodes with `unquote_plus`, so a space is sent
//! as `%20` and a `+` as `%2B`, never a bare `+`).

use base64::Engine as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::timestamp;
use crate::store::ObjectStore;
use crate::store::listing::{Entry, ListQuery, MAX_KEYS, Page};

/// Left as they are by `encoding-type=url`: RFC 3986's unreserved characters and `/`.
const KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// How names go out: as they are, or url-encoded.
#[derive(Clone, Copy)]
struct Names {
    url: bool,
}

impl Names {
    fn read(encoding: Option<&EncodingType>) -> S3Result<Names> {
        match encoding.map(EncodingType::as_str) {
            None => Ok(Names { url: false }),
            Some(e) if e.eq_ignore_ascii_case("url") => Ok(Names { url: true }),
            Some(_) => Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "Invalid Encoding Method specified in Request",
            )),
        }
    }

    fn out(self, name: &str) -> String {
        if self.url {
            utf8_percent_encode(name, KEEP).to_string()
        } else {
            name.to_owned()
        }
    }

    fn echo(self) -> Option<EncodingType> {
        self.url
            .then(|| EncodingType::from_static(EncodingType::URL))
    }
}

fn max_keys(max: Option<MaxKeys>) -> S3Result<usize> {
    match max {
        None => Ok(MAX_KEYS),
        Some(n) if n < 0 => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "max-keys must be a non-negative integer",
        )),
        Some(n) => Ok((n as usize).min(MAX_KEYS)),
    }
}

fn delimiter(d: Option<Delimiter>) -> Option<String> {
    d.filter(|d| !d.is_empty())
}

/// The contents and common prefixes of a page, names as they go out.
fn split(page: &Page, names: Names) -> (Vec<Object>, Vec<CommonPrefix>) {
    let mut contents = Vec::new();
    let mut prefixes = Vec::new();
    for entry in &page.entries {
        match entry {
            Entry::Object(o) => contents.push(Object {
                key: Some(names.out(&o.key)),
                size: Some(o.size as i64),
                e_tag: Some(ETag::Strong(o.etag.clone())),
                last_modified: Some(timestamp(o.modified_ms)),
                storage_class: Some(ObjectStorageClass::from_static(
                    ObjectStorageClass::STANDARD,
                )),
                ..Default::default()
            }),
            Entry::Prefix(p) => prefixes.push(CommonPrefix {
                prefix: Some(names.out(p)),
            }),
        }
    }
    (contents, prefixes)
}

/// Where a truncated page ends: the name the next page starts after.
fn last_name(page: &Page) -> Option<&str> {
    page.truncated
        .then(|| page.entries.last().map(Entry::name))
        .flatten()
}

pub(super) async fn list_v1(
    store: &ObjectStore,
    req: S3Request<ListObjectsInput>,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let input = req.input;
    let names = Names::read(input.encoding_type.as_ref())?;
    let marker = input.marker.filter(|m| !m.is_empty());
    let query = ListQuery {
        bucket: input.bucket.clone(),
        prefix: input.prefix.clone().unwrap_or_default(),
        delimiter: delimiter(input.delimiter.clone()),
        after: marker.as_ref().map(|m| m.as_bytes().to_vec()),
        max: max_keys(input.max_keys)?,
    };
    let max = query.max;
    let page = store.list(query).await?;
    let (contents, prefixes) = split(&page, names);
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(input.bucket),
        prefix: Some(names.out(input.prefix.as_deref().unwrap_or(""))),
        marker: Some(names.out(marker.as_deref().unwrap_or(""))),
        max_keys: Some(max as i32),
        is_truncated: Some(page.truncated),
        next_marker: last_name(&page).map(|n| names.out(n)),
        contents: (!contents.is_empty()).then_some(contents),
        common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
        delimiter: delimiter(input.delimiter).map(|d| names.out(&d)),
        encoding_type: names.echo(),
        ..Default::default()
    }))
}

fn token_engine() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

pub(super) async fn list_v2(
    store: &ObjectStore,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let input = req.input;
    let names = Names::read(input.encoding_type.as_ref())?;
    let after = match input.continuation_token.as_deref() {
        Some(token) => Some(token_engine().decode(token).map_err(|_| {
            S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "The continuation token provided is incorrect",
            )
        })?),
        None => input
            .start_after
            .as_ref()
            .filter(|s| !s.is_empty())
            .map(|s| s.as_bytes().to_vec()),
    };
    let query = ListQuery {
        bucket: input.bucket.clone(),
        prefix: input.prefix.clone().unwrap_or_default(),
        delimiter: delimiter(input.delimiter.clone()),
        after,
        max: max_keys(input.max_keys)?,
    };
    let max = query.max;
    let page = store.list(query).await?;
    let (contents, prefixes) = split(&page, names);
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(input.bucket),
        prefix: Some(names.out(input.prefix.as_deref().unwrap_or(""))),
        max_keys: Some(max as i32),
        key_count: Some(page.entries.len() as i32),
        continuation_token: input.continuation_token,
        is_truncated: Some(page.truncated),
        next_continuation_token: last_name(&page).map(|n| token_engine().encode(n)),
        contents: (!contents.is_empty()).then_some(contents),
        common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
        delimiter: delimiter(input.delimiter).map(|d| names.out(&d)),
        encoding_type: names.echo(),
        start_after: input.start_after.map(|s| names.out(&s)),
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::Names;

    #[test]
    fn url_encoding_keeps_slashes_and_unreserved_characters_only() {
        let names = Names { url: true };
        assert_eq!(names.out("a b/c+d%e~f_g-h.i"), "a%20b/c%2Bd%25e~f_g-h.i");
        assert_eq!(names.out("é"), "%C3%A9");
        assert_eq!(Names { url: false }.out("a b"), "a b");
    }
}
