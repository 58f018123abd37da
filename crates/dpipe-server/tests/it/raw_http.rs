//! A hand-written HTTP/1.1 client that talks exactly like the d6tpipe 1.2.7 client
//! (Python's urllib): `Connection: close`, `Accept-Encoding: identity`,
//! `User-Agent: Python-urllib/3.11`, `Authorization: Token ...`, `Content-Type` and
//! `Content-Length` only when a body is sent, every path ending with `/`.
//!
//! Every answer is checked against what the client can cope with, whatever the test: never a
//! 3xx, never compressed, and any 4xx/5xx body is ASCII JSON.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{Value, json};

/// A parsed HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Header names (lower-cased) and values.
    pub headers: Vec<(String, String)>,
    /// The decoded body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as text (panics on non-UTF-8).
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }

    /// The body as JSON (panics when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Asserts the status, showing the body when it differs; returns `self` for chaining.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Answer {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self
    }

    /// Asserts a 4xx `status` whose raw body contains `needle` (as the client's `in` and
    /// `re.search` checks do).
    #[track_caller]
    pub fn expect_error(&self, status: u16, needle: &str) {
        self.expect(status);
        assert!(
            self.text().contains(needle),
            "{status} body lacks {needle:?}: {}",
            self.text()
        );
    }
}

