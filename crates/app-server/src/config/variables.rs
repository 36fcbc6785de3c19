//! Every environment variable the server reads, declared once: name, default,
//! parser and one line of documentation. [`Variables::read`] parses them all;
//! `Config` then applies the rules that involve several of them and
//! the defaults computed from others.
//!
//! The documentation is checked against [`VARIABLES`] by the tests in
//! config/documentation.rs: docs/API.md's configuration table holds the
//! variables the contract promises, the README's table the others, and
//! `.env.example` mentions each. Adding a variable is one entry here, its use
//! in `Config`, and its row in one of the two tables.
//!
//! An empty or blank value counts as unset. Values are trimmed, except a
//! secret's, which is taken byte for byte and never repeated in an error.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration as StdDuration;

use auth::{Algorithm, SecretString, SlidingMode};
use chrono::Duration;
use domain::{DatabaseUrl, DEFAULT_DATA_DIR};
use ipnet::IpNet;

use lettre::message::Mailbox;

use super::browser::{self, CookieMode};
use super::environment::Environment;
use super::mail::{self, LinkTemplate, SmtpUrl, Verification};
use super::parse;
use crate::env_vars::{Env, EnvError};

/// One variable as the documentation shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Var {
    pub name: &'static str,
    pub when_unset: WhenUnset,
    /// A secret: its value never appears in a message.
    pub secret: bool,
    pub doc: &'static str,
}

