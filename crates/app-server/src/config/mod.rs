//! Configuration from the environment (`.env` honoured), parsed and checked
//! in full at start: an invalid variable stops start-up with one line naming
//! it, never a panic. The variables, their defaults and parsers are the table
//! of [`variables`]; this module applies the rules that involve several of
//! them. Secrets are read here and nowhere else.

pub mod browser;
mod environment;
pub mod mail;
mod parse;
pub mod variables;

#[cfg(test)]
mod documentation;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration as StdDuration;

use auth::{
    Algorithm, ExposeSecret, SecretString, SlidingSettings, TokenSettings, MIN_SECRET_BYTES,
};
use domain::{Backend, DatabaseUrl};
use ipnet::IpNet;

use crate::env_vars::{Env, EnvError};
pub use environment::Environment;
pub use variables::{Var, Variables, WhenUnset, VARIABLES};

/// The file in the data dir that keeps the development secret across restarts.
pub const DEV_SECRET_FILE: &str = "jwt-secret";

/// The lowest bcrypt cost production accepts.
pub const MIN_PRODUCTION_BCRYPT_COST: u32 = 10;

/// How tokens are signed; the key files are read at start-up
/// (startup/keys.rs).
#[derive(Debug)]
pub enum KeyConfig {
    Secret(SecretString),
    /// Development without AUTH_JWT_SECRET: a random secret kept in this file.
    GeneratedSecret(PathBuf),
    Pem {
        private_key_file: PathBuf,
        public_key_files: Vec<PathBuf>,
    },
}

#[derive(Debug)]
pub struct Config {
    pub environment: Environment,
    pub data_dir: PathBuf,
    pub database_url: DatabaseUrl,
    pub bind: SocketAddr,
    pub workers: usize,
    pub keys: KeyConfig,
    pub tokens: TokenSettings,
    pub bcrypt_cost: u32,
    pub login_max_failures: u32,
    pub allow_registration: bool,
    pub auto_migrate: bool,
    pub trusted_proxies: Vec<IpNet>,
    pub pool_size: u32,
    pub db_timeout: StdDuration,
    pub db_startup_wait: StdDuration,
    /// Entries of the session cache (0: off), see `session_cache`.
    pub session_cache_size: u64,
    /// Password reset, e-mail verification, and how their mail leaves.
    pub mail: mail::MailConfig,
    /// Cookie mode, CSRF and CORS for browser apps.
    pub browser: browser::BrowserConfig,
    /// env_logger's filter (RUST_LOG).
    pub log_filter: String,
    /// Warnings to log once the logger runs (e.g. a short development secret).
    pub warnings: Vec<String>,
}

impl Config {
    pub fn from_process_env() -> Result<Self, EnvError> {
        Self::from_env(&Env::process())
    }

    pub fn from_env(env: &Env) -> Result<Self, EnvError> {
        let vars = Variables::read(env)?;
        let production = vars.environment == Environment::Production;
        if production && vars.bcrypt_cost < MIN_PRODUCTION_BCRYPT_COST {
            return Err(EnvError::invalid(
                "AUTH_BCRYPT_COST",
                format!(
                    "must be at least {MIN_PRODUCTION_BCRYPT_COST} in production (got {})",
                    vars.bcrypt_cost
                ),
            ));
        }
        let mut warnings = Vec::new();
        let keys = key_config(&vars, &mut warnings)?;
        let mail = mail::MailConfig::from_vars(&vars, &mut warnings)?;
        let browser = browser::BrowserConfig::from_vars(&vars)?;
        let database_url = vars
            .database_url
            .unwrap_or_else(|| DatabaseUrl::embedded(&vars.data_dir));
        let workers = vars
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        // SQLite has one writer and answers a read in microseconds: one
        // connection, so one blocking thread, per worker. More threads only
        // add wake-ups: /api/me/ measured 66k req/s with 1 per worker, 48k with 2.
        let pool_size = vars.pool_size.unwrap_or(match database_url.backend() {
            Backend::Postgres => 10,
            Backend::Sqlite => u32::try_from(workers).unwrap_or(u32::MAX),
        });
        Ok(Self {
            environment: vars.environment,
            auto_migrate: vars
                .auto_migrate
                .unwrap_or(database_url.backend() == Backend::Sqlite),
            data_dir: vars.data_dir,
            database_url,
            bind: vars.bind,
            workers,
            keys,
            tokens: TokenSettings {
                algorithm: vars.algorithm,
                access_lifetime: vars.access_lifetime,
                refresh_lifetime: vars.refresh_lifetime,
                session_lifetime: vars.session_lifetime,
                issuer: vars.issuer,
                audience: vars.audience,
                leeway: vars.leeway,
                rotate_refresh_tokens: vars.rotate_refresh_tokens,
                sliding: SlidingSettings {
                    mode: vars.sliding_tokens,
                    lifetime: vars.sliding_lifetime,
                    refresh_lifetime: vars.sliding_refresh_lifetime,
                },
                refresh_reuse_interval: vars.refresh_reuse_interval,
            },
            bcrypt_cost: vars.bcrypt_cost,
            login_max_failures: vars.login_max_failures,
            allow_registration: vars.allow_registration,
            trusted_proxies: vars.trusted_proxies.unwrap_or_default(),
            pool_size,
            db_timeout: vars.db_timeout,
            db_startup_wait: vars.db_startup_wait,
            session_cache_size: vars.session_cache_size,
            mail,
            browser,
            log_filter: vars.log_filter,
            warnings,
        })
    }
}

