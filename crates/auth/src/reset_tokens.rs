//! One-time tokens for links in mail, made as Django's
//! `PasswordResetTokenGenerator` (django/contrib/auth/tokens.py) makes them:
//! `<timestamp in base 36>-<HMAC-SHA256, every other hex digit>`, the
//! timestamp in seconds since 2001-01-01, the HMAC keyed with
//! SHA-256(key salt ‖ secret) (Django's `salted_hmac`) over a value that
//! includes the timestamp and whatever must invalidate the token when it
//! changes. Nothing is stored: a token is checked by making it again.
//!
//! Password reset hashes what Django hashes (id, password hash, last login to
//! the second, timestamp, address), so a reset, a password change or a login
//! makes every earlier token useless: single use without a table. With
//! Django's `SECRET_KEY` as the secret, our reset tokens are Django's.
//! E-mail verification uses the same construction with its own salt over
//! (id, address, whether it is verified, timestamp).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use domain::User;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// 2001-01-01T00:00:00Z in Unix seconds: the epoch of Django's timestamps.
const DJANGO_EPOCH: i64 = 978_307_200;

/// Django refuses a base-36 timestamp longer than this (an overflow guard).
const MAX_BASE36_DIGITS: usize = 13;

/// Longer input is refused before any work: real tokens are about 40 bytes.
pub const MAX_TOKEN_CHARS: usize = 100;

pub const RESET_SALT: &str = "django.contrib.auth.tokens.PasswordResetTokenGenerator";
pub const VERIFY_SALT: &str = "auth.email-verification";

pub struct TokenGenerator {
    /// SHA-256(key salt ‖ secret): the HMAC key.
    key: [u8; 32],
}

impl std::fmt::Debug for TokenGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenGenerator { key: <redacted> }")
    }
}

impl TokenGenerator {
    pub fn new(key_salt: &str, secret: &[u8]) -> Self {
        let mut digest = Sha256::new();
        digest.update(key_salt.as_bytes());
        digest.update(secret);
        Self {
            key: digest.finalize().into(),
        }
    }

    /// The token for `value(timestamp)` at `timestamp` (seconds since 2001).
    pub fn make(&self, timestamp: i64, value: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(value.as_bytes());
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        // Django shortens the URL with every other digit: `hexdigest()[::2]`.
        let short: String = hex.chars().step_by(2).collect();
        format!("{}-{short}", int_to_base36(timestamp))
    }

    /// Whether `token` is the one made for `value` at the timestamp it names,
    /// and that timestamp is at most `timeout_secs` before `now`. The
    /// comparison takes the same time wherever the first difference is.
    pub fn check(
        &self,
        token: &str,
        value: impl Fn(i64) -> String,
        now: DateTime<Utc>,
        timeout_secs: i64,
    ) -> bool {
        if token.len() > MAX_TOKEN_CHARS {
            return false;
        }
        let Some((ts_b36, _)) = token.split_once('-') else {
            return false;
        };
        let Some(timestamp) = base36_to_int(ts_b36) else {
            return false;
        };
        let expected = self.make(timestamp, &value(timestamp));
        if !bool::from(expected.as_bytes().ct_eq(token.as_bytes())) {
            return false;
        }
        seconds_since_2001(now) - timestamp <= timeout_secs
    }
}

/// Django's `_num_seconds`: whole seconds since 2001-01-01 (UTC here).
pub fn seconds_since_2001(at: DateTime<Utc>) -> i64 {
    at.timestamp() - DJANGO_EPOCH
}

