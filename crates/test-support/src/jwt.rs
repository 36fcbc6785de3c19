//! Tokens as a client or an attacker sees them: the parts of a compact JWS
//! read without any library's help, and tokens signed with any header,
//! claims and key, above all with the [`SECRET`] every test server and test
//! codec is given.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::Value;

/// The HMAC secret of the tests (49 bytes, over the 32-byte minimum): test
/// servers sign with it, so tests can forge their tokens.
pub const SECRET: &str = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz";

/// The current time in whole seconds since the epoch, as in `iat` and `exp`.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
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

/// The header of a token as JSON, decoded without checking anything.
pub fn header(token: &str) -> Value {
    serde_json::from_slice(&b64url_decode(parts(token)[0])).expect("JSON header")
}

/// The claims of a token as JSON, decoded without checking anything (the
/// code under test checks).
pub fn claims(token: &str) -> Value {
    serde_json::from_slice(&b64url_decode(parts(token)[1])).expect("JSON claims")
}

/// Sign any header and claims with any key, as an attacker or a foreign
/// issuer could.
pub fn sign(header: &Header, claims: &impl Serialize, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, claims, key).expect("signing a test token")
}

/// Sign any claims with HS256 and the test secret.
pub fn forge(claims: &impl Serialize) -> String {
    sign(&Header::new(Algorithm::HS256), claims, &secret_key())
}

/// The test secret as an HMAC signing key.
pub fn secret_key() -> EncodingKey {
    EncodingKey::from_secret(SECRET.as_bytes())
}