/// The signing keys the algorithm needs: PEM files for the asymmetric ones;
/// for HMAC the secret, or in development a generated one.
fn key_config(vars: &Variables, warnings: &mut Vec<String>) -> Result<KeyConfig, EnvError> {
    let production = vars.environment == Environment::Production;
    let algorithm = vars.algorithm;
    let is_hmac = matches!(
        algorithm,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    );
    if !is_hmac {
        let private_key_file = vars.private_key_file.clone().ok_or_else(|| {
            EnvError::invalid(
                "AUTH_JWT_PRIVATE_KEY_FILE",
                format!("is required for {algorithm:?}"),
            )
        })?;
        return Ok(KeyConfig::Pem {
            private_key_file,
            public_key_files: vars.public_key_files.clone().unwrap_or_default(),
        });
    }
    let Some(secret) = &vars.secret else {
        if production {
            return Err(EnvError::invalid(
                "AUTH_JWT_SECRET",
                "is required in production".to_owned(),
            ));
        }
        return Ok(KeyConfig::GeneratedSecret(
            vars.data_dir.join(DEV_SECRET_FILE),
        ));
    };
    if let Some(weakness) = secret_weakness(secret.expose_secret().as_bytes()) {
        if production {
            return Err(EnvError::invalid(
                "AUTH_JWT_SECRET",
                format!("{weakness}; production refuses a weak secret"),
            ));
        }
        warnings.push(format!(
            "AUTH_JWT_SECRET {weakness}; production would refuse it"
        ));
    }
    Ok(KeyConfig::Secret(secret.clone()))
}