/// What an unset variable means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenUnset {
    /// This value, parsed as if it were set.
    Value(&'static str),
    /// No value, or one computed from other variables, in these words.
    Described(&'static str),
}

impl WhenUnset {
    /// How the default column of the documentation's tables begins.
    pub fn documented(&self) -> String {
        match self {
            Self::Value(value) => format!("`{value}`"),
            Self::Described(words) => (*words).to_owned(),
        }
    }
}

/// Each entry: `/// doc`, then `field: Type = "NAME", kind "text", parser;`
/// where kind is `default` (the field is the parsed value or the parsed
/// default text), `unset` (the field is `None` when unset; the text says what
/// that means) or `secret` (as `unset`, and the value is never shown).
macro_rules! variables {
    (@when_unset default $text:expr) => { WhenUnset::Value($text) };
    (@when_unset unset $text:expr) => { WhenUnset::Described($text) };
    (@when_unset secret $text:expr) => { WhenUnset::Described($text) };
    (@secret secret) => { true };
    (@secret default) => { false };
    (@secret unset) => { false };
    (@read $env:ident, $name:literal, default $text:expr, $parse:expr) => {
        read_or($env, $name, $text, $parse)?
    };
    (@read $env:ident, $name:literal, unset $text:expr, $parse:expr) => {
        read($env, $name, false, $parse)?
    };
    (@read $env:ident, $name:literal, secret $text:expr, $parse:expr) => {
        read($env, $name, true, $parse)?
    };
    ($(
        $(#[doc = $doc:literal])+
        $field:ident: $ty:ty = $name:literal, $kind:ident $text:expr, $parse:expr;
    )+) => {
        /// Every variable parsed, before the rules that involve several.
        #[derive(Debug)]
        pub struct Variables {
            $( $(#[doc = $doc])+ pub $field: $ty, )+
        }

        /// Every variable, in the order they are read (the first error stops).
        pub const VARIABLES: &[Var] = &[$(
            Var {
                name: $name,
                when_unset: variables!(@when_unset $kind $text),
                secret: variables!(@secret $kind),
                doc: concat!($($doc),+),
            },
        )+];

        impl Variables {
            pub fn read(env: &Env) -> Result<Self, EnvError> {
                Ok(Self {
                    $( $field: variables!(@read env, $name, $kind $text, $parse), )+
                })
            }
        }
    };
}

variables! {
    /// `development` or `production`; production refuses a missing or weak secret and a bcrypt cost below 10.
    environment: Environment = "AUTH_ENV", default "development", Environment::parse;
    /// The directory of the embedded database and the development secret.
    data_dir: PathBuf = "AUTH_DATA_DIR", default DEFAULT_DATA_DIR, parse::path;
    /// `sqlite://path` (relative to the working directory; `sqlite:///abs/path.db`) or `postgres://...`.
    database_url: Option<DatabaseUrl> = "DATABASE_URL", unset "`sqlite://data/auth.db`, i.e. `auth.db` in AUTH_DATA_DIR", parse::database_url;
    /// The address and port to listen on.
    bind: SocketAddr = "AUTH_BIND", default "127.0.0.1:8000", parse::socket_addr;
    /// actix-web worker threads.
    workers: Option<usize> = "AUTH_WORKERS", unset "number of cores", |v| parse::positive(v, 1024);
    /// The signing algorithm: HS256, HS384, HS512, RS256, ES256 or EdDSA.
    algorithm: Algorithm = "AUTH_JWT_ALGORITHM", default "HS256", parse::algorithm;
    /// The HMAC secret, its literal UTF-8 bytes, at least 32 bytes.
    secret: Option<SecretString> = "AUTH_JWT_SECRET", secret "none: in development a random one is made and kept in the data dir", parse::secret;
    /// The PKCS#8 PEM private key of the asymmetric algorithms; its public half is derived.
    private_key_file: Option<PathBuf> = "AUTH_JWT_PRIVATE_KEY_FILE", unset "none (required for RS256, ES256 and EdDSA)", parse::path;
    /// Comma-separated PEM public keys of earlier signing keys, still accepted and in the JWKS.
    public_key_files: Option<Vec<PathBuf>> = "AUTH_JWT_PUBLIC_KEY_FILES", unset "none", parse::paths;
    /// The `iss` claim issued and required.
    issuer: Option<String> = "AUTH_JWT_ISSUER", unset "unset (the claim is then absent)", parse::text;
    /// The `aud` claim issued and required.
    audience: Option<String> = "AUTH_JWT_AUDIENCE", unset "unset (the claim is then absent)", parse::text;
    /// Clock skew allowed on `exp` and `nbf`, at most `1d`.
    leeway: u64 = "AUTH_JWT_LEEWAY", default "0", parse::leeway;
    /// Lifetime of an access token.
    access_lifetime: Duration = "AUTH_ACCESS_TOKEN_LIFETIME", default "5m", parse::positive_duration;
    /// Lifetime of a refresh token.
    refresh_lifetime: Duration = "AUTH_REFRESH_TOKEN_LIFETIME", default "1d", parse::positive_duration;
    /// Whether a refresh hands out a new refresh token and retires the old one.
    rotate_refresh_tokens: bool = "AUTH_ROTATE_REFRESH_TOKENS", default "true", parse::boolean;
    /// How long after a rotation the retired refresh token gets the same successor again, at most `60s`.
    refresh_reuse_interval: Duration = "AUTH_REFRESH_REUSE_INTERVAL", default "0s", parse::reuse_interval;
    /// Absolute limit of a session from its login, however often refreshed.
    session_lifetime: Duration = "AUTH_SESSION_LIFETIME", default "30d", parse::positive_duration;
    /// simplejwt's sliding tokens: `off`, `on` (their own routes beside the pair's) or `only` (instead of the pair's).
    sliding_tokens: SlidingMode = "AUTH_SLIDING_TOKENS", default "off", parse::sliding_mode;
    /// Lifetime of a sliding token (simplejwt's SLIDING_TOKEN_LIFETIME).
    sliding_lifetime: Duration = "AUTH_SLIDING_TOKEN_LIFETIME", default "5m", parse::positive_duration;
    /// How long from its login a sliding token can be refreshed (SLIDING_TOKEN_REFRESH_LIFETIME).
    sliding_refresh_lifetime: Duration = "AUTH_SLIDING_TOKEN_REFRESH_LIFETIME", default "1d", parse::positive_duration;
    /// bcrypt cost of new password hashes, 4 to 31.
    bcrypt_cost: u32 = "AUTH_BCRYPT_COST", default "12", parse::bcrypt_cost;
    /// Failed logins of one username before it is throttled.
    login_max_failures: u32 = "AUTH_LOGIN_MAX_FAILURES", default "10", |v| parse::positive(v, 1_000_000);
    /// Whether `POST /api/register/` is open.
    allow_registration: bool = "AUTH_ALLOW_REGISTRATION", default "true", parse::boolean;
    /// Whether start-up applies pending migrations (otherwise it refuses to serve while any is pending).
    auto_migrate: Option<bool> = "AUTH_AUTO_MIGRATE", unset "`true` for SQLite, `false` for PostgreSQL", parse::boolean;
    /// Comma-separated addresses or CIDR networks whose `X-Forwarded-For` is believed.
    trusted_proxies: Option<Vec<IpNet>> = "AUTH_TRUSTED_PROXIES", unset "none", parse::networks;
    /// Database connections per server process.
    pool_size: Option<u32> = "AUTH_DB_POOL_SIZE", unset "`10` for PostgreSQL, `AUTH_WORKERS` for SQLite", |v| parse::positive(v, 10_000);
    /// How long a call waits for a pooled connection; on PostgreSQL also each statement's `statement_timeout`.
    db_timeout: StdDuration = "AUTH_DB_TIMEOUT", default "3s", parse::positive_std_duration;
    /// Sessions (and as many users) each replica keeps for user-loading routes; `0` turns the cache off.
    session_cache_size: u64 = "AUTH_SESSION_CACHE_SIZE", default "10000", |v| parse::count(v, 100_000_000);
    /// How long start-up retries an unreachable database.
    db_startup_wait: StdDuration = "AUTH_DB_STARTUP_WAIT", default "30s", parse::std_duration;
    /// The link of the password-reset mail, with `{uid}` and `{token}`; setting it turns password reset on.
    password_reset_url: Option<LinkTemplate> = "AUTH_PASSWORD_RESET_URL", unset "unset: password reset is off (its routes answer 404)", mail::reset_url;
    /// How long a password-reset link works, from its request.
    password_reset_timeout: Duration = "AUTH_PASSWORD_RESET_TIMEOUT", default "3d", parse::positive_duration;
    /// `none`, `optional` (registration sends a link) or `mandatory` (and login waits for it).
    email_verification: Verification = "AUTH_EMAIL_VERIFICATION", default "none", mail::verification;
    /// The link of the verification mail, with `{key}`.
    email_verify_url: Option<LinkTemplate> = "AUTH_EMAIL_VERIFY_URL", unset "unset; required when AUTH_EMAIL_VERIFICATION is not `none`", mail::verify_url;
    /// The SMTP server, `smtps://user:pass@host:465` or `smtp://host:25?tls=starttls`.
    smtp_url: Option<SmtpUrl> = "AUTH_SMTP_URL", secret "unset: in development mail is written as `.eml` files in `outbox/` in AUTH_DATA_DIR; production refuses to start without it when a mail feature is on", mail::smtp_url;
    /// The From: of every message.
    mail_from: Mailbox = "AUTH_MAIL_FROM", default "webmaster@localhost", mail::mailbox;
    /// A directory whose templates replace the built-in ones, file by file.
    mail_templates: Option<PathBuf> = "AUTH_MAIL_TEMPLATES", unset "unset: the built-in templates", parse::path;
    /// `off`, `refresh` (the refresh token in an HttpOnly cookie) or `both` (the access token too).
    cookie_mode: CookieMode = "AUTH_COOKIE_MODE", default "off", CookieMode::parse;
    /// Whether the cookies are `Secure` (and named `__Secure-refresh`, `__Host-access`); `false` only in development over plain http.
    cookie_secure: bool = "AUTH_COOKIE_SECURE", default "true", parse::boolean;
    /// Comma-separated origins (`https://app.example.com`) whose pages may log in with cookies and use them; required in cookie mode.
    trusted_origins: Option<Vec<String>> = "AUTH_TRUSTED_ORIGINS", unset "none", browser::origins;
    /// Comma-separated origins that may call the API from another origin with credentials (CORS).
    cors_origins: Option<Vec<String>> = "AUTH_CORS_ORIGINS", unset "none: no cross-origin access", browser::origins;
    /// env_logger's filter, e.g. `warn` or `info,access=warn`.
    log_filter: String = "RUST_LOG", default "info", parse::text;
}

/// A set variable, parsed. An error names the variable and, unless it is a
/// secret, repeats the value.
fn read<T>(
    env: &Env,
    name: &'static str,
    secret: bool,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, EnvError> {
    let Some(raw) = env.value(name)? else {
        return Ok(None);
    };
    let value = if secret { raw } else { raw.trim() };
    if value.is_empty() {
        return Ok(None);
    }
    parse(value).map(Some).map_err(|problem| {
        if secret {
            EnvError::invalid(name, problem)
        } else {
            EnvError::invalid(name, format!("{problem} (got {raw:?})"))
        }
    })
}

/// A variable, or its default parsed the same way.
fn read_or<T>(
    env: &Env,
    name: &'static str,
    default: &'static str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, EnvError> {
    match read(env, name, false, &parse)? {
        Some(value) => Ok(value),
        // Cannot happen with the table above (a test parses every default),
        // but a configuration error is never a panic.
        None => parse(default).map_err(|problem| {
            EnvError::invalid(name, format!("the built-in default {default:?}: {problem}"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_parses_and_every_name_is_unique() {
        let vars = Variables::read(&Env::default()).expect("the defaults are valid");
        assert_eq!(vars.log_filter, "info");
        let mut names: Vec<_> = VARIABLES.iter().map(|v| v.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), VARIABLES.len(), "a variable declared twice");
        for var in VARIABLES {
            assert!(!var.doc.trim().is_empty(), "{} has a doc line", var.name);
        }
    }

    #[test]
    fn a_secret_is_neither_trimmed_nor_shown() {
        let env = Env::from_pairs([("AUTH_JWT_SECRET", " padded ")]);
        let vars = Variables::read(&env).expect("valid");
        let secret = vars.secret.expect("set");
        assert_eq!(auth::ExposeSecret::expose_secret(&secret), " padded ");
        let e = read(&env, "AUTH_JWT_SECRET", true, |_| -> Result<(), _> {
            Err("is refused".to_owned())
        })
        .expect_err("refused");
        assert!(!e.to_string().contains("padded"), "{e}");
        assert!(e.to_string().contains("AUTH_JWT_SECRET"), "{e}");
    }

    #[test]
    fn a_blank_value_counts_as_unset() {
        let env = Env::from_pairs([("AUTH_BCRYPT_COST", "  "), ("AUTH_JWT_ISSUER", " ")]);
        let vars = Variables::read(&env).expect("valid");
        assert_eq!(vars.bcrypt_cost, 12);
        assert_eq!(vars.issuer, None);
    }
}
