//! The translation of OpenDAL errors built by hand the way OpenDAL's services build them
//! (kind, S3 error body as message, `uri`/`url`/`service` context, source): each reads as one
//! short line of the right kind, with none of OpenDAL's context dump.

use opendal::ErrorKind as K;

use super::{Error, ErrorKind};

const LIST_URI: &str = "http://127.0.0.1:9000/nob?list-type=2&prefix=pipes/p1/&delimiter=/";

fn s3_error(kind: K, code: &str, uri: &str) -> opendal::Error {
    let body =
        format!("S3Error {{ code: \"{code}\", message: \"\", resource: \"\", request_id: \"\" }}");
    opendal::Error::new(kind, body)
        .with_context("service_operation", "ListObjectsV2")
        .with_context("uri", uri)
        .with_context(
            "response",
            "Parts { status: 404, version: HTTP/1.1, headers: {} }",
        )
        .with_context("service", "s3")
}

fn translated(e: opendal::Error) -> Error {
    let err = Error::from_opendal(e, "scan", "");
    let text = err.to_string();
    for dump in ["Parts {", "service_operation", "context:", "S3Error", "\n"] {
        assert!(!text.contains(dump), "{dump:?} in {text:?}");
    }
    err
}

#[test]
fn a_missing_bucket_is_named_with_its_endpoint() {
    let err = translated(s3_error(K::ConfigInvalid, "NoSuchBucket", LIST_URI));
    assert_eq!(err.kind(), ErrorKind::LocationNotFound);
    assert!(
        err.to_string()
            .starts_with("bucket nob does not exist on http://127.0.0.1:9000;"),
        "{err}"
    );
    // Virtual-hosted: the bucket is in the host name, the path is a key.
    let uri = "https://nob.s3.example.com/pipes/a.csv";
    let err = translated(s3_error(K::ConfigInvalid, "NoSuchBucket", uri));
    assert_eq!(err.kind(), ErrorKind::LocationNotFound);
    assert!(
        err.to_string().starts_with(
            "the storage at https://nob.s3.example.com says the bucket does not exist"
        ),
        "{err}"
    );
}

#[test]
fn refused_credentials_say_why_and_what_to_do() {
    for (kind, code, why) in [
        (
            K::PermissionDenied,
            "SignatureDoesNotMatch",
            "the secret key does not match",
        ),
        (
            K::PermissionDenied,
            "InvalidAccessKeyId",
            "the access key id is unknown",
        ),
        (K::Unexpected, "NotSignedUp", "the access key id is unknown"),
        (K::PermissionDenied, "AccessDenied", "access denied"),
    ] {
        let err = translated(s3_error(kind, code, LIST_URI));
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{code}");
        let text = err.to_string();
        assert!(
            text.starts_with("the storage at http://127.0.0.1:9000 refused the credentials: ")
                && text.contains(why)
                && text.contains(code)
                && text.ends_with("; check the credentials of the pipe or its remote"),
            "{text}"
        );
    }
}

#[test]
fn an_ftp_login_refusal_is_permission_denied() {
    let e = opendal::Error::new(K::Unexpected, "ftp error")
        .with_context("service", "ftp")
        .set_source(text_error("Invalid response: [530] 530 Login incorrect."));
    let err = translated(e);
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert_eq!(
        err.to_string(),
        "the FTP server refused the credentials: login incorrect; check the credentials of the pipe or its remote"
    );
}

fn ftp_error(source: &str) -> opendal::Error {
    opendal::Error::new(K::Unexpected, "ftp error")
        .with_context("service", "ftp")
        .set_source(text_error(source))
}

#[test]
fn an_ftp_server_without_tls_is_refused_in_words() {
    // vsftpd without ssl_enable, ProFTPD without mod_tls, FileZilla Server.
    for answer in [
        "[530] 530 Please login with USER and PASS.",
        "[500] 500 AUTH not understood",
        "[502] 502 Explicit TLS authentication not allowed",
    ] {
        let err = translated(ftp_error(&format!("Invalid response: {answer}")));
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{answer}");
        assert_eq!(
            err.to_string(),
            format!(
                "the FTP server does not offer TLS (AUTH TLS was refused: {answer}), and the \
                 remote requires it (ftps:// or tls: required); the password was not sent"
            )
        );
    }
}

