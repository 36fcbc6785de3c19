//! Known answer: the HS256 example of RFC 7515, appendix A.1.
//!
//! It pins three things: that HMAC-SHA256 over the signing input is what the
//! RFC says (so our benchmark floor and hand-made tokens compute the right
//! thing), that a key set built the way the server builds it accepts a
//! signature made by another implementation (signature interop), and that our
//! codec reads the RFC's header bytes and still checks expiry.

use auth::{Algorithm, KeySet, KeySource, TokenCodec, TokenSettings, TokenType, VerifyError};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use test_support::codecs::valid_claims;
use test_support::jwt::{b64url, b64url_decode};

/// The JWK `k` value of the example key.
const JWK_K: &str =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

/// The JWS Protected Header `{"typ":"JWT",\r\n "alg":"HS256"}`: note the
/// CRLF and the space, which no encoder of ours would write.
const ENCODED_HEADER: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9";
/// The JWS Payload: `iss`, `exp` (2011) and one private claim.
const ENCODED_PAYLOAD: &str =
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
const SIGNATURE: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn key() -> Vec<u8> {
    b64url_decode(JWK_K)
}

fn signing_input() -> String {
    format!("{ENCODED_HEADER}.{ENCODED_PAYLOAD}")
}

fn rfc_token() -> String {
    format!("{}.{SIGNATURE}", signing_input())
}

/// Our codec, with the contract's defaults, over the RFC key.
fn our_codec(key: &[u8]) -> TokenCodec {
    let keys = KeySet::new(Algorithm::HS256, KeySource::Secret(key)).unwrap();
    TokenCodec::new(keys, &TokenSettings::default())
}

#[test]
fn raw_hmac_sha256_of_the_signing_input_is_the_rfc_signature() {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key()).expect("HMAC takes any key length");
    mac.update(signing_input().as_bytes());
    assert_eq!(b64url(mac.finalize().into_bytes()), SIGNATURE);
}

#[test]
fn our_hs256_key_set_accepts_the_rfc_signature() {
    let key = key();
    let keys =
        KeySet::new(Algorithm::HS256, KeySource::Secret(&key)).expect("the RFC key is usable");
    let decoding = keys
        .verification_key(None)
        .expect("HMAC verifies without a kid");

    let ok = jsonwebtoken::crypto::verify(
        SIGNATURE,
        signing_input().as_bytes(),
        decoding,
        Algorithm::HS256,
    )
    .expect("verification runs");
    assert!(ok, "the RFC signature verifies under our key set");

    // The same check must be able to say no: one signature bit off.
    let mut wrong = b64url_decode(SIGNATURE);
    wrong[0] ^= 1;
    let ok = jsonwebtoken::crypto::verify(
        &b64url(wrong),
        signing_input().as_bytes(),
        decoding,
        Algorithm::HS256,
    )
    .expect("verification runs");
    assert!(!ok, "a changed signature is refused");
}

#[test]
fn the_whole_rfc_token_decodes_when_expiry_is_not_checked() {
    let key = key();
    let keys = KeySet::new(Algorithm::HS256, KeySource::Secret(&key)).unwrap();
    let decoding = keys.verification_key(None).unwrap();
    // The exp is in 2011: only expiry is switched off, the signature is checked.
    let mut validation = jsonwebtoken::Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.set_required_spec_claims::<&str>(&[]);
    let data = jsonwebtoken::decode::<serde_json::Value>(rfc_token(), decoding, &validation)
        .expect("the RFC token verifies");
    assert_eq!(data.header.alg, Algorithm::HS256);
    assert_eq!(data.header.typ.as_deref(), Some("JWT"));
    assert_eq!(data.claims["iss"], "joe");
    assert_eq!(data.claims["exp"], 1_300_819_380);
    assert_eq!(data.claims["http://example.com/is_root"], true);

    // Our codec refuses it, and as malformed, not expired: its claims are not
    // ours (no `token_type`, `sub`, ...), and jsonwebtoken deserializes them
    // before it looks at `exp`. Expiry under the RFC header: the next test.
    assert_eq!(
        our_codec(&key).decode(&rfc_token(), None),
        Err(VerifyError::Malformed)
    );
}

/// Our claims under the RFC's header bytes and key, signed by hand: our codec
/// accepts the foreign header, and with the RFC's `exp` (2011) refuses the
/// token as expired.
#[test]
fn our_codec_reads_the_rfc_header_and_checks_expiry() {
    let key = key();
    let codec = our_codec(&key);
    let sign = |claims: &auth::Claims| {
        let payload = serde_json::to_vec(claims).unwrap();
        let input = format!("{ENCODED_HEADER}.{}", b64url(payload));
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", b64url(mac.finalize().into_bytes()))
    };
    let fresh = valid_claims(TokenType::Access);
    assert_eq!(codec.decode(&sign(&fresh), None), Ok(fresh.clone()));
    let expired = auth::Claims {
        exp: 1_300_819_380,
        ..fresh
    };
    assert_eq!(
        codec.decode(&sign(&expired), None),
        Err(VerifyError::Expired)
    );
}
