//! FTPS against real vsftpd servers: a remote that requires TLS is refused by a server that
//! offers none before any login (vsftpd's log shows no `USER` or `PASS`), an `ftps://`
//! location moves files over protected data connections, a certificate no CA of
//! `SSL_CERT_FILE` signed is refused in words, and a server that demands TLS refuses plain FTP.

use dpipe_storage::{ErrorKind, Location, Protocol, Storage};
use dpipe_testkit::services::ftp::{FtpServer, FtpTls};

use crate::backends::{check, trust_test_ca, tuning};

/// A location of the test user on `server` at `location`, in a fresh folder of its own.
fn login(server: &FtpServer, location: &str) -> (Location, dpipe_testkit::services::user::Workdir) {
    let work = server.user.workdir();
    let location = Location::new(Protocol::Ftp, location, work.path.to_string_lossy())
        .credential("username", server.user.name)
        .credential("password", server.user.password);
    (location, work)
}

/// The commands vsftpd logged (`FTP command: Client "…", "CMD ARGS"`).
fn commands(server: &FtpServer) -> Vec<String> {
    server
        .log()
        .lines()
        .filter_map(|l| l.split_once("FTP command: ").map(|(_, c)| c.to_string()))
        .collect()
}

#[tokio::test]
async fn tls_required_of_a_plain_server_is_refused_before_the_login() {
    trust_test_ca();
    let server = FtpServer::start_with(FtpTls::Off);
    let (location, _work) = login(&server, &server.endpoint());
    let location = location.setting("tls", "required");
    let err = check(&location).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with("the FTP server does not offer TLS (AUTH TLS was refused"),
        "{text}"
    );
    assert!(text.ends_with("the password was not sent"), "{text}");
    assert!(!text.contains(server.user.password), "{text}");
    let commands = commands(&server);
    assert!(
        commands.iter().any(|c| c.contains("\"AUTH TLS\"")),
        "vsftpd logs commands: {commands:?}"
    );
    assert!(
        !commands
            .iter()
            .any(|c| c.contains("\"USER") || c.contains("\"PASS")),
        "no login was tried: {commands:?}"
    );
}

#[tokio::test]
async fn ftps_moves_files_over_protected_connections() {
    trust_test_ca();
    let server = FtpServer::start_with(FtpTls::Required);
    // Both ways of asking for TLS: the scheme, and the remote's setting on a bare host:port.
    let by_scheme = login(&server, &format!("ftps://{}", server.endpoint()));
    let by_setting = login(&server, &server.endpoint());
    let by_setting = (by_setting.0.setting("tls", "required"), by_setting.1);
    for (location, work) in [by_scheme, by_setting] {
        let storage = Storage::connect(&location, tuning()).unwrap();
        let local = tempfile::tempdir().unwrap();
        let source = local.path().join("a.csv");
        std::fs::write(&source, "x,y\n1,2\n").unwrap();
        storage.put(&source, "sub/a.csv", None).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(work.path.join("sub/a.csv")).unwrap(),
            "x,y\n1,2\n"
        );
        let manifest = storage.scan("").await.unwrap();
        let keys: Vec<&str> = manifest.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(keys, ["sub/a.csv"], "{location:?}");
    }
    let commands = commands(&server);
    assert!(
        commands.iter().any(|c| c.contains("\"PROT P\"")),
        "data connections protected: {commands:?}"
    );
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_in_words() {
    trust_test_ca();
    let server = FtpServer::start_untrusted();
    let (location, _work) = login(&server, &format!("ftps://{}", server.endpoint()));
    let err = check(&location).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with("the FTP server's TLS certificate is not trusted: "),
        "{text}"
    );
    assert!(
        text.ends_with("; trust its CA with SSL_CERT_FILE"),
        "{text}"
    );
    assert!(
        !commands(&server).iter().any(|c| c.contains("\"PASS")),
        "no password after a failed handshake"
    );
}

#[tokio::test]
async fn a_server_that_demands_tls_refuses_plain_ftp() {
    let server = FtpServer::start_with(FtpTls::Required);
    let (location, _work) = login(&server, &format!("ftp://{}", server.endpoint()));
    let err = check(&location).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with("the FTP server requires TLS and refused a plain login"),
        "{text}"
    );
    assert!(text.contains("ftps://host[:port]"), "{text}");
}

#[test]
fn a_wrong_tls_setting_is_a_clear_error() {
    let location = Location::new(Protocol::Ftp, "127.0.0.1:21", "/x").setting("tls", "yes");
    let err = Storage::connect(&location, tuning()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(
        err.to_string(),
        "ftp: the remote's tls setting is \"yes\"; it must be \"required\" or \"off\""
    );
}
