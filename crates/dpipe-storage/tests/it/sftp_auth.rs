//! SFTP logins and host keys against a real sshd: an encrypted key with its passphrase (a
//! wrong one is a clear configuration error that shows no secret), a wrong password, a
//! keyboard-interactive login; a host key recorded on first use, then refused when another
//! server (another key) answers on the same address; a pinned key in both forms; a wrong pin;
//! no way to check the key at all.

use dpipe_storage::{ErrorKind, Location, Protocol, Storage};
use dpipe_testkit::services::sftp::{KEY_PASSPHRASE, SftpServer};
use dpipe_testkit::services::user::Workdir;

use crate::backends::{check, tuning};

/// A location of `server`'s test user in `work`, with no credentials and no host-key check.
fn location(server: &SftpServer, work: &Workdir) -> Location {
    Location::new(
        Protocol::Sftp,
        server.endpoint(),
        work.path.to_string_lossy(),
    )
    .credential("username", server.user.name)
}

/// Pins `server`'s host key (its public key line).
fn pinned(server: &SftpServer, work: &Workdir) -> Location {
    location(server, work).setting("host_key", server.host_key_line())
}

fn assert_no_secret(text: &str) {
    for secret in [
        KEY_PASSPHRASE,
        "dpipe-test-password",
        "wrong-password",
        "PRIVATE KEY",
    ] {
        assert!(!text.contains(secret), "shows a secret: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_key_needs_its_passphrase() {
    let server = SftpServer::start();
    let work = server.user.workdir();
    let key = server.encrypted_key_path().to_string_lossy().to_string();
    let with_key = pinned(&server, &work).credential("key", &key);

    let right = with_key.clone().credential("passphrase", KEY_PASSPHRASE);
    check(&right)
        .await
        .unwrap_or_else(|e| panic!("{e}; {}", server.log()));

    let wrong = with_key
        .clone()
        .credential("passphrase", "not-the-passphrase");
    let err = Storage::connect(&wrong, tuning()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.message().contains("passphrase"), "{err}");
    assert!(!err.message().contains("not-the-passphrase"), "{err}");
    assert_no_secret(&format!("{err} {}", err.detail()));

    let none = Storage::connect(&with_key, tuning()).unwrap_err();
    assert_eq!(none.kind(), ErrorKind::Config, "{none}");
    assert!(none.message().contains("encrypted"), "{none}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_a_refused_login() {
    let server = SftpServer::start();
    let work = server.user.workdir();
    let wrong = pinned(&server, &work).credential("password", "wrong-password");
    let storage = Storage::connect(&wrong, tuning()).unwrap();
    let err = storage.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(
        err.message().contains(&format!(
            "the SFTP server at {} refused the login of user {}",
            server.endpoint(),
            server.user.name
        )),
        "{err}"
    );
    assert!(err.message().contains("password"), "{err}");
    assert!(!err.is_unreachable(), "{err}");
    assert_no_secret(&format!("{err} {} {storage:?} {wrong:?}", err.detail()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_interactive_takes_the_password() {
    let server = SftpServer::start_keyboard_interactive();
    let work = server.user.workdir();
    let right = pinned(&server, &work).credential("password", server.user.password);
    check(&right)
        .await
        .unwrap_or_else(|e| panic!("{e}; {}", server.log()));

    let wrong = pinned(&server, &work).credential("password", "wrong-password");
    let err = check(&wrong).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(err.message().contains("keyboard-interactive"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_key_is_recorded_then_a_changed_one_refused() {
    let mut server = SftpServer::start();
    let work = server.user.workdir();
    let known = tempfile::tempdir().unwrap();
    let file = known.path().join("config/known_hosts");
    let with_file = location(&server, &work)
        .credential("password", server.user.password)
        .setting("known_hosts_file", file.to_string_lossy());

    // First use: recorded (0600), then accepted by a new connection.
    check(&with_file).await.unwrap();
    let recorded = std::fs::read_to_string(&file).unwrap();
    let expected = format!("[127.0.0.1]:{} ssh-ed25519 ", server.port);
    assert!(recorded.starts_with(&expected), "{recorded}");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    check(&with_file).await.unwrap();

    // Another server on the same address: refused, nothing sent.
    let old = server.host_key_fingerprint();
    server.restart_with_new_host_key();
    let new = server.host_key_fingerprint();
    assert_ne!(old, new);
    let local = tempfile::tempdir().unwrap();
    let source = local.path().join("f.txt");
    std::fs::write(&source, "secret data").unwrap();
    let storage = Storage::connect(&with_file, tuning()).unwrap();
    let err = storage.put(&source, "f.txt", None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::HostKeyChanged, "{err}");
    let message = err.message();
    assert!(message.contains(&old) && message.contains(&new), "{err}");
    assert!(message.contains(&file.display().to_string()), "{err}");
    assert!(
        !work.path.join("f.txt").exists(),
        "nothing reached the other server"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        recorded,
        "the record is kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_host_key_in_either_form() {
    let server = SftpServer::start();
    let work = server.user.workdir();
    let login = |pin: &str| {
        location(&server, &work)
            .credential("private_key", server.key_text())
            .setting("host_key", pin)
    };
    for pin in [server.host_key_line(), server.host_key_fingerprint()] {
        check(&login(&pin))
            .await
            .unwrap_or_else(|e| panic!("pin {pin}: {e}"));
    }

    // Another key's fingerprint: refused, naming the pin and what the server presented.
    let other = SftpServer::start().host_key_fingerprint();
    let err = check(&login(&other)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::HostKeyChanged, "{err}");
    assert!(err.message().contains(&other), "{err}");
    assert!(
        err.message().contains(&server.host_key_fingerprint()),
        "{err}"
    );

    // Not a key at all: refused before connecting.
    let err = Storage::connect(&login("ssh-ed25519 nonsense"), tuning()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
}

#[test]
fn without_a_pin_or_known_hosts_file_nothing_connects() {
    let location = Location::new(Protocol::Sftp, "127.0.0.1:22", "")
        .credential("username", "u")
        .credential("password", "wrong-password");
    let err = Storage::connect(&location, tuning()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.message().contains("host_key"), "{err}");
    assert!(err.message().contains("known_hosts_file"), "{err}");
    assert_no_secret(&err.to_string());
}
