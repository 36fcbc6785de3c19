//! Turning an outbox row into a message and handing it over: over SMTP
//! (lettre's blocking transport, on the sender's own thread), or in
//! development as an `.eml` file. Errors say whether trying again can help.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::{header, Mailbox, MultiPart};
use lettre::{Message, SmtpTransport, Transport};

use super::templates::Rendered;
use crate::config::mail::SmtpUrl;

/// The longest wait for one SMTP step (connect, a command's reply); a send
/// takes a few. lettre's own default is a minute.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again later: the server is unreachable, timed out, or
    /// answered 4xx.
    #[error("{0}")]
    Transient(String),
    /// The server refused the message for good (5xx), or it cannot be made
    /// (an address lettre does not accept).
    #[error("{0}")]
    Permanent(String),
}

pub enum Delivery {
    Smtp(Box<SmtpTransport>),
    Files(PathBuf),
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Smtp(_) => f.write_str("Delivery::Smtp"),
            Self::Files(dir) => write!(f, "Delivery::Files({})", dir.display()),
        }
    }
}

impl Delivery {
    pub fn smtp(url: &SmtpUrl) -> Result<Self, String> {
        let transport = SmtpTransport::from_url(url.as_lettre_url())
            .map_err(|e| e.to_string())?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Self::Smtp(Box::new(transport)))
    }

    /// Hand the message over; `Ok` carries where it went, for the log.
    pub fn deliver(&self, message: &Message, stem: &str) -> Result<String, DeliveryError> {
        match self {
            Self::Smtp(transport) => match transport.send(message) {
                Ok(response) => Ok(format!("accepted by the SMTP server ({})", response.code())),
                Err(e) if e.is_permanent() => Err(DeliveryError::Permanent(e.to_string())),
                Err(e) => Err(DeliveryError::Transient(e.to_string())),
            },
            Self::Files(dir) => super::eml::write(dir, stem, &message.formatted())
                .map(|path| format!("written to {}", path.display()))
                .map_err(|e| DeliveryError::Transient(format!("{}: {e}", dir.display()))),
        }
    }
}

/// The message: From, To (the user's name and address), Subject, a
/// Message-ID made from the row's key (the same on every attempt, so a
/// receiver can drop a duplicate), and the text and HTML bodies as
/// alternatives.
pub fn compose(
    from: &Mailbox,
    to_name: &str,
    to_address: &str,
    message_key: &str,
    texts: Rendered,
) -> Result<Message, DeliveryError> {
    let address = to_address
        .parse()
        .map_err(|e| DeliveryError::Permanent(format!("the user's address is not usable: {e}")))?;
    let to = Mailbox::new(Some(to_name.to_owned()), address);
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(texts.subject)
        .message_id(Some(message_id(from, message_key)))
        .header(header::MIME_VERSION_1_0)
        .multipart(MultiPart::alternative_plain_html(texts.text, texts.html))
        .map_err(|e| DeliveryError::Permanent(format!("cannot build the message: {e}")))
}

/// `<key@domain of From>`: unique per row, stable across attempts (RFC 5322 §3.6.4).
pub fn message_id(from: &Mailbox, message_key: &str) -> String {
    format!("<{message_key}@{}>", from.email.domain())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts() -> Rendered {
        Rendered {
            subject: "Password reset".into(),
            text: "plain https://x/y".into(),
            html: "<p>html</p>".into(),
        }
    }

    #[test]
    fn a_message_has_both_bodies_and_a_stable_message_id() {
        let from: Mailbox = "Auth <auth@example.com>".parse().unwrap();
        let message = compose(&from, "alice", "alice@example.org", "abc123", texts()).unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        assert!(raw.contains("Message-ID: <abc123@example.com>"), "{raw}");
        assert!(raw.contains("To: alice <alice@example.org>"), "{raw}");
        assert!(raw.contains("Subject: Password reset"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(
            raw.contains("text/plain") && raw.contains("text/html"),
            "{raw}"
        );
    }

    #[test]
    fn an_unusable_address_is_a_permanent_failure() {
        let from: Mailbox = "auth@example.com".parse().unwrap();
        let e = compose(&from, "x", "not an address", "k", texts()).unwrap_err();
        assert!(matches!(e, DeliveryError::Permanent(_)), "{e:?}");
    }
}
