//! A real FTP server for tests: Debian's `/usr/sbin/vsftpd` as root with its own config in a
//! temporary folder — `listen=YES` on 127.0.0.1 and a free port, local users with write access,
//! `seccomp_sandbox=NO`, passive mode on a free port range announced as 127.0.0.1, no chroot,
//! dot files listed (`force_dot_files`: OpenDAL lists with a plain `LIST`), every command
//! logged (`log_ftp_protocol`, so a test can see that no password was sent) —
//! logging in the [`super::user`] test user with its password. Stopped on drop.
//!
//! FTPS ([`FtpTls`]): explicit TLS (`AUTH TLS`) with a certificate for `127.0.0.1` made at
//! start by Debian's `openssl`, signed by this process's test CA ([`test_ca_file`]: what a test
//! names with `SSL_CERT_FILE`), or by a CA nobody trusts ([`FtpServer::start_untrusted`]).
//! vsftpd's defaults otherwise (`require_ssl_reuse=YES`: each data connection resumes the
//! control connection's TLS session), but TLS 1.2 at most (see `OPENSSL_CONFIG`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use super::user::{TestUser, test_user};
use super::{INSTALL_HINT, free_port, require_binary, wait_for_port};

const VSFTPD: &str = "/usr/sbin/vsftpd";
const OPENSSL: &str = "/usr/bin/openssl";
/// Passive data ports per server: plenty for a test's concurrent transfers.
const PASV_PORTS: u16 = 24;

/// OpenSSL's configuration for vsftpd: TLS 1.2 at most, which OpenDAL's FTP client (rustls)
/// needs of vsftpd. Over TLS 1.3 its data connections do not resume the control connection's
/// session ("522 SSL connection failed: session reuse required" unless
/// `require_ssl_reuse=NO`), and OpenSSL sends session tickets after each data connection's
/// handshake that the client never reads, so closing an upload's connection resets it and
/// vsftpd loses the upload's last bytes ("426 Failure reading network stream").
const OPENSSL_CONFIG: &str = "openssl_conf = dpipe_test\n\
    [dpipe_test]\n\
    ssl_conf = dpipe_ssl\n\
    [dpipe_ssl]\n\
    system_default = dpipe_tls\n\
    [dpipe_tls]\n\
    MaxProtocol = TLSv1.2\n";

/// Whether the server speaks TLS, and whether it demands it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FtpTls {
    /// Plain FTP only: `AUTH TLS` is refused.
    Off,
    /// Explicit TLS offered; plain logins are still accepted.
    Offered,
    /// Explicit TLS demanded: a login or a data connection without it is refused
    /// (`force_local_logins_ssl`, `force_local_data_ssl`).
    Required,
}

/// A running vsftpd.
pub struct FtpServer {
    /// The control port on 127.0.0.1.
    pub port: u16,
    /// The user it logs in.
    pub user: &'static TestUser,
    dir: tempfile::TempDir,
    child: Child,
}

impl FtpServer {
    /// Starts a plain vsftpd on a free port (creating the test user if needed).
    pub fn start() -> Self {
        Self::start_with(FtpTls::Off)
    }

    /// Starts vsftpd speaking `tls`, its certificate (if any) signed by the test CA.
    pub fn start_with(tls: FtpTls) -> Self {
        match tls {
            FtpTls::Off => Self::launch(tls, None),
            FtpTls::Offered | FtpTls::Required => Self::launch(tls, Some(test_ca())),
        }
    }

    /// Starts vsftpd offering TLS with a certificate signed by a CA of its own, which no test
    /// trusts.
    pub fn start_untrusted() -> Self {
        let other = tempfile::Builder::new()
            .prefix("dpipe-untrusted-ca-")
            .tempdir()
            .expect("ftp test server: temp folder");
        let ca = make_ca(other.path(), "dpipe untrusted test CA");
        Self::launch(FtpTls::Offered, Some(&ca))
    }

    /// Starts vsftpd speaking `tls`, with a certificate signed by `ca` (given unless `Off`).
    fn launch(tls: FtpTls, ca: Option<&TestCa>) -> Self {
        require_binary(VSFTPD);
        let user = test_user();
        std::fs::create_dir_all("/var/run/vsftpd/empty")
            .expect("ftp test server: mkdir secure_chroot_dir");
        let dir = tempfile::Builder::new()
            .prefix("dpipe-vsftpd-")
            .tempdir()
            .expect("ftp test server: temp folder");
        if let Some(ca) = ca {
            make_server_certificate(dir.path(), ca);
        }
        let mut log = String::new();
        for _ in 0..3 {
            let port = free_port();
            let pasv = free_port_range(PASV_PORTS);
            let mut child = spawn(dir.path(), port, pasv, tls);
            if wait_for_port(port, Duration::from_secs(10)) {
                return Self {
                    port,
                    user,
                    dir,
                    child,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            log = std::fs::read_to_string(dir.path().join("vsftpd.log")).unwrap_or_default();
        }
        panic!("ftp test server: vsftpd did not start: {log}");
    }

    /// `127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// vsftpd's log so far: sessions, every command (`PASS` with its argument hidden) and
    /// transfers.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("vsftpd.log")).unwrap_or_default()
    }
}

/// The PEM file of this process's test CA, which signs the certificates of the FTPS servers
/// ([`FtpServer::start_with`]): what `SSL_CERT_FILE` names for a client that trusts them.
pub fn test_ca_file() -> &'static Path {
    &test_ca().certificate
}

/// A certificate authority made for tests: its certificate and key, in PEM files.
struct TestCa {
    certificate: PathBuf,
    key: PathBuf,
}

