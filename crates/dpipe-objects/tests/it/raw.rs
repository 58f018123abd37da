//! Raw HTTP requests, for what no SDK sends (aws-chunked bodies written by hand, raw
//! `%2e%2e` paths, half-sent bodies), signed by a test-only SigV4 header signer.

use std::io::Write as _;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::REGION;

/// A raw HTTP request, signed (SigV4, headers only) as `(id, secret)` unless `None`.
pub struct Raw<'a> {
    pub method: &'a str,
    /// Path and query exactly as sent.
    pub target: &'a str,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub sign_as: Option<(&'a str, &'a str)>,
    /// `x-amz-content-sha256` to sign (default: the body's SHA-256).
    pub payload: Option<&'a str>,
}

/// Sends `raw` to `addr` on a fresh connection; (status, body).
pub async fn send_raw(addr: std::net::SocketAddr, raw: Raw<'_>) -> (u16, String) {
    let mut request = request_head(addr, &raw);
    request.extend_from_slice(&raw.body);
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(&request).await.unwrap();
    read_answer(&mut stream).await
}

/// Reads an answer to the end (the requests say `connection: close`); (status, text).
pub async fn read_answer(stream: &mut tokio::net::TcpStream) -> (u16, String) {
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

/// The request line and headers of `raw` (signed if asked), up to the body.
pub fn request_head(addr: std::net::SocketAddr, raw: &Raw<'_>) -> Vec<u8> {
    let mut headers = raw.headers.clone();
    headers.push(("host".into(), addr.to_string()));
    if let Some((id, secret)) = raw.sign_as {
        let payload = raw
            .payload
            .map(str::to_owned)
            .unwrap_or_else(|| hex::encode(Sha256::digest(&raw.body)));
        sign(raw.method, raw.target, &mut headers, &payload, id, secret);
    }
    let mut request = Vec::new();
    write!(request, "{} {} HTTP/1.1\r\n", raw.method, raw.target).unwrap();
    for (n, v) in &headers {
        write!(request, "{n}: {v}\r\n").unwrap();
    }
    write!(
        request,
        "content-length: {}\r\nconnection: close\r\n\r\n",
        raw.body.len()
    )
    .unwrap();
    request
}

/// SigV4 over the headers given (all signed), for tests only.
fn sign(
    method: &str,
    target: &str,
    headers: &mut Vec<(String, String)>,
    payload: &str,
    id: &str,
    secret: &str,
) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (date, time) = utc(now);
    let amz_date = format!("{date}T{time}Z");
    headers.push(("x-amz-date".into(), amz_date.clone()));
    headers.push(("x-amz-content-sha256".into(), payload.to_owned()));
    let mut canon: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    canon.sort();
    let signed: Vec<&str> = canon.iter().map(|(n, _)| n.as_str()).collect();
    let signed = signed.join(";");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    // As the SDKs do for S3: the path decoded, then encoded once (unreserved kept).
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    let decoded = percent_encoding::percent_decode_str(path).collect::<Vec<u8>>();
    let path = percent_encoding::percent_encode(&decoded, KEEP).to_string();
    let mut pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    pairs.sort();
    let query: Vec<String> = pairs
        .iter()
        .map(|p| {
            if p.contains('=') {
                (*p).to_owned()
            } else {
                format!("{p}=")
            }
        })
        .collect();
    let mut creq = format!("{method}\n{path}\n{}\n", query.join("&"));
    for (n, v) in &canon {
        creq.push_str(&format!("{n}:{v}\n"));
    }
    creq.push_str(&format!("\n{signed}\n{payload}"));
    let scope = format!("{date}/{REGION}/s3/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(creq.as_bytes()))
    );
    let hmac = |key: &[u8], data: &str| {
        let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
        m.update(data.as_bytes());
        m.finalize().into_bytes().to_vec()
    };
    let k = hmac(format!("AWS4{secret}").as_bytes(), &date);
    let k = hmac(&k, REGION);
    let k = hmac(&k, "s3");
    let k = hmac(&k, "aws4_request");
    let signature = hex::encode(hmac(&k, &to_sign));
    headers.push((
        "authorization".into(),
        format!("AWS4-HMAC-SHA256 Credential={id}/{scope}, SignedHeaders={signed}, Signature={signature}"),
    ));
}

/// (YYYYMMDD, HHMMSS) of a Unix time.
fn utc(secs: u64) -> (String, String) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        format!("{y:04}{m:02}{d:02}"),
        format!("{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60),
    )
}
