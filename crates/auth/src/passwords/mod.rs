//! bcrypt hashing with the configured cost, and a login check whose time does
//! not tell whether the account exists. Hashes imported from Django
//! (`django_hashes`) are verified too, and replaced by bcrypt at the first login.

use django_hashes as django;

use secrecy::{ExposeSecret, SecretString};

pub use django_hashes::{DjangoFormat, HashKind};

/// What a login's password check found.
#[derive(PartialEq, Eq)]
pub enum Checked {
    Wrong,
    /// The password matches; `upgrade` is a bcrypt hash of it to store in
    /// place of a Django hash, or `None` when the stored hash stays.
    Right {
        upgrade: Option<String>,
    },
}

// The upgrade is a hash: never in a debug print.
impl std::fmt::Debug for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Wrong => f.write_str("Wrong"),
            Self::Right { upgrade } => f
                .debug_struct("Right")
                .field("upgrade", &upgrade.as_ref().map(|_| "<redacted>"))
                .finish(),
        }
    }
}

/// bcrypt reads at most 72 bytes; anything longer is refused, never cut.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// bcrypt's own bounds on the cost.
pub const COST_RANGE: std::ops::RangeInclusive<u32> = 4..=31;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("the password is longer than {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    #[error("bcrypt cost must be between 4 and 31")]
    BadCost,
    #[error("bcrypt failed: {0}")]
    Bcrypt(#[from] bcrypt::BcryptError),
}

pub struct PasswordHasher {
    cost: u32,
    /// A real hash at our cost, checked for unknown and inactive users so that
    /// their failed login spends the same time as a wrong password.
    dummy_hash: String,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("cost", &self.cost)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// Quick, whatever the cost: the dummy is a hash at the lowest cost
    /// relabelled with ours. bcrypt reads the cost from the hash, so checking
    /// a password against it runs the full work of our cost, as a real hash
    /// would, and never matches (its digest is of another cost). Hashing the
    /// dummy at our cost instead would take a login's time at every start
    /// (about 240 ms at cost 12), before a new replica could serve.
    pub fn new(cost: u32) -> Result<Self, HashError> {
        if !COST_RANGE.contains(&cost) {
            return Err(HashError::BadCost);
        }
        let cheap = bcrypt::hash("dummy password, never matches", *COST_RANGE.start())?;
        // `$2b$04$` then 22 characters of salt and 31 of digest.
        let salt_and_digest = cheap.rsplit('$').next().unwrap_or_default();
        let dummy_hash = format!("$2b${cost:02}${salt_and_digest}");
        Ok(Self { cost, dummy_hash })
    }

    pub fn cost(&self) -> u32 {
        self.cost
    }

    pub fn hash(&self, password: &SecretString) -> Result<String, HashError> {
        let password = password.expose_secret();
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(HashError::TooLong);
        }
        Ok(bcrypt::hash(password, self.cost)?)
    }

    /// Whether `password` matches `hash`, ours or one of Django's. A password
    /// over 72 bytes never matches a bcrypt hash (bcrypt would compare only
    /// its first 72), but costs the same.
    pub fn verify(&self, password: &SecretString, hash: &str) -> bool {
        let password = password.expose_secret();
        match HashKind::of(hash) {
            HashKind::Bcrypt if password.len() <= MAX_PASSWORD_BYTES => {
                bcrypt::verify(password, hash).unwrap_or(false)
            }
            HashKind::Django(format)
                if format.takes_any_length() || password.len() <= MAX_PASSWORD_BYTES =>
            {
                django::verify(format, password, hash)
            }
            // Unusable, legacy, or too long for bcrypt: a failure that costs
            // what a check costs.
            _ => {
                self.spend_verify_time(password);
                false
            }
        }
    }

    /// [`Self::verify`] for a login: a right password checked against a
    /// Django hash comes with its bcrypt hash at our cost, to store in its
    /// place, computed here on the caller's (hashing) thread. A password over
    /// 72 bytes keeps the Django hash that took it: bcrypt would cut it.
    pub fn check(&self, password: &SecretString, hash: &str) -> Checked {
        if !self.verify(password, hash) {
            return Checked::Wrong;
        }
        let upgrade = match HashKind::of(hash) {
            HashKind::Django(_) => self.hash(password).ok(),
            _ => None,
        };
        Checked::Right { upgrade }
    }

    /// The time of a real check, for a login that must fail anyway.
    pub fn verify_dummy(&self, password: &SecretString) {
        self.spend_verify_time(password.expose_secret());
    }

    fn spend_verify_time(&self, password: &str) {
        let prefix = &password.as_bytes()[..password.len().min(MAX_PASSWORD_BYTES)];
        let _ = bcrypt::verify(prefix, &self.dummy_hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn the_dummy_hash_costs_what_ours_does_and_never_matches() {
        for cost in [4, 5, 12, 31] {
            let hasher = PasswordHasher::new(cost).unwrap();
            let parts: bcrypt::HashParts = hasher.dummy_hash.parse().unwrap();
            assert_eq!(parts.get_cost(), cost);
        }
        let hasher = PasswordHasher::new(5).unwrap();
        for password in ["dummy password, never matches", "", "x"] {
            assert!(!hasher.verify(&secret(password), &hasher.dummy_hash));
        }
    }

    #[test]
    fn hashes_and_verifies() {
        let hasher = PasswordHasher::new(4).unwrap();
        let hash = hasher
            .hash(&secret("correct horse battery staple"))
            .unwrap();
        assert!(hash.starts_with("$2b$04$"));
        assert!(hasher.verify(&secret("correct horse battery staple"), &hash));
        assert!(!hasher.verify(&secret("correct horse battery stapler"), &hash));
        assert!(!hasher.verify(&secret("x"), "not a bcrypt hash"));
    }

    #[test]
    fn refuses_passwords_over_72_bytes_and_never_truncates() {
        let hasher = PasswordHasher::new(4).unwrap();
        let exactly_72 = "a".repeat(72);
        let hash = hasher.hash(&secret(&exactly_72)).unwrap();
        assert!(hasher.verify(&secret(&exactly_72), &hash));
        // bcrypt alone would accept this: it only reads the first 72 bytes
        let longer = format!("{exactly_72}tail");
        assert!(bcrypt::verify(&longer, &hash).unwrap());
        assert!(!hasher.verify(&secret(&longer), &hash));
        assert!(matches!(
            hasher.hash(&secret(&longer)),
            Err(HashError::TooLong)
        ));
        // 72 bytes counted in UTF-8, not characters: 25 × 3 bytes = 75
        assert!(matches!(
            hasher.hash(&secret(&"€".repeat(25))),
            Err(HashError::TooLong)
        ));
    }

    #[test]
    fn check_upgrades_django_hashes_only() {
        let hasher = PasswordHasher::new(4).unwrap();
        let password = secret("correct horse battery staple");
        let ours = hasher.hash(&password).unwrap();
        assert_eq!(
            hasher.check(&password, &ours),
            Checked::Right { upgrade: None }
        );
        // Django's PBKDF2 format at one round (the vectors that Django
        // made are checked in the django-hashes crate).
        let django = format!(
            "pbkdf2_sha256$1$salt${}",
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                pbkdf2_once(password.expose_secret().as_bytes())
            )
        );
        let Checked::Right {
            upgrade: Some(upgrade),
        } = hasher.check(&password, &django)
        else {
            panic!("a Django hash is upgraded");
        };
        assert!(upgrade.starts_with("$2b$04$"));
        assert!(hasher.verify(&password, &upgrade));
        assert_eq!(hasher.check(&secret("wrong"), &django), Checked::Wrong);
        // Over 72 bytes: verified against the Django hash, which stays.
        let long = secret(&"l".repeat(100));
        let django_long = format!(
            "pbkdf2_sha256$1$salt${}",
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                pbkdf2_once(long.expose_secret().as_bytes())
            )
        );
        assert_eq!(
            hasher.check(&long, &django_long),
            Checked::Right { upgrade: None }
        );
        // Plain bcrypt from Django keeps the 72-byte rule.
        let django_bcrypt = format!("bcrypt${}", bcrypt::hash("l".repeat(72), 4).unwrap());
        assert_eq!(hasher.check(&long, &django_bcrypt), Checked::Wrong);
        assert!(matches!(
            hasher.check(&secret(&"l".repeat(72)), &django_bcrypt),
            Checked::Right { upgrade: Some(_) }
        ));
        // Unusable and legacy hashes never match.
        assert_eq!(
            hasher.check(&password, &format!("!{django}")),
            Checked::Wrong
        );
        assert_eq!(hasher.check(&password, &format!("!{ours}")), Checked::Wrong);
        assert_eq!(
            hasher.check(&secret(""), "md5$salt$d41d8cd98f00b204e9800998ecf8427e"),
            Checked::Wrong
        );
    }

    /// One round of PBKDF2-HMAC-SHA256 with the salt "salt": HMAC of the
    /// salt followed by the block number 1 (RFC 8018 §5.2).
    fn pbkdf2_once(password: &[u8]) -> Vec<u8> {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(password).unwrap();
        mac.update(b"salt\0\0\0\x01");
        mac.finalize().into_bytes().to_vec()
    }

    #[test]
    fn cost_is_bounded() {
        assert!(matches!(PasswordHasher::new(3), Err(HashError::BadCost)));
        assert!(matches!(PasswordHasher::new(32), Err(HashError::BadCost)));
    }
}
