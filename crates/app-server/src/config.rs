//! Configuration from the environment (`.env` honoured), parsed and validated
//! in full at start. Every variable, with its default:
//!
//! | variable | default |
//! |---|---|
//! | AUTH_DATA_DIR | `data` |
//! | DATABASE_URL | `sqlite://<AUTH_DATA_DIR>/auth.db` |
//! | AUTH_BIND | `127.0.0.1:8000` |
//! | AUTH_WORKERS | number of cores |
//! | AUTH_JWT_ALGORITHM | `HS256` |
//! | AUTH_JWT_SECRET | development: random, kept in the data dir; production: required |
//! | AUTH_JWT_PRIVATE_KEY_FILE | required for RS256, ES256, EdDSA |
//! | AUTH_JWT_PUBLIC_KEY_FILES | none |
//! | AUTH_JWT_ISSUER, AUTH_JWT_AUDIENCE | unset |
//! | AUTH_JWT_LEEWAY | `0` (at most `1d`) |
//! | AUTH_ACCESS_TOKEN_LIFETIME | `5m` |
//! | AUTH_REFRESH_TOKEN_LIFETIME | `1d` |
//! | AUTH_ROTATE_REFRESH_TOKENS | `true` |
//! | AUTH_SESSION_LIFETIME | `30d` |
//! | AUTH_BCRYPT_COST | `12` |
//! | AUTH_LOGIN_MAX_FAILURES | `10` |
//! | AUTH_ALLOW_REGISTRATION | `true` |
//! | AUTH_AUTO_MIGRATE | `true` for SQLite, `false` for PostgreSQL |
//! | AUTH_ENV | `development` |
//! | AUTH_TRUSTED_PROXIES | none |
//! | AUTH_DB_POOL_SIZE | `10` for PostgreSQL, AUTH_WORKERS for SQLite |
//! | AUTH_DB_TIMEOUT | `3s` (how long a call waits for a pooled connection; on PostgreSQL also each statement's `statement_timeout`) |
//! | AUTH_DB_STARTUP_WAIT | `30s` (how long start-up retries an unreachable database) |
//!
//! An empty value counts as unset. Secrets are read here and nowhere else.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

use auth::{
    parse_algorithm, Algorithm, SecretString, TokenSettings, MAX_LEEWAY_SECONDS, MIN_SECRET_BYTES,
};
use chrono::Duration;
use domain::{Backend, DatabaseUrl};
use ipnet::IpNet;

use crate::env_vars::{Env, EnvError};

/// The file in the data dir that keeps the development secret across restarts.
pub const DEV_SECRET_FILE: &str = "jwt-secret";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// How tokens are signed; the key files are read by [`crate::keys`].
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
    /// Warnings to log once the logger runs (e.g. a short development secret).
    pub warnings: Vec<String>,
}

impl Config {
    pub fn from_process_env() -> Result<Self, EnvError> {
        Self::from_env(&Env::process())
    }

