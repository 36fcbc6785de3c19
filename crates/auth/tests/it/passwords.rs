//! Password checks as the login route uses them.
//!
//! That the dummy check for unknown users costs as much as a real one is a
//! timing property: it is measured in `benches/passwords.rs` (verify vs
//! verify_dummy), never asserted here. The cost of the dummy hash is not
//! observable through the public API, so no structural test of it either.

use auth::{HashError, PasswordHasher, SecretString, MAX_PASSWORD_BYTES};
use test_support::codecs::hasher;

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

/// Passwords around the 72-byte limit, including ones where byte 72 falls
/// inside a multi-byte character: cutting such a `str` at 72 would panic.
fn awkward_passwords() -> Vec<String> {
    vec![
        String::new(),
        "x".into(),
        "a".repeat(MAX_PASSWORD_BYTES),
        "a".repeat(MAX_PASSWORD_BYTES + 1),
        format!("{}€", "a".repeat(MAX_PASSWORD_BYTES - 1)), // € spans bytes 71..74
        "€".repeat(30),
        "😀".repeat(19), // 76 bytes, byte 72 starts the last emoji
        "\0".repeat(80),
    ]
}

#[test]
fn the_dummy_check_takes_any_password_without_panicking() {
    let hasher = hasher();
    for password in awkward_passwords() {
        hasher.verify_dummy(&secret(&password));
    }
}

#[test]
fn a_wrong_or_over_long_password_never_matches() {
    let hasher = hasher();
    let hash = hasher
        .hash(&secret(&"a".repeat(MAX_PASSWORD_BYTES)))
        .unwrap();
    for password in awkward_passwords() {
        let expected = password == "a".repeat(MAX_PASSWORD_BYTES);
        assert_eq!(
            hasher.verify(&secret(&password), &hash),
            expected,
            "{} bytes",
            password.len()
        );
    }
}

#[test]
fn hashes_carry_the_configured_cost_and_are_salted() {
    for cost in [4, 5] {
        let hasher = PasswordHasher::new(cost).unwrap();
        let a = hasher
            .hash(&secret("correct horse battery staple"))
            .unwrap();
        let b = hasher
            .hash(&secret("correct horse battery staple"))
            .unwrap();
        assert!(a.starts_with(&format!("$2b${cost:02}$")), "{a}");
        assert_ne!(a, b, "a fresh salt each time");
        assert!(hasher.verify(&secret("correct horse battery staple"), &b));
    }
    assert!(matches!(
        hasher().hash(&secret(&"€".repeat(25))),
        Err(HashError::TooLong)
    ));
}

#[test]
fn the_hasher_debug_print_shows_no_hash() {
    let printed = format!("{:?}", hasher());
    assert!(printed.contains("cost: 4"), "{printed}");
    assert!(!printed.contains("$2"), "{printed}");
}
