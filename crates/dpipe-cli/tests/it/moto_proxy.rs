//! A proxy in front of moto that makes the dpipe client's S3 requests verifiable there.
//!
//! The client (OpenDAL 0.59 with reqsign) sends query values with `/` as is
//! (`?prefix=ann/demo/&delimiter=/`) but signs them percent-encoded (`ann%2Fdemo%2F`), as
//! SigV4 canonicalizes them. AWS S3 (and s3s) decode the query and re-encode it before
//! checking the signature, so the request is valid there; moto 5.2.5 checks it over the raw
//! query (botocore's `_canonical_query_string_url` does not re-encode) and answers every
//! listing `SignatureDoesNotMatch`. The proxy sends the query the way it was signed — `/`
//! as `%2F` — and relays everything else byte for byte. moto closes every connection after
//! its answer (`Connection: close`), so only the first request line of a connection is read.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The longest request head the proxy reads.
const HEAD_MAX: usize = 64 * 1024;

/// A running proxy to moto; stops when dropped.
pub struct MotoProxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    _runtime: tokio::runtime::Runtime,
}

impl MotoProxy {
    /// Starts a proxy on a free 127.0.0.1 port to moto at `moto_url` (`http://HOST:PORT`).
    pub fn start(moto_url: &str) -> MotoProxy {
        let upstream: SocketAddr = moto_url
            .trim_start_matches("http://")
            .parse()
            .expect("moto's URL is http://IP:PORT");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(async move {
                    // A failed relay shows as a failed request in the client.
                    let _ = relay(client, upstream).await;
                });
            }
        });
        MotoProxy {
            url,
            _runtime: runtime,
        }
    }
}

/// Relays one connection: its request line rewritten, the rest as is, both ways.
async fn relay(mut client: TcpStream, upstream: SocketAddr) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 8192];
    let line_end = loop {
        if let Some(end) = head.windows(2).position(|w| w == b"\r\n") {
            break end;
        }
        let n = client.read(&mut chunk).await?;
        if n == 0 || head.len() > HEAD_MAX {
            return Ok(());
        }
        head.extend_from_slice(&chunk[..n]);
    };
    let line = String::from_utf8_lossy(&head[..line_end]).into_owned();
    let mut server = TcpStream::connect(upstream).await?;
    server.write_all(signed_form(&line).as_bytes()).await?;
    server.write_all(&head[line_end..]).await?;
    tokio::io::copy_bidirectional(&mut client, &mut server).await?;
    Ok(())
}

/// `METHOD TARGET VERSION` with `/` in the target's query as `%2F`.
fn signed_form(line: &str) -> String {
    let mut parts = line.splitn(3, ' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return line.to_owned();
    };
    let target = match target.split_once('?') {
        Some((path, query)) => format!("{path}?{}", query.replace('/', "%2F")),
        None => target.to_owned(),
    };
    format!("{method} {target} {version}")
}

#[test]
fn query_slashes_are_encoded_and_paths_kept() {
    assert_eq!(
        signed_form("GET /dpipe-managed?list-type=2&prefix=ann/demo/&delimiter=/ HTTP/1.1"),
        "GET /dpipe-managed?list-type=2&prefix=ann%2Fdemo%2F&delimiter=%2F HTTP/1.1"
    );
    assert_eq!(
        signed_form("PUT /dpipe-managed/ann/demo/a.csv HTTP/1.1"),
        "PUT /dpipe-managed/ann/demo/a.csv HTTP/1.1"
    );
}
