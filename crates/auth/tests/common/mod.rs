//! Helpers shared by the integration tests: fixture keys, codecs, claims,
//! hand-made tokens, users and authorities over a test database.
//!
//! Each test binary uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::path::PathBuf;

use auth::{
    Algorithm, Authority, Claims, KeySet, KeySource, PasswordHasher, TokenCodec, TokenSettings,
    TokenType,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use domain::time::to_db;
use domain::{DbConnection, NewUser, User};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::Value;

/// The HMAC secret of the tests: 40 bytes, over the 32-byte minimum.
pub const SECRET: &[u8] = b"test-only HMAC secret, 40 bytes long....";

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

/// A PEM file of `tests/fixtures/`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
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
            KeySet::new(alg, KeySource::Secret(SECRET)).expect("HMAC key set")
        }
        _ => pem_keys(alg, 1, &[]),
    }
}

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

pub fn now_secs() -> i64 {
    Utc::now().timestamp()
}

/// Valid claims of one type for user 42, expiring in five minutes.
pub fn claims(token_type: TokenType) -> Claims {
    let now = now_secs();
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
        iss: None,
        aud: None,
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
    let mut claims = claims(TokenType::Access);
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

/// The same claims as free JSON, for tokens that our `Claims` type cannot
/// express (a missing `exp`, an `nbf`).
pub fn claims_json(token_type: TokenType) -> serde_json::Map<String, Value> {
    match serde_json::to_value(claims(token_type)).expect("claims serialize") {
        Value::Object(map) => map,
        other => panic!("claims are not an object: {other}"),
    }
}

/// Sign any header and claims with any key, as an attacker or a foreign
/// issuer could.
pub fn sign_raw(
    header: &Header,
    claims: &serde_json::Map<String, Value>,
    key: &EncodingKey,
) -> String {
    jsonwebtoken::encode(header, claims, key).expect("signing a test token")
}

pub fn b64url(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64url_decode(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text)
        .unwrap_or_else(|e| panic!("not base64url: {text:?}: {e}"))
}

/// The three dot-separated parts of a compact JWS.
pub fn parts(token: &str) -> [&str; 3] {
    let v: Vec<&str> = token.split('.').collect();
    v.try_into()
        .unwrap_or_else(|v: Vec<&str>| panic!("{} parts in {token:?}", v.len()))
}

/// The header of a token as plain JSON, read without any library's help.
pub fn header_json(token: &str) -> serde_json::Map<String, Value> {
    serde_json::from_slice(&b64url_decode(parts(token)[0])).expect("header is a JSON object")
}

/// The payload of a token as plain JSON, read without any library's help.
pub fn payload_json(token: &str) -> serde_json::Map<String, Value> {
    serde_json::from_slice(&b64url_decode(parts(token)[1])).expect("payload is a JSON object")
}

// ---------------------------------------------------------------------------
// Over a database

/// bcrypt at cost 4 (the tests' speed) for whoever needs a real hash.
pub fn hasher() -> PasswordHasher {
    PasswordHasher::new(4).expect("cost 4 is valid")
}

/// An active user whose password last changed at `at`.
pub fn add_user_at(
    conn: &mut DbConnection,
    username: &str,
    is_admin: bool,
    at: DateTime<Utc>,
) -> User {
    User::create(
        conn,
        &NewUser {
            username,
            email: None,
            password_hash: "$2b$04$notarealhashnotarealhashnotarealhashnotarealhashnot",
            is_active: true,
            is_admin,
            date_joined: to_db(at),
            password_changed_at: to_db(at),
        },
    )
    .expect("user created")
}

pub fn add_user(conn: &mut DbConnection, username: &str) -> User {
    add_user_at(conn, username, false, Utc::now())
}

/// An HS256 authority with the given settings.
pub fn authority(settings: TokenSettings) -> Authority {
    let keys = KeySet::new(settings.algorithm, KeySource::Secret(SECRET)).expect("HMAC key set");
    Authority::new(TokenCodec::new(keys, &settings), settings)
}

/// The claims inside a token we issued, checked by a codec with the same keys.
pub fn read_claims(token: &str) -> Claims {
    codec(Algorithm::HS256)
        .decode(token, None)
        .expect("a token we issued decodes")
}
