//! The subject, plain-text and HTML bodies of each kind of message, Jinja
//! templates (minijinja, the syntax Django's mail templates use). Built-in
//! defaults; AUTH_MAIL_TEMPLATES names a directory whose files replace them
//! one by one. Every template is rendered once at start with sample values,
//! so a broken one, or one naming a value we do not give, stops the start
//! instead of a send. The HTML bodies are auto-escaped (a username is
//! user input); the text ones are not.
//!
//! Values: `username`, `email`, `link`, `valid_for` (e.g. "3 days").

use std::path::{Path, PathBuf};

use domain::MailKind;
use minijinja::{context, Environment, UndefinedBehavior};

/// What a template file is called: `<kind>.subject.txt`, `<kind>.txt`, `<kind>.html`.
const PARTS: [&str; 3] = ["subject.txt", "txt", "html"];

fn built_in(name: &str) -> Option<&'static str> {
    Some(match name {
        "password_reset.subject.txt" => include_str!("templates/password_reset.subject.txt"),
        "password_reset.txt" => include_str!("templates/password_reset.txt"),
        "password_reset.html" => include_str!("templates/password_reset.html"),
        "email_verification.subject.txt" => {
            include_str!("templates/email_verification.subject.txt")
        }
        "email_verification.txt" => include_str!("templates/email_verification.txt"),
        "email_verification.html" => include_str!("templates/email_verification.html"),
        _ => return None,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("template {name}: {source}")]
    Template {
        name: String,
        source: minijinja::Error,
    },
}

/// One message's texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The values a message is made of.
pub struct Values<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub link: &'a str,
    pub valid_for: &'a str,
}

pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

impl Templates {
    /// The built-in templates, each replaced by the file of the same name in
    /// `dir` when there is one; every one checked by a sample render.
    pub fn load(dir: Option<&Path>) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        for kind in MailKind::ALL {
            for part in PARTS {
                let name = format!("{}.{part}", kind.as_str());
                let source = match dir.map(|d| d.join(&name)).filter(|p| p.is_file()) {
                    Some(path) => std::fs::read_to_string(&path)
                        .map_err(|source| TemplateError::Read { path, source })?,
                    None => built_in(&name).unwrap_or_default().to_owned(),
                };
                env.add_template_owned(name.clone(), source)
                    .map_err(|source| TemplateError::Template { name, source })?;
            }
        }
        let templates = Self { env };
        for kind in MailKind::ALL {
            templates.render(
                kind,
                &Values {
                    username: "sample",
                    email: "sample@example.com",
                    link: "https://example.com/sample",
                    valid_for: "3 days",
                },
            )?;
        }
        Ok(templates)
    }

    pub fn render(&self, kind: MailKind, values: &Values<'_>) -> Result<Rendered, TemplateError> {
        let render = |part: &str| -> Result<String, TemplateError> {
            let name = format!("{}.{part}", kind.as_str());
            let template =
                self.env
                    .get_template(&name)
                    .map_err(|source| TemplateError::Template {
                        name: name.clone(),
                        source,
                    })?;
            template
                .render(context! {
                    username => values.username,
                    email => values.email,
                    link => values.link,
                    valid_for => values.valid_for,
                })
                .map_err(|source| TemplateError::Template { name, source })
        };
        // A subject is one line: a header cannot hold a line break.
        let subject = render(PARTS[0])?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        Ok(Rendered {
            subject,
            text: render(PARTS[1])?,
            html: render(PARTS[2])?,
        })
    }
}

/// "3 days", "1 day", "12 hours", "90 minutes": how long a link works.
pub fn human_duration(d: chrono::Duration) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    let secs = d.num_seconds();
    if secs >= 86_400 && secs % 86_400 == 0 {
        plural(secs / 86_400, "day")
    } else if secs >= 3600 && secs % 3600 == 0 {
        plural(secs / 3600, "hour")
    } else if secs >= 60 && secs % 60 == 0 {
        plural(secs / 60, "minute")
    } else {
        plural(secs, "second")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<'a>(username: &'a str) -> Values<'a> {
        Values {
            username,
            email: "a@example.com",
            link: "https://app.example.com/reset/MQ/x-y?a=1&b=2",
            valid_for: "3 days",
        }
    }

    #[test]
    fn the_built_in_templates_render_and_escape_html_only() {
        let t = Templates::load(None).unwrap();
        let r = t
            .render(MailKind::PasswordReset, &values("<b>eve</b>"))
            .unwrap();
        assert_eq!(r.subject, "Password reset");
        assert!(r.text.contains("Hello <b>eve</b>,"));
        assert!(r
            .text
            .contains("https://app.example.com/reset/MQ/x-y?a=1&b=2"));
        assert!(
            r.html.contains("&lt;b&gt;eve&lt;&#x2f;b&gt;")
                || r.html.contains("&lt;b&gt;eve&lt;/b&gt;")
        );
        assert!(r.html.contains("a=1&amp;b=2"));
        let r = t
            .render(MailKind::EmailVerification, &values("bob"))
            .unwrap();
        assert_eq!(r.subject, "Confirm your e-mail address");
        assert!(r.text.contains("a@example.com"));
    }

    #[test]
    fn a_directory_replaces_templates_file_by_file_and_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("password_reset.subject.txt"),
            "Reset for\n{{ username }}\n",
        )
        .unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let r = t.render(MailKind::PasswordReset, &values("bob")).unwrap();
        assert_eq!(r.subject, "Reset for bob");
        assert!(
            r.text.contains("Choose a new password"),
            "the rest is built in"
        );

        std::fs::write(dir.path().join("email_verification.txt"), "{{ nonsense }}").unwrap();
        let e = Templates::load(Some(dir.path())).unwrap_err();
        assert!(e.to_string().contains("email_verification.txt"), "{e}");
        std::fs::write(dir.path().join("email_verification.txt"), "{% if %}").unwrap();
        assert!(Templates::load(Some(dir.path())).is_err());
    }

    #[test]
    fn durations_read_as_words() {
        assert_eq!(human_duration(chrono::Duration::days(3)), "3 days");
        assert_eq!(human_duration(chrono::Duration::days(1)), "1 day");
        assert_eq!(human_duration(chrono::Duration::hours(12)), "12 hours");
        assert_eq!(human_duration(chrono::Duration::minutes(90)), "90 minutes");
        assert_eq!(human_duration(chrono::Duration::seconds(45)), "45 seconds");
    }
}
