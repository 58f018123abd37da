//! Mail for `dpipe serve --smtp-url`: an SMTP client (lettre) that the registry sends its
//! invitation links through. Plain SMTP only (`smtp://HOST[:PORT][?from=ADDRESS]`, port 25 by
//! default): it is meant for a relay on the same host or network, such as a local MTA, which
//! does the TLS and authentication towards the world.

use std::time::Duration;

use dpipe_registry::Mailer;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{Message, SmtpTransport, Transport};

use crate::ServerError;

/// The sender when the URL names none.
const DEFAULT_FROM: &str = "dpipe <dpipe@localhost>";
/// How long one SMTP conversation may take: a registration waits for it.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends mail through one SMTP server.
pub struct SmtpMailer {
    transport: SmtpTransport,
    from: Mailbox,
}

impl SmtpMailer {
    /// A mailer for `url` (`smtp://HOST[:PORT][?from=ADDRESS]`); a wrong URL is a
    /// [`ServerError::Mail`] saying what is expected. Nothing is sent or connected yet.
    pub fn new(url: &str) -> Result<SmtpMailer, ServerError> {
        let wrong = |why: &str| {
            ServerError::Mail(format!(
                "--smtp-url {url}: {why}; expected smtp://HOST[:PORT][?from=ADDRESS]"
            ))
        };
        let rest = url
            .strip_prefix("smtp://")
            .ok_or_else(|| wrong("only plain smtp:// is supported"))?;
        let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
        let authority = authority.trim_end_matches('/');
        if authority.is_empty() || authority.contains('@') {
            return Err(wrong(
                "give a host (user names and passwords are not supported)",
            ));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse::<u16>()
                    .map_err(|_| wrong("the port is not a number from 1 to 65535"))?,
            ),
            None => (authority, 25),
        };
        if host.is_empty() || port == 0 {
            return Err(wrong("give a host and a port from 1 to 65535"));
        }
        let mut from = DEFAULT_FROM;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("from", address)) => from = address,
                _ => return Err(wrong(&format!("unknown parameter {pair:?}"))),
            }
        }
        let from: Mailbox = from
            .parse()
            .map_err(|_| wrong(&format!("{from:?} is not an email address")))?;
        let transport = SmtpTransport::builder_dangerous(host)
            .port(port)
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(SmtpMailer { transport, from })
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, to: &str, subject: &str, text: &str) -> Result<(), String> {
        let to: Mailbox = to.parse().map_err(|e| format!("bad address {to}: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(text.to_string())
            .map_err(|e| e.to_string())?;
        self.transport
            .send(&message)
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls() {
        assert!(SmtpMailer::new("smtp://127.0.0.1:2525").is_ok());
        assert!(SmtpMailer::new("smtp://mail.example.com").is_ok());
        assert!(SmtpMailer::new("smtp://127.0.0.1:2525/?from=ops@example.com").is_ok());
        for (url, needle) in [
            ("smtps://127.0.0.1", "only plain smtp://"),
            ("127.0.0.1:25", "only plain smtp://"),
            ("smtp://", "give a host"),
            ("smtp://u:p@127.0.0.1", "give a host"),
            ("smtp://127.0.0.1:smtp", "port"),
            ("smtp://127.0.0.1:0", "port"),
            ("smtp://127.0.0.1:70000", "port"),
            ("smtp://127.0.0.1?tls=required", "unknown parameter"),
            ("smtp://127.0.0.1?from=nobody", "not an email address"),
        ] {
            let error = SmtpMailer::new(url).err().expect(url).to_string();
            assert!(error.contains(needle), "{url}: {error}");
            assert!(error.contains("expected smtp://HOST"), "{url}: {error}");
        }
    }
}