/// The CA of this process, made once; its folder lives as long as the process.
fn test_ca() -> &'static TestCa {
    static CA: OnceLock<(TestCa, tempfile::TempDir)> = OnceLock::new();
    &CA.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("dpipe-test-ca-")
            .tempdir()
            .expect("test CA: temp folder");
        (make_ca(dir.path(), "dpipe test CA"), dir)
    })
    .0
}

/// Makes a CA named `name` (a self-signed RSA certificate, `CA:TRUE`) in `dir`.
fn make_ca(dir: &Path, name: &str) -> TestCa {
    let ca = TestCa {
        certificate: dir.join("ca.pem"),
        key: dir.join("ca.key"),
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        &format!("/CN={name}"),
        "-keyout",
        path(&ca.key),
        "-out",
        path(&ca.certificate),
    ]);
    ca
}

/// Makes vsftpd's certificate for `127.0.0.1` and `localhost` (`server.pem`, `server.key` in
/// `dir`), signed by `ca`.
fn make_server_certificate(dir: &Path, ca: &TestCa) {
    let (key, request, certificate, extensions) = (
        dir.join("server.key"),
        dir.join("server.csr"),
        dir.join("server.pem"),
        dir.join("server.ext"),
    );
    std::fs::write(
        &extensions,
        "basicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\n\
         subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("ftp test server: certificate extensions");
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        path(&key),
        "-out",
        path(&request),
    ]);
    openssl(&[
        "x509",
        "-req",
        "-days",
        "2",
        "-set_serial",
        &serial(),
        "-in",
        path(&request),
        "-CA",
        path(&ca.certificate),
        "-CAkey",
        path(&ca.key),
        "-extfile",
        path(&extensions),
        "-out",
        path(&certificate),
    ]);
}

/// A serial number no other certificate of the test CA has.
fn serial() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    format!(
        "{}{:06}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn path(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// Runs `openssl` with `args`, quietly; panics with its stderr if it fails.
fn openssl(args: &[&str]) {
    require_binary(OPENSSL);
    let out = Command::new(OPENSSL)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {OPENSSL}: {e}; {INSTALL_HINT}"));
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args[0],
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Drop for FtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(dir: &Path, port: u16, (pasv_min, pasv_max): (u16, u16), tls: FtpTls) -> Child {
    let config = dir.join("vsftpd.conf");
    let text = config_text(dir, port, pasv_min, pasv_max) + &tls_config_text(dir, tls);
    std::fs::write(&config, text).expect("ftp test server: config");
    let openssl_config = dir.join("openssl.cnf");
    std::fs::write(&openssl_config, OPENSSL_CONFIG).expect("ftp test server: openssl config");
    Command::new(VSFTPD)
        .arg(&config)
        .env("OPENSSL_CONF", &openssl_config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("vsftpd.stderr")).expect("ftp test server: stderr"))
        .spawn()
        .unwrap_or_else(|e| panic!("ftp test server: cannot run {VSFTPD}: {e}; {INSTALL_HINT}"))
}

/// `count` consecutive ports that were all free a moment ago.
fn free_port_range(count: u16) -> (u16, u16) {
    for _ in 0..50 {
        let base = free_port().clamp(10_000, 65_000 - count);
        let all_free = (base..base + count).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return (base, base + count - 1);
        }
    }
    panic!("ftp test server: no free range of {count} passive ports");
}

fn config_text(dir: &Path, port: u16, pasv_min: u16, pasv_max: u16) -> String {
    let d = dir.display();
    format!(
        "listen=YES\n\
         listen_ipv6=NO\n\
         listen_address=127.0.0.1\n\
         listen_port={port}\n\
         background=NO\n\
         anonymous_enable=NO\n\
         local_enable=YES\n\
         write_enable=YES\n\
         local_umask=022\n\
         chroot_local_user=NO\n\
         seccomp_sandbox=NO\n\
         secure_chroot_dir=/var/run/vsftpd/empty\n\
         pasv_enable=YES\n\
         pasv_min_port={pasv_min}\n\
         pasv_max_port={pasv_max}\n\
         pasv_address=127.0.0.1\n\
         utf8_filesystem=YES\n\
         force_dot_files=YES\n\
         delay_failed_login=0\n\
         delay_successful_login=0\n\
         max_per_ip=0\n\
         max_clients=0\n\
         xferlog_enable=YES\n\
         log_ftp_protocol=YES\n\
         vsftpd_log_file={d}/vsftpd.log\n\
         dual_log_enable=YES\n\
         xferlog_file={d}/xferlog\n"
    )
}

/// The TLS part of the config: nothing for plain FTP; else explicit TLS with the certificate
/// in `dir` and strong ciphers (vsftpd's default list is one cipher rustls lacks).
fn tls_config_text(dir: &Path, tls: FtpTls) -> String {
    let d = dir.display();
    let forced = match tls {
        FtpTls::Off => return "ssl_enable=NO\n".to_string(),
        FtpTls::Offered => "NO",
        FtpTls::Required => "YES",
    };
    format!(
        "ssl_enable=YES\n\
         rsa_cert_file={d}/server.pem\n\
         rsa_private_key_file={d}/server.key\n\
         allow_anon_ssl=NO\n\
         force_local_logins_ssl={forced}\n\
         force_local_data_ssl={forced}\n\
         ssl_tlsv1=YES\n\
         ssl_sslv2=NO\n\
         ssl_sslv3=NO\n\
         ssl_ciphers=HIGH\n\
         require_ssl_reuse=YES\n"
    )
}
