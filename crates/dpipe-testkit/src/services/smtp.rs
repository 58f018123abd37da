//! A real SMTP server for tests: Python's `aiosmtpd` from the venv made by
//! `scripts/install-smtp.sh` (`DPIPE_SMTP_VENV`, default `$HOME/.cache/dpipe-smtp-venv`; a
//! missing venv fails the test with that hint), on a free 127.0.0.1 port, storing every mail
//! it receives in a Maildir the test reads. Stopped on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::{free_port, wait_for_port};

/// A running aiosmtpd with its Maildir.
pub struct SmtpServer {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    child: Child,
    maildir: TempDir,
}

impl SmtpServer {
    /// Starts the server; returns once it accepts connections.
    pub fn start() -> SmtpServer {
        let venv = std::env::var_os("DPIPE_SMTP_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
                    .join(".cache/dpipe-smtp-venv")
            });
        let binary = venv.join("bin/aiosmtpd");
        assert!(
            binary.is_file(),
            "aiosmtpd is missing: {} does not exist; run `bash scripts/install-smtp.sh` \
             (or point DPIPE_SMTP_VENV at a venv with aiosmtpd)",
            binary.display()
        );
        let maildir = tempfile::Builder::new()
            .prefix("dpipe-test-maildir-")
            .tempdir()
            .expect("a temporary folder");
        let port = free_port();
        let mut child = Command::new(&binary)
            .args(["-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("mail"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn aiosmtpd");
        if !wait_for_port(port, Duration::from_secs(30)) {
            let _ = child.kill();
            panic!("aiosmtpd did not listen on 127.0.0.1:{port} within 30 s");
        }
        SmtpServer {
            port,
            child,
            maildir,
        }
    }

    /// The URL `dpipe serve --smtp-url` takes.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every mail received so far, as raw text (headers and body), in no particular order.
    /// A mail is stored before the server acknowledges it, so whatever a sender was told was
    /// delivered is here.
    pub fn mails(&self) -> Vec<String> {
        let new = self.maildir.path().join("mail").join("new");
        let Ok(entries) = std::fs::read_dir(&new) else {
            return Vec::new();
        };
        entries
            .map(|entry| std::fs::read_to_string(entry.expect("a Maildir entry").path()))
            .collect::<Result<_, _>>()
            .expect("readable mails")
    }

    /// The mails received for `address`.
    pub fn mails_to(&self, address: &str) -> Vec<String> {
        let header = format!("To: {address}");
        self.mails()
            .into_iter()
            .filter(|mail| mail.lines().any(|line| line.trim() == header))
            .collect()
    }
}

/// The first `http://` link in a mail's text, its quoted-printable encoding undone.
pub fn link_in(mail: &str) -> Option<String> {
    let text = mail
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let start = text.find("http://")?;
    let link: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    Some(link)
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