/// What a reset token covers, as Django's `_make_hash_value`: id, password
/// hash, last login without its fraction, timestamp, address.
pub fn reset_value(user: &User, timestamp: i64) -> String {
    let login = user
        .last_login
        .map(|at| at.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    format!(
        "{}{}{login}{timestamp}{}",
        user.id,
        user.password_hash,
        user.email.as_deref().unwrap_or_default()
    )
}

/// What a verification key covers: verifying flips `email_verified`, and a
/// new address changes the value, so a key works once, for its address.
pub fn verify_value(user: &User, timestamp: i64) -> String {
    format!(
        "{}{}{}{timestamp}",
        user.id,
        user.email.as_deref().unwrap_or_default(),
        if user.email_verified { "True" } else { "False" }
    )
}

/// Django's `urlsafe_base64_encode(force_bytes(pk))`: the decimal id, base64url, unpadded.
pub fn encode_uid(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(id.to_string())
}

/// The id a `uid` names, or `None` when it names none.
pub fn decode_uid(uid: &str) -> Option<i64> {
    if uid.is_empty() || uid.len() > 32 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(uid.trim_end_matches('=')).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

pub fn int_to_base36(mut n: i64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if n <= 0 {
        return "0".to_owned();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

pub fn base36_to_int(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > MAX_BASE36_DIGITS {
        return None;
    }
    if !text
        .bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    {
        return None;
    }
    i64::from_str_radix(text, 36).ok()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn user() -> User {
        let at = Utc
            .with_ymd_and_hms(2026, 12, 1, 8, 30, 15)
            .unwrap()
            .naive_utc();
        User {
            id: domain::UserId(42),
            username: "alice".into(),
            email: Some("alice@example.com".into()),
            password_hash: "$2b$04$abcdefghijklmnopqrstuuK0zuxA6Es4y/0kBvb2pGJOSUD1Y6NPO".into(),
            is_active: true,
            is_admin: false,
            date_joined: at,
            last_login: Some(at + chrono::Duration::microseconds(123_456)),
            password_changed_at: at,
            email_verified: false,
        }
    }

    /// Computed with Django's algorithm (salted_hmac, hexdigest()[::2]) in
    /// Python for the user above, secret "django-secret", timestamp 818_000_000.
    #[test]
    fn a_reset_token_is_djangos() {
        let generator = TokenGenerator::new(RESET_SALT, b"django-secret");
        let token = generator.make(818_000_000, &reset_value(&user(), 818_000_000));
        assert_eq!(token, DJANGO_TOKEN);
        assert_eq!(encode_uid(42), "NDI");
        assert_eq!(decode_uid("NDI"), Some(42));
    }

    const DJANGO_TOKEN: &str = "dj0ku8-9ebb8166a2f76a9bbc9c9cbadbdd42a6";

    #[test]
    fn the_value_drops_the_fraction_of_the_last_login() {
        let value = reset_value(&user(), 7);
        assert!(value.contains("2026-12-01 08:30:15"), "{value}");
        assert!(!value.contains(".123"), "{value}");
        assert!(value.ends_with("7alice@example.com"), "{value}");
    }

    #[test]
    fn checks_expiry_tampering_and_what_the_value_covers() {
        let generator = TokenGenerator::new(RESET_SALT, b"secret");
        let now = Utc::now();
        let ts = seconds_since_2001(now);
        let u = user();
        let token = generator.make(ts, &reset_value(&u, ts));
        let check = |token: &str, u: &User, at: DateTime<Utc>| {
            generator.check(token, |t| reset_value(u, t), at, 3 * 86_400)
        };
        assert!(check(&token, &u, now));
        assert!(check(&token, &u, now + chrono::Duration::days(3)));
        assert!(!check(
            &token,
            &u,
            now + chrono::Duration::days(3) + chrono::Duration::seconds(1)
        ));
        let mut changed = u.clone();
        changed.password_hash.push('x');
        assert!(!check(&token, &changed, now), "a new password");
        let mut changed = u.clone();
        changed.last_login = Some(now.naive_utc());
        assert!(!check(&token, &changed, now), "a login since");
        let mut changed = u.clone();
        changed.email = Some("other@example.com".into());
        assert!(!check(&token, &changed, now), "a new address");
        let mut other = u.clone();
        other.id = domain::UserId(43);
        assert!(!check(&token, &other, now), "another user");
        let other_secret = TokenGenerator::new(RESET_SALT, b"other");
        assert!(!other_secret.check(&token, |t| reset_value(&u, t), now, 3 * 86_400));
        let (ts_part, mac) = token.split_once('-').unwrap();
        let later = format!(
            "{}-{mac}",
            int_to_base36(base36_to_int(ts_part).unwrap() + 1)
        );
        assert!(!check(&later, &u, now), "a moved timestamp");
        for bad in [
            "",
            "-",
            "abc",
            "zzzzzzzzzzzzzz-00",
            &format!("{token}0"),
            &token[1..],
            &"a".repeat(101),
        ] {
            assert!(!check(bad, &u, now), "{bad:?}");
        }
    }

    #[test]
    fn uids_are_base64url_of_the_decimal_id() {
        for id in [1, 42, 9_007_199_254_740_993] {
            assert_eq!(decode_uid(&encode_uid(id)), Some(id));
        }
        for bad in ["", "!!", "LTE", "YWJj", &"A".repeat(40)] {
            assert_eq!(decode_uid(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn base36_round_trips() {
        for n in [0, 1, 35, 36, 818_000_000, i64::from(u32::MAX)] {
            assert_eq!(base36_to_int(&int_to_base36(n)), Some(n));
        }
        assert_eq!(int_to_base36(818_000_000), "dj0ku8");
        assert_eq!(base36_to_int("ABC"), None);
    }
}
