//! Inputs found by the fuzz targets of `fuzz/` (see fuzz/README.md), kept as
//! ordinary tests so that `cargo test` holds the fix.

use auth::{Algorithm, TokenType, VerifyError};
use test_support::codecs::{codec, valid_claims, ALL_ALGORITHMS};
use test_support::jwt::{b64url, secret_key};

/// `header.payload` signed with HS256 and the test secret, bytes as given.
fn signed_hs256(header: &[u8], payload: &[u8]) -> String {
    let message = format!("{}.{}", b64url(header), b64url(payload));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &secret_key(), Algorithm::HS256)
        .expect("signing");
    format!("{message}.{signature}")
}

/// A far-future access token's claims with one unknown claim whose string
/// value is `value`, as raw bytes.
fn claims_with_unknown(value: &[u8]) -> Vec<u8> {
    [
        &br#"{"token_type":"access","exp":4102444800,"iat":1767225600,"jti":"j","sub":"42","user_id":"42","sid":"s","x":""#[..],
        value,
        br#""}"#,
    ]
    .concat()
}

const HEADER: &[u8] = br#"{"typ":"JWT","alg":"HS256"}"#;

/// fuzz target `token_claims`, crash-d9808d101f95e27a699c95c30b92435e0eefa2d9
/// (minimized): a correctly signed token whose payload is not UTF-8 inside
/// an unknown claim (`us^rname`). serde_json skips unknown claims without
/// checking their bytes, so the token was accepted, although RFC 7519 §7.2
/// step 10 requires the claims to be UTF-8 JSON (and PyJWT refuses it).
#[test]
fn invalid_utf8_in_an_unknown_claim_is_refused_as_found() {
    let payload: &[u8] = b"{\"admin\":false,\"exp\":4102444800,\"iat\":1767225600,\"jti\":\"012345679abc\",\"nbf\":1.5,\"sid\":\"fEdcba9876543210fedcba9876543210\",\"sub\":\"42\",\"token_type\":\"access\",\"user_id\":\"42\",\"us^rname\":\"alice\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\"}";
    let token = signed_hs256(HEADER, payload);
    let codec = codec(Algorithm::HS256);
    for expected in [None, Some(TokenType::Access)] {
        assert_eq!(codec.decode(&token, expected), Err(VerifyError::Malformed));
    }
}

#[test]
fn invalid_utf8_anywhere_in_header_or_claims_is_refused() {
    let codec = codec(Algorithm::HS256);
    // The control: the same token with valid UTF-8 passes.
    let fine = signed_hs256(HEADER, &claims_with_unknown("Zoë 😀".as_bytes()));
    assert!(codec.decode(&fine, None).is_ok(), "the recipe works");

    for bad in [
        &b"\xff"[..],
        b"\xc3",
        b"\xed\xa0\x80",
        b"\xf8\x88\x80\x80\x80",
    ] {
        let token = signed_hs256(HEADER, &claims_with_unknown(bad));
        assert_eq!(
            codec.decode(&token, None),
            Err(VerifyError::Malformed),
            "{bad:?}"
        );
    }
    // A real 0xFF byte (not the four characters `\xff`) in an unknown header
    // parameter. Unlike unknown claims, jsonwebtoken 11 keeps every unknown
    // header parameter (`Header::extras`, as `serde_json::Value`), so
    // serde_json already checks its UTF-8 and our check is the second line
    // here; the test pins the outcome, whichever of the two refuses first.
    let header = b"{\"typ\":\"JWT\",\"alg\":\"HS256\",\"x\":\"\xff\"}";
    let token = signed_hs256(header, &claims_with_unknown(b"ok"));
    assert!(
        jsonwebtoken::decode_header(&token).is_err(),
        "premise: jsonwebtoken parses unknown header parameters"
    );
    assert_eq!(
        codec.decode(&token, None),
        Err(VerifyError::Malformed),
        "header with invalid UTF-8"
    );
}

/// Every algorithm's own tokens still pass the UTF-8 check.
#[test]
fn our_tokens_pass_for_every_algorithm() {
    for alg in ALL_ALGORITHMS {
        let codec = codec(alg);
        let claims = valid_claims(TokenType::Refresh);
        let token = codec.encode(&claims).expect("sign");
        assert_eq!(codec.decode(&token, None), Ok(claims), "{alg:?}");
    }
}
