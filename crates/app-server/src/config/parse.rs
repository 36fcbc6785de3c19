//! The parsers of the variables' values. Each gets the value trimmed and
//! returns what is wrong with it in words that follow the variable's name
//! ("invalid AUTH_WORKERS: must be a whole number from 1 to 1024").

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration as StdDuration;

use auth::{Algorithm, SecretString, SlidingMode, MAX_LEEWAY_SECONDS};
use chrono::Duration;
use domain::DatabaseUrl;
use ipnet::IpNet;

pub fn text(v: &str) -> Result<String, String> {
    Ok(v.to_owned())
}

/// Taken as it is, surrounding whitespace included: a secret is its bytes.
pub fn secret(v: &str) -> Result<SecretString, String> {
    Ok(SecretString::from(v.to_owned()))
}

pub fn path(v: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(v))
}

/// Comma-separated paths; empty items are skipped.
pub fn paths(v: &str) -> Result<Vec<PathBuf>, String> {
    Ok(v.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .collect())
}

pub fn database_url(v: &str) -> Result<DatabaseUrl, String> {
    DatabaseUrl::parse(v).map_err(|e| e.to_string())
}

pub fn socket_addr(v: &str) -> Result<SocketAddr, String> {
    v.parse::<SocketAddr>()
        .map_err(|_| "must be an address and port such as 127.0.0.1:8000".to_owned())
}

pub fn algorithm(v: &str) -> Result<Algorithm, String> {
    auth::parse_algorithm(v).map_err(|e| e.to_string())
}

/// A whole number from 1 to `max`.
pub fn positive<T>(v: &str, max: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + From<u8> + std::fmt::Display,
{
    match v.parse::<T>() {
        Ok(n) if n >= T::from(1) && n <= max => Ok(n),
        _ => Err(format!("must be a whole number from 1 to {max}")),
    }
}

/// A whole number from 0 to `max`.
pub fn count(v: &str, max: u64) -> Result<u64, String> {
    match v.parse::<u64>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(format!("must be a whole number from 0 to {max}")),
    }
}

pub fn bcrypt_cost(v: &str) -> Result<u32, String> {
    let cost: u32 = v
        .parse()
        .map_err(|_| "must be a whole number from 4 to 31".to_owned())?;
    if !auth::passwords::COST_RANGE.contains(&cost) {
        return Err("must be from 4 to 31".to_owned());
    }
    Ok(cost)
}

pub fn boolean(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("must be true or false".to_owned()),
    }
}

/// Plain seconds, or a number with `s`, `m`, `h` or `d`; at most 100 years.
pub fn sliding_mode(v: &str) -> Result<SlidingMode, String> {
    match v {
        "off" => Ok(SlidingMode::Off),
        "on" => Ok(SlidingMode::On),
        "only" => Ok(SlidingMode::Only),
        _ => Err("must be off, on or only".to_owned()),
    }
}

pub fn duration(v: &str) -> Result<Duration, String> {
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

pub fn positive_duration(v: &str) -> Result<Duration, String> {
    let d = duration(v)?;
    if d <= Duration::zero() {
        return Err("must be longer than zero".to_owned());
    }
    Ok(d)
}

pub fn std_duration(v: &str) -> Result<StdDuration, String> {
    duration(v)?.to_std().map_err(|e| e.to_string())
}

pub fn positive_std_duration(v: &str) -> Result<StdDuration, String> {
    positive_duration(v)?.to_std().map_err(|e| e.to_string())
}

/// Whole seconds of clock skew, at most a day (see [`MAX_LEEWAY_SECONDS`]).
pub fn leeway(v: &str) -> Result<u64, String> {
    let seconds = u64::try_from(duration(v)?.num_seconds()).unwrap_or(0);
    if seconds > MAX_LEEWAY_SECONDS {
        return Err("must be at most 1d: it is an allowance for clock skew".to_owned());
    }
    Ok(seconds)
}

/// The refresh reuse interval: zero (off) to
/// [`auth::MAX_REFRESH_REUSE_INTERVAL_SECONDS`].
pub fn reuse_interval(v: &str) -> Result<Duration, String> {
    let d = duration(v)?;
    if d > Duration::seconds(auth::MAX_REFRESH_REUSE_INTERVAL_SECONDS) {
        return Err(format!(
            "must be at most {}s: it is for requests in flight together",
            auth::MAX_REFRESH_REUSE_INTERVAL_SECONDS
        ));
    }
    Ok(d)
}

/// Comma-separated IP addresses or CIDR networks.
pub fn networks(v: &str) -> Result<Vec<IpNet>, String> {
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
    use super::*;

    #[test]
    fn the_reuse_interval_is_zero_to_a_minute() {
        assert_eq!(reuse_interval("0s"), Ok(Duration::zero()));
        assert_eq!(reuse_interval("10"), Ok(Duration::seconds(10)));
        assert_eq!(reuse_interval("1m"), Ok(Duration::seconds(60)));
        for bad in ["61s", "2m", "1d", "-1", "ten"] {
            assert!(reuse_interval(bad).is_err(), "{bad}");
        }
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
            assert_eq!(duration(text), Ok(Duration::seconds(seconds)), "{text}");
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
            assert!(duration(text).is_err(), "{text:?} is refused");
        }
    }

    #[test]
    fn booleans_take_the_usual_spellings_only() {
        for t in ["true", "TRUE", "1", "yes", "on"] {
            assert_eq!(boolean(t), Ok(true), "{t}");
        }
        for f in ["false", "False", "0", "no", "off"] {
            assert_eq!(boolean(f), Ok(false), "{f}");
        }
        for bad in ["maybe", "", "2", "y"] {
            assert!(boolean(bad).is_err(), "{bad:?}");
        }
    }
}
