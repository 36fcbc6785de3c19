//! The mail settings: which account-recovery features are on, the links the
//! messages carry, and how mail leaves (SMTP, or `.eml` files in
//! development). The parsers of their variables, and the rules that involve
//! several of them.

use std::path::PathBuf;

use auth::{ExposeSecret, SecretString};
use chrono::Duration;

use super::variables::Variables;
use super::Environment;
use crate::env_vars::EnvError;

/// AUTH_EMAIL_VERIFICATION, allauth's `ACCOUNT_EMAIL_VERIFICATION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    None,
    /// Registration sends a link; login does not wait for it.
    Optional,
    /// As optional, and login refuses a user whose address is not proven.
    Mandatory,
}

impl Verification {
    pub fn is_on(self) -> bool {
        self != Self::None
    }
}

/// A link with placeholders, e.g. `https://app.example.com/reset/{uid}/{token}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTemplate(String);

impl LinkTemplate {
    fn parse(v: &str, placeholders: &[&str]) -> Result<Self, String> {
        if !(v.starts_with("https://") || v.starts_with("http://")) {
            return Err("must be an http:// or https:// URL".to_owned());
        }
        if let Some(missing) = placeholders.iter().find(|p| !v.contains(*p)) {
            return Err(format!("must contain {missing}"));
        }
        Ok(Self(v.to_owned()))
    }

    /// The link with each `{name}` replaced by its value.
    pub fn fill(&self, values: &[(&str, &str)]) -> String {
        values.iter().fold(self.0.clone(), |link, (name, value)| {
            link.replace(&format!("{{{name}}}"), value)
        })
    }
}

/// AUTH_SMTP_URL, as lettre reads it (`smtps://`, `smtp://...?tls=required`),
/// with `tls=starttls` also taken for `required`. It holds the password:
/// never shown.
#[derive(Clone)]
pub struct SmtpUrl {
    url: SecretString,
    encrypted: bool,
    has_credentials: bool,
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmtpUrl(<redacted>)")
    }
}

impl SmtpUrl {
    pub fn as_lettre_url(&self) -> &str {
        self.url.expose_secret()
    }

    pub fn encrypted(&self) -> bool {
        self.encrypted
    }
}

pub fn smtp_url(v: &str) -> Result<SmtpUrl, String> {
    let bad = "must be smtps://[user:pass@]host[:port] or smtp://[user:pass@]host[:port][?tls=starttls|opportunistic]";
    let mut url = url::Url::parse(v.trim()).map_err(|_| bad.to_owned())?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad.to_owned());
    }
    let tls: Vec<String> = url
        .query_pairs()
        .filter(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned())
        .collect();
    let encrypted = match (url.scheme(), tls.as_slice()) {
        ("smtps", []) => true,
        ("smtp", []) => false,
        ("smtp", [mode]) if mode == "starttls" || mode == "required" => {
            url.set_query(Some("tls=required"));
            true
        }
        ("smtp", [mode]) if mode == "opportunistic" => false,
        _ => return Err(bad.to_owned()),
    };
    // Built once here, so a URL lettre refuses stops the start, not a send.
    lettre::SmtpTransport::from_url(url.as_str())
        .map_err(|e| format!("{bad}: {}", e.to_string().replace(v, "<url>")))?;
    Ok(SmtpUrl {
        has_credentials: !url.username().is_empty() || url.password().is_some(),
        url: SecretString::from(url.to_string()),
        encrypted,
    })
}

pub fn verification(v: &str) -> Result<Verification, String> {
    match v {
        "none" => Ok(Verification::None),
        "optional" => Ok(Verification::Optional),
        "mandatory" => Ok(Verification::Mandatory),
        _ => Err("must be none, optional or mandatory".to_owned()),
    }
}

pub fn reset_url(v: &str) -> Result<LinkTemplate, String> {
    LinkTemplate::parse(v, &["{uid}", "{token}"])
}

pub fn verify_url(v: &str) -> Result<LinkTemplate, String> {
    LinkTemplate::parse(v, &["{key}"])
}

