//! The `auth` crate's objects for tests and benchmarks: key sets over the
//! committed fixture keys (`crates/auth/tests/fixtures`, public by design),
//! codecs, valid claims, authorities and a fast hasher.

use std::path::PathBuf;

use auth::{
    Algorithm, Authority, Claims, KeySet, KeySource, PasswordHasher, TokenCodec, TokenSettings,
    TokenType,
};
use serde_json::Value;

use crate::jwt::{now, SECRET};

/// Every algorithm of the contract.
pub const ALL_ALGORITHMS: [Algorithm; 6] = [
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
    Algorithm::RS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

pub const ASYMMETRIC: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

/// A PEM file of the fixture keys (see their README).
pub fn fixture(name: &str) -> Vec<u8> {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "auth",
        "tests",
        "fixtures",
        name,
    ]
    .iter()
    .collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The fixture stem of the first (`n = 1`) or second (`n = 2`) key of an
/// asymmetric algorithm: `rsa-1`, `p256-2`, ...
pub fn key_stem(alg: Algorithm, n: u8) -> String {
    let kind = match alg {
        Algorithm::RS256 => "rsa",
        Algorithm::ES256 => "p256",
        Algorithm::EdDSA => "ed25519",
        other => panic!("{other:?} has no key files"),
    };
    format!("{kind}-{n}")
}

pub fn private_pem(alg: Algorithm, n: u8) -> Vec<u8> {
    fixture(&format!("{}.pem", key_stem(alg, n)))
}

pub fn public_pem(alg: Algorithm, n: u8) -> Vec<u8> {
    fixture(&format!("{}.pub.pem", key_stem(alg, n)))
}

/// A key set with private key `n` and the given earlier public keys.
pub fn pem_keys(alg: Algorithm, n: u8, previous: &[Vec<u8>]) -> KeySet {
    KeySet::new(
        alg,
        KeySource::Pem {
            private: &private_pem(alg, n),
            previous_public: previous,
        },
    )
    .unwrap_or_else(|e| panic!("{alg:?} key {n}: {e}"))
}

/// The first key of any algorithm: the test secret for HMAC, key 1 otherwise.
pub fn keys(alg: Algorithm) -> KeySet {
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            KeySet::new(alg, KeySource::Secret(SECRET.as_bytes())).expect("HMAC key set")
        }
        _ => pem_keys(alg, 1, &[]),
    }
}

/// The contract's default settings with `alg`.
pub fn settings(alg: Algorithm) -> TokenSettings {
    TokenSettings {
        algorithm: alg,
        ..TokenSettings::default()
    }
}

/// A codec with the contract's default settings.
pub fn codec(alg: Algorithm) -> TokenCodec {
    TokenCodec::new(keys(alg), &settings(alg))
}

/// Valid claims of one type for user 42, expiring in five minutes.
pub fn valid_claims(token_type: TokenType) -> Claims {
    let now = now();
    let access = token_type == TokenType::Access;
    Claims {
        token_type,
        exp: now + 300,
        iat: now,
        jti: "0123456789abcdef0123456789abcdef".to_owned(),
        sub: "42".to_owned(),
        user_id: "42".to_owned(),
        username: access.then(|| "alice".to_owned()),
        admin: access.then_some(false),
        sid: "fedcba9876543210fedcba9876543210".to_owned(),
        refresh_exp: None,
        iss: None,
        aud: None,
    }
}

/// The same claims as free JSON, for tokens that our `Claims` type cannot
/// express (a missing `exp`, an `nbf`).
pub fn valid_claims_json(token_type: TokenType) -> serde_json::Map<String, Value> {
    match serde_json::to_value(valid_claims(token_type)).expect("claims serialize") {
        Value::Object(map) => map,
        other => panic!("claims are not an object: {other}"),
    }
}

/// A codec, valid access claims and the token it signed of them; valid for a
/// day, so that no slow run (property tests, benchmarks) sees it expire.
pub struct Signed {
    pub codec: TokenCodec,
    pub claims: Claims,
    pub token: String,
}

pub fn signed(alg: Algorithm) -> Signed {
    let codec = codec(alg);
    let mut claims = valid_claims(TokenType::Access);
    claims.exp += 86_400;
    let token = codec.encode(&claims).expect("signing works");
    assert_eq!(
        codec.decode(&token, Some(TokenType::Access)),
        Ok(claims.clone()),
        "{alg:?}: the untouched token verifies"
    );
    Signed {
        codec,
        claims,
        token,
    }
}

/// bcrypt at cost 4 (the tests' speed) for whoever needs a real hash.
pub fn hasher() -> PasswordHasher {
    PasswordHasher::new(4).expect("cost 4 is valid")
}

/// An HS256 authority over the test secret with the given settings.
pub fn authority(settings: TokenSettings) -> Authority {
    let keys = KeySet::new(settings.algorithm, KeySource::Secret(SECRET.as_bytes()))
        .expect("HMAC key set");
    Authority::new(TokenCodec::new(keys, &settings), settings)
}

/// The claims inside a token we issued, checked by a codec with the same keys.
pub fn read_claims(token: &str) -> Claims {
    codec(Algorithm::HS256)
        .decode(token, None)
        .expect("a token we issued decodes")
}