#[test]
fn an_ftp_server_that_demands_tls_says_so() {
    let answer = "[530] 530 Non-anonymous sessions must use encryption.";
    let err = translated(ftp_error(&format!("Invalid response: {answer}")));
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(
        err.to_string()
            .starts_with("the FTP server requires TLS and refused a plain login ([530] 530 Non"),
        "{err}"
    );
    assert!(err.to_string().contains("ftps://host[:port]"), "{err}");
}

#[test]
fn an_untrusted_ftp_certificate_says_what_to_trust() {
    let err = translated(ftp_error(
        "Secure error: Secure error: invalid peer certificate: UnknownIssuer",
    ));
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert_eq!(
        err.to_string(),
        "the FTP server's TLS certificate is not trusted: UnknownIssuer; trust its CA with \
         SSL_CERT_FILE"
    );
    // vsftpd's require_ssl_reuse, on a data connection of a TLS 1.3 session.
    let err = translated(ftp_error(
        "Invalid response: [0] 522 SSL connection failed: session reuse required",
    ));
    assert_eq!(err.kind(), ErrorKind::Other);
    assert!(
        err.to_string().starts_with(
            "TLS with the FTP server failed: [0] 522 SSL connection failed: session reuse \
             required; the server wants data connections to resume the TLS session"
        ),
        "{err}"
    );
    let err = translated(ftp_error("Secure error: received corrupt message"));
    assert_eq!(err.kind(), ErrorKind::Other);
    assert_eq!(
        err.to_string(),
        "TLS with the FTP server failed: received corrupt message"
    );
}

#[test]
fn ftp_login_and_file_refusals_are_no_tls_trouble() {
    for answer in [
        "[530] 530 Authentication failed.",
        "[550] 550 Failed to open file.",
        "[500] 500 OOPS: vsftpd: cannot locate user specified in 'guest_username'",
    ] {
        let err = translated(ftp_error(&format!("Invalid response: {answer}")));
        assert!(!err.to_string().contains("TLS"), "{answer}: {err}");
    }
}

#[test]
fn a_refused_connection_names_the_endpoint() {
    let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    let e = opendal::Error::new(K::Unexpected, "send http request")
        .with_context("url", "http://127.0.0.1:9/b?list-type=2")
        .with_context("service", "s3")
        .set_source(refused);
    let err = translated(e);
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(
        err.to_string(),
        "cannot reach http://127.0.0.1:9: connection refused"
    );
    // FTP's client shows the OS error only as text.
    let e = opendal::Error::new(K::Unexpected, "ftp error")
        .with_context("service", "ftp")
        .set_source(text_error(
            "Connection error: Connection refused (os error 111)",
        ));
    assert_eq!(
        translated(e).to_string(),
        "cannot reach the FTP server: connection refused"
    );
}

#[test]
fn expired_tokens_and_bad_digests_keep_their_kinds() {
    let err = translated(s3_error(K::PermissionDenied, "ExpiredToken", LIST_URI));
    assert_eq!(err.kind(), ErrorKind::ExpiredCredentials);
    assert!(err.to_string().contains("expired (ExpiredToken)"), "{err}");
    let err = translated(s3_error(K::Unexpected, "BadDigest", LIST_URI));
    assert_eq!(err.kind(), ErrorKind::Integrity);
    assert_eq!(
        err.to_string(),
        "scan failed: integrity check failed: BadDigest"
    );
}

#[test]
fn a_port_with_530_in_it_is_no_login_refusal() {
    let e = opendal::Error::new(K::Unexpected, "send http request")
        .with_context("url", "http://127.0.0.1:45301/b")
        .set_source(text_error("the server closed the stream"));
    let err = translated(e);
    assert_eq!(err.kind(), ErrorKind::Other);
    assert_eq!(
        err.to_string(),
        "scan failed: storage error: the server closed the stream"
    );
}

#[test]
fn the_detail_keeps_what_the_message_leaves_out() {
    let err = Error::from_opendal(
        s3_error(K::ConfigInvalid, "NoSuchBucket", LIST_URI),
        "scan",
        "",
    );
    let detail = err.detail();
    assert!(
        detail.starts_with("operation: scan\ncaused by: "),
        "{detail}"
    );
    for kept in [
        "operation: scan",
        "NoSuchBucket",
        "service_operation: ListObjectsV2",
        "Parts {",
    ] {
        assert!(detail.contains(kept), "{kept:?} not in {detail}");
    }
}

/// An error whose only content is `text`, as client libraries' errors often are.
fn text_error(text: &str) -> std::io::Error {
    std::io::Error::other(text.to_string())
}