/// A From: mailbox, `addr@example.com` or `Name <addr@example.com>`.
pub fn mailbox(v: &str) -> Result<lettre::message::Mailbox, String> {
    v.parse()
        .map_err(|_| "must be an address, or a name and <address>".to_owned())
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    /// Password reset is on when set.
    pub reset_url: Option<LinkTemplate>,
    pub reset_timeout: Duration,
    pub verification: Verification,
    /// Set whenever verification is on.
    pub verify_url: Option<LinkTemplate>,
    /// `None`: `.eml` files in `AUTH_DATA_DIR/outbox/` (development only).
    pub smtp: Option<SmtpUrl>,
    pub from: lettre::message::Mailbox,
    pub templates: Option<PathBuf>,
    /// Where development mail goes without SMTP.
    pub eml_dir: PathBuf,
}

impl MailConfig {
    /// The rules over several variables; `warnings` gets what development
    /// allows and production would not.
    pub fn from_vars(vars: &Variables, warnings: &mut Vec<String>) -> Result<Self, EnvError> {
        let production = vars.environment == Environment::Production;
        if vars.email_verification.is_on() && vars.email_verify_url.is_none() {
            return Err(EnvError::invalid(
                "AUTH_EMAIL_VERIFY_URL",
                "is required when AUTH_EMAIL_VERIFICATION is optional or mandatory".to_owned(),
            ));
        }
        let on = vars.password_reset_url.is_some() || vars.email_verification.is_on();
        if production && on && vars.smtp_url.is_none() {
            return Err(EnvError::invalid(
                "AUTH_SMTP_URL",
                "is required in production when AUTH_PASSWORD_RESET_URL or AUTH_EMAIL_VERIFICATION is set"
                    .to_owned(),
            ));
        }
        if vars
            .smtp_url
            .as_ref()
            .is_some_and(|s| s.has_credentials && !s.encrypted)
        {
            warnings.push(
                "AUTH_SMTP_URL sends its password without TLS: use smtps:// or ?tls=starttls"
                    .to_owned(),
            );
        }
        Ok(Self {
            reset_url: vars.password_reset_url.clone(),
            reset_timeout: vars.password_reset_timeout,
            verification: vars.email_verification,
            verify_url: vars.email_verify_url.clone(),
            smtp: vars.smtp_url.clone(),
            from: vars.mail_from.clone(),
            templates: vars.mail_templates.clone(),
            eml_dir: vars.data_dir.join("outbox"),
        })
    }

    /// Whether anything sends mail, so a sender must run.
    pub fn any_on(&self) -> bool {
        self.reset_url.is_some() || self.verification.is_on()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_take_lettres_forms_and_starttls() {
        for (url, encrypted) in [
            ("smtps://user:pass@mail.example.com:465", true),
            ("smtp://mail.example.com:25?tls=starttls", true),
            ("smtp://mail.example.com?tls=required", true),
            ("smtp://127.0.0.1:2525", false),
            ("smtp://mail.example.com?tls=opportunistic", false),
        ] {
            let parsed = smtp_url(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(parsed.encrypted(), encrypted, "{url}");
        }
        assert_eq!(
            smtp_url("smtp://h:25?tls=starttls")
                .unwrap()
                .as_lettre_url(),
            "smtp://h:25?tls=required"
        );
        for bad in [
            "http://h",
            "smtp://",
            "smtps://h?tls=maybe",
            "smtp://h?tls=tls",
            "nonsense",
        ] {
            assert!(smtp_url(bad).is_err(), "{bad}");
        }
        let secret = smtp_url("smtps://u:hunter2@h").unwrap();
        assert!(!format!("{secret:?}").contains("hunter2"));
    }

    #[test]
    fn links_need_their_placeholders() {
        let t = reset_url("https://app.example.com/reset/{uid}/{token}").unwrap();
        assert_eq!(
            t.fill(&[("uid", "MQ"), ("token", "abc-123")]),
            "https://app.example.com/reset/MQ/abc-123"
        );
        assert!(reset_url("https://app.example.com/reset/{token}").is_err());
        assert!(reset_url("ftp://x/{uid}/{token}").is_err());
        assert!(verify_url("https://app.example.com/verify/{key}").is_ok());
        assert!(verify_url("https://app.example.com/verify/").is_err());
    }

    #[test]
    fn verification_modes() {
        assert_eq!(verification("none"), Ok(Verification::None));
        assert_eq!(verification("optional"), Ok(Verification::Optional));
        assert_eq!(verification("mandatory"), Ok(Verification::Mandatory));
        assert!(verification("yes").is_err());
        assert!(mailbox("Auth <auth@example.com>").is_ok());
        assert!(mailbox("not an address").is_err());
    }
}