/// One request, built like urllib builds it.
#[derive(Debug, Clone)]
pub struct Call {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Call {
    /// `method target` with the headers urllib always sends.
    pub fn new(method: &str, target: &str) -> Call {
        Call {
            method: method.to_string(),
            target: target.to_string(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Call {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// `Authorization: Token <token>` when a token is given.
    pub fn token(self, token: Option<&str>) -> Call {
        match token {
            Some(token) => self.header("Authorization", &format!("Token {token}")),
            None => self,
        }
    }

    /// A JSON body as `json.dumps` + urllib send it.
    pub fn json(self, body: &Value) -> Call {
        self.raw(body.to_string().into_bytes())
    }

    /// Raw body bytes, labelled as JSON.
    pub fn raw(mut self, body: Vec<u8>) -> Call {
        self = self.header("Content-Type", "application/json");
        self.body = Some(body);
        self
    }

    /// A body without `Content-Type` (only `Content-Length`).
    pub fn unlabelled(mut self, body: Vec<u8>) -> Call {
        self.body = Some(body);
        self
    }

    /// d6tpipe's PATCH quirk: `Content-Length: 0` and no `Content-Type`.
    pub fn empty_body(self) -> Call {
        self.unlabelled(Vec::new())
    }

    /// The request's bytes.
    pub fn to_bytes(&self, addr: SocketAddr) -> Vec<u8> {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nAccept-Encoding: identity\r\nHost: {addr}\r\nUser-Agent: Python-urllib/3.11\r\n",
            self.method, self.target
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = &self.body {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("Connection: close\r\n\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(self.body.as_deref().unwrap_or_default());
        bytes
    }

    /// Sends the request and checks the answer's invariants; panics on I/O errors.
    #[track_caller]
    pub fn send(&self, addr: SocketAddr) -> Answer {
        self.try_send(addr)
            .unwrap_or_else(|e| panic!("{} {}: {e}", self.method, self.target))
    }

    /// Sends the request and checks the answer's invariants.
    pub fn try_send(&self, addr: SocketAddr) -> std::io::Result<Answer> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        // The server may answer (413) before reading the whole body; the answer still counts.
        let _ = stream.write_all(&self.to_bytes(addr));
        read_answer(&mut stream)
    }
}

/// Reads a whole answer from a `Connection: close` stream and checks its invariants.
pub fn read_answer(stream: &mut TcpStream) -> std::io::Result<Answer> {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let answer = parse(&raw)?;
    check_invariants(&answer);
    Ok(answer)
}

fn parse(raw: &[u8]) -> std::io::Result<Answer> {
    let bad =
        |what: &str| std::io::Error::other(format!("{what}: {:?}", String::from_utf8_lossy(raw)));
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| bad("non-UTF-8 headers"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body).ok_or_else(|| bad("bad chunked body"))?;
    } else if let Some((_, length)) = headers.iter().find(|(k, _)| k == "content-length") {
        assert_eq!(
            length.parse::<usize>().ok(),
            Some(body.len()),
            "Content-Length matches the body"
        );
    }
    Ok(Answer {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let end = data.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(
            std::str::from_utf8(&data[..end])
                .ok()?
                .split(';')
                .next()?
                .trim(),
            16,
        )
        .ok()?;
        data = &data[end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// What the d6tpipe client needs of every answer.
fn check_invariants(answer: &Answer) {
    assert!(
        !(300..400).contains(&answer.status),
        "a redirect ({}) would break the d6tpipe client",
        answer.status
    );
    assert!(
        answer.header("content-encoding").is_none(),
        "the client does not decompress"
    );
    if answer.status >= 400 {
        assert!(
            answer.body.is_ascii(),
            "error bodies are ASCII: {:?}",
            String::from_utf8_lossy(&answer.body)
        );
        assert!(
            answer
                .header("content-type")
                .is_some_and(|t| t.starts_with("application/json")),
            "error bodies are JSON: {:?}",
            answer.headers
        );
        assert!(
            answer.json().is_object(),
            "error bodies are JSON objects: {}",
            answer.text()
        );
    }
}

/// One user of the API as the d6tpipe client is: a server address and maybe a token.
#[derive(Debug, Clone)]
pub struct D6t {
    /// The server.
    pub addr: SocketAddr,
    /// The profile's token.
    pub token: Option<String>,
}

impl D6t {
    /// An anonymous client.
    pub fn anonymous(addr: SocketAddr) -> D6t {
        D6t { addr, token: None }
    }

    /// Registers `username` (email `<username>@example.com`) and returns its client.
    #[track_caller]
    pub fn register(addr: SocketAddr, username: &str) -> D6t {
        let answer = D6t::anonymous(addr).post("accounts", &account(username));
        answer.expect(201);
        let token = answer.json()["token"]
            .as_str()
            .expect("a token")
            .to_string();
        D6t {
            addr,
            token: Some(token),
        }
    }

    /// A request to `/v1/api/<path>/[?query]`, with the token.
    pub fn call(&self, method: &str, path: &str) -> Call {
        let (path, query) = path
            .split_once('?')
            .map_or((path, None), |(p, q)| (p, Some(q)));
        let mut target = if path.is_empty() {
            "/v1/api/".to_string()
        } else {
            format!("/v1/api/{path}/")
        };
        if let Some(query) = query {
            target.push('?');
            target.push_str(query);
        }
        Call::new(method, &target).token(self.token.as_deref())
    }

    /// `GET`.
    #[track_caller]
    pub fn get(&self, path: &str) -> Answer {
        self.call("GET", path).send(self.addr)
    }

    /// `POST` with a JSON body.
    #[track_caller]
    pub fn post(&self, path: &str, body: &Value) -> Answer {
        self.call("POST", path).json(body).send(self.addr)
    }

    /// `PUT` with a JSON body.
    #[track_caller]
    pub fn put(&self, path: &str, body: &Value) -> Answer {
        self.call("PUT", path).json(body).send(self.addr)
    }

    /// `PATCH` with a JSON body.
    #[track_caller]
    pub fn patch(&self, path: &str, body: &Value) -> Answer {
        self.call("PATCH", path).json(body).send(self.addr)
    }

    /// `DELETE`.
    #[track_caller]
    pub fn delete(&self, path: &str) -> Answer {
        self.call("DELETE", path).send(self.addr)
    }

    /// How many pipes `GET pipes/` lists.
    #[track_caller]
    pub fn pipe_count(&self) -> usize {
        self.get("pipes")
            .expect(200)
            .json()
            .as_array()
            .expect("a bare array")
            .len()
    }
}

/// The registration body of `username`.
pub fn account(username: &str) -> Value {
    json!({"username": username, "email": format!("{username}@example.com"), "password": "pw-123456"})
}