    pub fn from_env(env: &Env) -> Result<Self, EnvError> {
        let mut warnings = Vec::new();
        let environment = env.parse("AUTH_ENV", Environment::Development, |v| match v {
            "development" => Ok(Environment::Development),
            "production" => Ok(Environment::Production),
            _ => Err("must be development or production".to_owned()),
        })?;
        let production = environment == Environment::Production;
        let data_dir = PathBuf::from(env.get("AUTH_DATA_DIR").unwrap_or("data"));
        let database_url = match env.get("DATABASE_URL") {
            Some(url) => DatabaseUrl::parse(url)
                .map_err(|e| EnvError::invalid("DATABASE_URL", e.to_string()))?,
            None => DatabaseUrl::Sqlite(data_dir.join("auth.db")),
        };
        let bind = env.parse("AUTH_BIND", SocketAddr::from(([127, 0, 0, 1], 8000)), |v| {
            v.parse::<SocketAddr>()
                .map_err(|_| "must be an address and port such as 127.0.0.1:8000".to_owned())
        })?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = env.parse("AUTH_WORKERS", cores, |v| positive(v, 1024))?;

        let algorithm = env.parse("AUTH_JWT_ALGORITHM", Algorithm::HS256, |v| {
            parse_algorithm(v).map_err(|e| e.to_string())
        })?;
        let keys = key_config(env, algorithm, environment, &data_dir, &mut warnings)?;

        let tokens = TokenSettings {
            algorithm,
            access_lifetime: env.parse(
                "AUTH_ACCESS_TOKEN_LIFETIME",
                Duration::minutes(5),
                positive_duration,
            )?,
            refresh_lifetime: env.parse(
                "AUTH_REFRESH_TOKEN_LIFETIME",
                Duration::days(1),
                positive_duration,
            )?,
            session_lifetime: env.parse(
                "AUTH_SESSION_LIFETIME",
                Duration::days(30),
                positive_duration,
            )?,
            issuer: env.get("AUTH_JWT_ISSUER").map(str::to_owned),
            audience: env.get("AUTH_JWT_AUDIENCE").map(str::to_owned),
            leeway: env.parse("AUTH_JWT_LEEWAY", 0, |v| {
                let seconds = u64::try_from(parse_duration(v)?.num_seconds()).unwrap_or(0);
                if seconds > MAX_LEEWAY_SECONDS {
                    return Err("must be at most 1d: it is an allowance for clock skew".to_owned());
                }
                Ok(seconds)
            })?,
            rotate_refresh_tokens: env.parse("AUTH_ROTATE_REFRESH_TOKENS", true, parse_bool)?,
        };

        let bcrypt_cost = env.parse("AUTH_BCRYPT_COST", 12, |v| {
            let cost: u32 = v
                .parse()
                .map_err(|_| "must be a whole number from 4 to 31".to_owned())?;
            if !auth::passwords::COST_RANGE.contains(&cost) {
                return Err("must be from 4 to 31".to_owned());
            }
            if production && cost < 10 {
                return Err("must be at least 10 in production".to_owned());
            }
            Ok(cost)
        })?;
        let login_max_failures =
            env.parse("AUTH_LOGIN_MAX_FAILURES", 10, |v| positive(v, 1_000_000))?;
        let allow_registration = env.parse("AUTH_ALLOW_REGISTRATION", true, parse_bool)?;
        let auto_migrate = env.parse(
            "AUTH_AUTO_MIGRATE",
            database_url.backend() == Backend::Sqlite,
            parse_bool,
        )?;
        let trusted_proxies = env.parse("AUTH_TRUSTED_PROXIES", Vec::new(), parse_networks)?;
        // SQLite has one writer and answers a read in microseconds: one
        // connection, so one blocking thread, per worker. More threads only
        // add wake-ups: /api/me/ measured 66k req/s with 1 per worker, 48k with 2.
        let default_pool = match database_url.backend() {
            Backend::Postgres => 10,
            Backend::Sqlite => u32::try_from(workers).unwrap_or(u32::MAX),
        };
        let pool_size = env.parse("AUTH_DB_POOL_SIZE", default_pool, |v| positive(v, 10_000))?;
        let db_timeout = env.parse(
            "AUTH_DB_TIMEOUT",
            StdDuration::from_secs(3),
            positive_std_duration,
        )?;
        let db_startup_wait =
            env.parse("AUTH_DB_STARTUP_WAIT", StdDuration::from_secs(30), |v| {
                parse_duration(v)?.to_std().map_err(|e| e.to_string())
            })?;

        Ok(Self {
            environment,
            data_dir,
            database_url,
            bind,
            workers,
            keys,
            tokens,
            bcrypt_cost,
            login_max_failures,
            allow_registration,
            auto_migrate,
            trusted_proxies,
            pool_size,
            db_timeout,
            db_startup_wait,
            warnings,
        })
    }
}

