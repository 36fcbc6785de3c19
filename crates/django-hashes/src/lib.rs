//! Verifying Django's password hashes, as `django.contrib.auth.hashers` writes them,
//! so that users imported from a Django project log in with the passwords
//! they have. Only the salted, slow formats are read; Django's legacy ones
//! (`md5$`, `sha1$`, `crypt$`, unsalted) are never accepted, and a hash
//! starting with `!` is Django's unusable password.
//!
//! Each digest is compared in constant time (`subtle`, or the argon2 crate's
//! own comparison), and work factors are bounded so that a hand-edited row
//! cannot hold a hashing thread for minutes.

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a stored hash is, read from its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashKind {
    /// Our own: plain bcrypt (`$2b$...`).
    Bcrypt,
    /// One of Django's formats that we verify.
    Django(DjangoFormat),
    /// Django's unusable password (`!...`): never matches.
    Unusable,
    /// A legacy or unknown format: never matches.
    Unsupported,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DjangoFormat {
    Pbkdf2Sha256,
    Pbkdf2Sha1,
    /// `argon2$argon2id$...` and `argon2$argon2i$...`.
    Argon2,
    BcryptSha256,
    Bcrypt,
    Scrypt,
}

impl DjangoFormat {
    /// Whether the format reads the whole password: all but plain bcrypt,
    /// which reads 72 bytes at most.
    pub fn takes_any_length(self) -> bool {
        self != Self::Bcrypt
    }
}

impl HashKind {
    pub fn of(hash: &str) -> Self {
        const PREFIXES: [(&str, DjangoFormat); 6] = [
            ("pbkdf2_sha256$", DjangoFormat::Pbkdf2Sha256),
            ("pbkdf2_sha1$", DjangoFormat::Pbkdf2Sha1),
            ("argon2$", DjangoFormat::Argon2),
            ("bcrypt_sha256$", DjangoFormat::BcryptSha256),
            ("bcrypt$", DjangoFormat::Bcrypt),
            ("scrypt$", DjangoFormat::Scrypt),
        ];
        if hash.starts_with('!') {
            return Self::Unusable;
        }
        if hash.starts_with("$2") {
            return Self::Bcrypt;
        }
        PREFIXES
            .iter()
            .find(|(prefix, _)| hash.starts_with(prefix))
            .map_or(Self::Unsupported, |&(_, format)| Self::Django(format))
    }

    /// Whether a password can ever match this hash here.
    pub fn is_verifiable(self) -> bool {
        matches!(self, Self::Bcrypt | Self::Django(_))
    }
}

/// PBKDF2 rounds above this are refused (Django 5.2 writes 1,000,000).
const MAX_PBKDF2_ROUNDS: u32 = 50_000_000;
/// Argon2 memory above this (KiB) is refused (Django writes 102,400).
const MAX_ARGON2_KIB: u32 = 1 << 20;
/// scrypt memory, 128·r·N bytes, above this is refused (Django: 16 MiB).
const MAX_SCRYPT_BYTES: u64 = 1 << 30;

/// Whether `password` matches `encoded`, a hash of `format`. A malformed
/// hash matches nothing.
pub fn verify(format: DjangoFormat, password: &str, encoded: &str) -> bool {
    let password = password.as_bytes();
    match format {
        DjangoFormat::Pbkdf2Sha256 => pbkdf2(password, encoded, ::pbkdf2::pbkdf2_hmac::<Sha256>),
        DjangoFormat::Pbkdf2Sha1 => pbkdf2(password, encoded, ::pbkdf2::pbkdf2_hmac::<sha1::Sha1>),
        DjangoFormat::Argon2 => argon2(password, encoded),
        DjangoFormat::BcryptSha256 => encoded.strip_prefix("bcrypt_sha256$").is_some_and(|inner| {
            // Django hashes the hex digest, so bcrypt sees 64 bytes.
            let digest = hex(&Sha256::digest(password));
            bcrypt::verify(digest, inner).unwrap_or(false)
        }),
        DjangoFormat::Bcrypt => encoded
            .strip_prefix("bcrypt$")
            .is_some_and(|inner| bcrypt::verify(password, inner).unwrap_or(false)),
        DjangoFormat::Scrypt => scrypt(password, encoded),
    }
}

/// `pbkdf2_<digest>$<rounds>$<salt>$<base64 digest>`.
fn pbkdf2(password: &[u8], encoded: &str, derive: fn(&[u8], &[u8], u32, &mut [u8])) -> bool {
    let Some([_, rounds, salt, expected]) = split::<4>(encoded) else {
        return false;
    };
    let Ok(rounds) = rounds.parse::<u32>() else {
        return false;
    };
    let Ok(expected) = STANDARD.decode(expected) else {
        return false;
    };
    if rounds == 0 || rounds > MAX_PBKDF2_ROUNDS || expected.is_empty() || expected.len() > 64 {
        return false;
    }
    let mut actual = vec![0u8; expected.len()];
    derive(password, salt.as_bytes(), rounds, &mut actual);
    actual.ct_eq(&expected).into()
}

/// `argon2` followed by argon2-cffi's PHC string (`$argon2id$v=19$m=...`).
fn argon2(password: &[u8], encoded: &str) -> bool {
    let Some(phc) = encoded.strip_prefix("argon2") else {
        return false;
    };
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let memory = hash.params.get_decimal("m").unwrap_or(u32::MAX);
    if memory > MAX_ARGON2_KIB {
        return false;
    }
    // The algorithm (id or i), version and costs come from the hash itself.
    argon2::Argon2::default()
        .verify_password(password, &hash)
        .is_ok()
}

/// `scrypt$<N>$<salt>$<r>$<p>$<base64 digest>` (N, the work factor, first).
fn scrypt(password: &[u8], encoded: &str) -> bool {
    let Some([_, n, salt, r, p, expected]) = split::<6>(encoded) else {
        return false;
    };
    let (Ok(n), Ok(r), Ok(p)) = (n.parse::<u64>(), r.parse::<u32>(), p.parse::<u32>()) else {
        return false;
    };
    let Ok(expected) = STANDARD.decode(expected) else {
        return false;
    };
    if !n.is_power_of_two() || n < 2 || 128 * u64::from(r) * n > MAX_SCRYPT_BYTES {
        return false;
    }
    if expected.is_empty() || expected.len() > 128 {
        return false;
    }
    let Ok(log_n) = u8::try_from(n.trailing_zeros()) else {
        return false;
    };
    let Ok(params) = scrypt::Params::new(log_n, r, p, expected.len()) else {
        return false;
    };
    let mut actual = vec![0u8; expected.len()];
    if scrypt::scrypt(password, salt.as_bytes(), &params, &mut actual).is_err() {
        return false;
    }
    actual.ct_eq(&expected).into()
}

/// Exactly `N` `$`-separated fields, or nothing.
fn split<const N: usize>(encoded: &str) -> Option<[&str; N]> {
    let fields: Vec<&str> = encoded.split('$').collect();
    fields.try_into().ok()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests;