/// Why an HMAC secret is too weak to sign with, if it is.
pub fn secret_weakness(secret: &[u8]) -> Option<String> {
    if secret.len() < MIN_SECRET_BYTES {
        return Some(format!("is shorter than {MIN_SECRET_BYTES} bytes"));
    }
    let distinct = secret
        .iter()
        .collect::<std::collections::HashSet<_>>()
        .len();
    if distinct < 8 {
        return Some("repeats too few distinct characters".to_owned());
    }
    // The placeholder of .env.example, left unedited.
    let lower = String::from_utf8_lossy(secret).to_ascii_lowercase();
    if lower.contains("change-me") || lower.contains("changeme") {
        return Some("is still a placeholder (it says CHANGE-ME)".to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    //! The rules and the defaults of docs/API.md's table, which the binary
    //! tests cannot all observe (a 30-day session, leeway 0, ...).

    use std::path::Path;

    use chrono::Duration;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, EnvError> {
        Config::from_env(&Env::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn secrets_need_32_bytes_and_some_variety() {
        assert!(secret_weakness(&[b'x'; 31]).is_some());
        assert!(secret_weakness(b"0123456789abcdefghijklmnopqrstu").is_some());
        assert!(secret_weakness(b"0123456789abcdefghijklmnopqrstuv").is_none());
        assert!(secret_weakness(&[b'a'; 64]).is_some(), "one repeated byte");
        assert!(secret_weakness("é".repeat(16).as_bytes()).is_some());
    }

    #[test]
    fn defaults_are_those_of_the_contract() {
        let c = config(&[]).expect("defaults are valid");
        assert_eq!(c.environment, Environment::Development);
        assert_eq!(c.data_dir, PathBuf::from("data"));
        assert_eq!(
            c.database_url,
            DatabaseUrl::Sqlite(PathBuf::from("data/auth.db"))
        );
        assert_eq!(c.bind, SocketAddr::from(([127, 0, 0, 1], 8000)));
        assert_eq!(
            c.workers,
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
        assert_eq!(c.tokens.algorithm, Algorithm::HS256);
        assert_eq!(c.tokens.access_lifetime, Duration::minutes(5));
        assert_eq!(c.tokens.refresh_lifetime, Duration::days(1));
        assert_eq!(c.tokens.session_lifetime, Duration::days(30));
        assert_eq!(c.tokens.leeway, 0);
        assert!(c.tokens.rotate_refresh_tokens);
        assert_eq!(c.tokens.sliding.mode, auth::SlidingMode::Off);
        assert_eq!(c.tokens.sliding.lifetime, Duration::minutes(5));
        assert_eq!(c.tokens.sliding.refresh_lifetime, Duration::days(1));
        assert_eq!(c.tokens.issuer, None);
        assert_eq!(c.tokens.audience, None);
        assert_eq!(c.bcrypt_cost, 12);
        assert_eq!(c.login_max_failures, 10);
        assert!(c.allow_registration);
        assert!(c.auto_migrate, "SQLite migrates by default");
        assert!(
            matches!(c.keys, KeyConfig::GeneratedSecret(ref p) if p == Path::new("data/jwt-secret"))
        );
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn the_data_dir_moves_the_embedded_database_and_the_secret() {
        let c = config(&[("AUTH_DATA_DIR", "/var/lib/auth")]).expect("valid");
        assert_eq!(
            c.database_url,
            DatabaseUrl::Sqlite(PathBuf::from("/var/lib/auth/auth.db"))
        );
        assert!(
            matches!(c.keys, KeyConfig::GeneratedSecret(ref p) if p == Path::new("/var/lib/auth/jwt-secret"))
        );
    }

    #[test]
    fn postgres_is_not_migrated_by_default() {
        let c = config(&[("DATABASE_URL", "postgres://db/auth")]).expect("valid");
        assert!(!c.auto_migrate);
        let c = config(&[
            ("DATABASE_URL", "postgres://db/auth"),
            ("AUTH_AUTO_MIGRATE", "true"),
        ])
        .expect("valid");
        assert!(c.auto_migrate);
    }

    #[test]
    fn the_leeway_is_a_duration_of_at_most_a_day() {
        for (value, seconds) in [("30", 30), ("2m", 120), ("1d", 86_400)] {
            let c = config(&[("AUTH_JWT_LEEWAY", value)]).expect("valid");
            assert_eq!(c.tokens.leeway, seconds, "{value}");
        }
        let e = config(&[("AUTH_JWT_LEEWAY", "25h")]).expect_err("over a day");
        assert_eq!(e.variable, "AUTH_JWT_LEEWAY");
        assert!(e.to_string().contains("at most 1d"), "{e}");
    }

    #[test]
    fn an_empty_value_counts_as_unset() {
        let c = config(&[("AUTH_BCRYPT_COST", ""), ("AUTH_JWT_ISSUER", "")]).expect("valid");
        assert_eq!(c.bcrypt_cost, 12);
        assert_eq!(c.tokens.issuer, None);
    }

    #[test]
    fn a_short_secret_is_a_warning_in_development_and_an_error_in_production() {
        let c = config(&[("AUTH_JWT_SECRET", "short")]).expect("development starts");
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].contains("AUTH_JWT_SECRET"));
        assert!(
            !c.warnings[0].contains("short\""),
            "the secret is not quoted"
        );
        let e = config(&[("AUTH_ENV", "production"), ("AUTH_JWT_SECRET", "short")])
            .expect_err("production refuses");
        assert_eq!(e.variable, "AUTH_JWT_SECRET");
        assert!(!e.to_string().contains("short\""));
    }

    #[test]
    fn production_refuses_a_low_bcrypt_cost() {
        let secret = "0123456789abcdefghijklmnopqrstuvwxyz";
        let production = [("AUTH_ENV", "production"), ("AUTH_JWT_SECRET", secret)];
        let e = config(&[production[0], production[1], ("AUTH_BCRYPT_COST", "9")])
            .expect_err("refused");
        assert_eq!(e.variable, "AUTH_BCRYPT_COST");
        assert!(config(&[production[0], production[1], ("AUTH_BCRYPT_COST", "10")]).is_ok());
        assert!(config(&[("AUTH_BCRYPT_COST", "4")]).is_ok(), "development");
    }

    #[test]
    fn errors_name_their_variable() {
        for (name, value) in [
            ("AUTH_BIND", "nonsense"),
            ("AUTH_WORKERS", "0"),
            ("AUTH_JWT_ALGORITHM", "none"),
            ("AUTH_JWT_LEEWAY", "-1"),
            ("AUTH_JWT_LEEWAY", "86401"),
            ("AUTH_ACCESS_TOKEN_LIFETIME", "0"),
            ("AUTH_SESSION_LIFETIME", "0s"),
            ("AUTH_SLIDING_TOKENS", "yes"),
            ("AUTH_SLIDING_TOKEN_LIFETIME", "0"),
            ("AUTH_BCRYPT_COST", "3"),
            ("AUTH_BCRYPT_COST", "32"),
            ("AUTH_LOGIN_MAX_FAILURES", "0"),
            ("AUTH_ENV", "staging"),
            ("DATABASE_URL", "mysql://x"),
            ("AUTH_TRUSTED_PROXIES", "10.0.0.1,nope"),
            ("AUTH_DB_POOL_SIZE", "0"),
            ("AUTH_DB_TIMEOUT", "0"),
            ("AUTH_DB_STARTUP_WAIT", "later"),
        ] {
            let e = config(&[(name, value)]).expect_err(value);
            assert_eq!(e.variable, name, "{name}={value}");
            assert!(e.to_string().contains(name));
        }
    }
}