fn key_config(
    env: &Env,
    algorithm: Algorithm,
    environment: Environment,
    data_dir: &Path,
    warnings: &mut Vec<String>,
) -> Result<KeyConfig, EnvError> {
    let production = environment == Environment::Production;
    let is_hmac = matches!(
        algorithm,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    );
    if !is_hmac {
        let private_key_file = env.get("AUTH_JWT_PRIVATE_KEY_FILE").ok_or_else(|| {
            EnvError::invalid(
                "AUTH_JWT_PRIVATE_KEY_FILE",
                format!("is required for {algorithm:?}"),
            )
        })?;
        let public_key_files = env
            .get("AUTH_JWT_PUBLIC_KEY_FILES")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(PathBuf::from)
                    .collect()
            })
            .unwrap_or_default();
        return Ok(KeyConfig::Pem {
            private_key_file: PathBuf::from(private_key_file),
            public_key_files,
        });
    }
    let Some(secret) = env.get("AUTH_JWT_SECRET") else {
        if production {
            return Err(EnvError::invalid(
                "AUTH_JWT_SECRET",
                "is required in production".to_owned(),
            ));
        }
        return Ok(KeyConfig::GeneratedSecret(data_dir.join(DEV_SECRET_FILE)));
    };
    if let Some(weakness) = secret_weakness(secret.as_bytes()) {
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
    Ok(KeyConfig::Secret(SecretString::from(secret.to_owned())))
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

fn positive<T>(v: &str, max: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + From<u8> + std::fmt::Display,
{
    match v.parse::<T>() {
        Ok(n) if n >= T::from(1) && n <= max => Ok(n),
        _ => Err(format!("must be a whole number from 1 to {max}")),
    }
}

pub fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("must be true or false".to_owned()),
    }
}

/// Plain seconds, or a number with `s`, `m`, `h` or `d`.
pub fn parse_duration(v: &str) -> Result<Duration, String> {
    let bad = || format!("must be a duration such as 90, 90s, 5m, 12h or 30d, not {v:?}");
    let (number, unit) = match v.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&v[..i], c),
        _ => (v, 's'),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        's' => Some(n),
        'm' => n.checked_mul(60),
        'h' => n.checked_mul(3600),
        'd' => n.checked_mul(86_400),
        _ => None,
    }
    .filter(|s| *s <= 100 * 365 * 86_400)
    .ok_or_else(bad)?;
    Ok(Duration::seconds(seconds))
}

fn positive_duration(v: &str) -> Result<Duration, String> {
    let d = parse_duration(v)?;
    if d <= Duration::zero() {
        return Err("must be longer than zero".to_owned());
    }
    Ok(d)
}

fn positive_std_duration(v: &str) -> Result<StdDuration, String> {
    positive_duration(v)?.to_std().map_err(|e| e.to_string())
}

fn parse_networks(v: &str) -> Result<Vec<IpNet>, String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{s:?} is not an IP address or CIDR network"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    //! The parsing rules and the defaults of API.md's table, which the binary
    //! tests cannot all observe (a 30-day session, leeway 0, ...).

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, EnvError> {
        Config::from_env(&Env::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn durations_are_seconds_or_a_number_with_a_unit() {
        for (text, seconds) in [
            ("0", 0),
            ("90", 90),
            ("90s", 90),
            ("5m", 300),
            ("12h", 43_200),
            ("1d", 86_400),
            ("30d", 2_592_000),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::seconds(seconds)),
                "{text}"
            );
        }
        for text in [
            "",
            "s",
            "-1",
            "5x",
            "1.5m",
            "abc",
            " 5m",
            "5 m",
            "+5",
            "5ms",
            "99999999999d",
        ] {
            assert!(parse_duration(text).is_err(), "{text:?} is refused");
        }
    }

    #[test]
    fn booleans_take_the_usual_spellings_only() {
        for t in ["true", "TRUE", "1", "yes", "on"] {
            assert_eq!(parse_bool(t), Ok(true), "{t}");
        }
        for f in ["false", "False", "0", "no", "off"] {
            assert_eq!(parse_bool(f), Ok(false), "{f}");
        }
        for bad in ["maybe", "", "2", "y"] {
            assert!(parse_bool(bad).is_err(), "{bad:?}");
        }
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
    fn errors_name_their_variable() {
        for (name, value) in [
            ("AUTH_BIND", "nonsense"),
            ("AUTH_WORKERS", "0"),
            ("AUTH_JWT_ALGORITHM", "none"),
            ("AUTH_JWT_LEEWAY", "-1"),
            ("AUTH_JWT_LEEWAY", "86401"),
            ("AUTH_ACCESS_TOKEN_LIFETIME", "0"),
            ("AUTH_SESSION_LIFETIME", "0s"),
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
