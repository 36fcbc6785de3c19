//! `TokenCodec::decode` on arbitrary bytes, for HS256 (default and strict
//! settings), EdDSA (with a rotated-out key still accepted) and ES256.
//!
//! Never panics, and never accepts a token that the codec did not produce:
//! random bytes cannot carry a valid signature, so the only way to reach `Ok`
//! is to start from a valid seed token (committed in the corpus), and any
//! mutation of one must be refused. The check is exact, with no exception:
//!
//! - HS256 and EdDSA signatures are deterministic, so every accepted token must
//!   be byte-equal to `encode(decoded claims)` with one of the signing keys.
//! - jsonwebtoken reads base64url strictly (no `=` padding, and the unused
//!   low bits of the last character of a segment must be zero), so a mutation
//!   of those bits in the signature is refused rather than decoding to the
//!   same signature; in the header and payload any change alters the signed
//!   text itself. A corpus seed (`hs256-sig-trailing-bits`) pins this.
//! - ES256 signatures are randomised, so there only the signed part
//!   (`header.payload`) must be exactly the codec's, and the signature must
//!   be the canonical 86 characters of 64 bytes.

#![no_main]

use auth::{TokenCodec, TokenType, VerifyError, MAX_TOKEN_BYTES};
use fuzz_support::{EDDSA, EDDSA_OLD, ES256, HS256, HS256_STRICT};
use libfuzzer_sys::fuzz_target;

const EXPECTED: [Option<TokenType>; 3] = [None, Some(TokenType::Access), Some(TokenType::Refresh)];

fuzz_target!(|data: &[u8]| {
    match std::str::from_utf8(data) {
        Ok(token) => check_all(token),
        // What a server holding the bytes of a header as text would pass on.
        Err(_) => check_all(&String::from_utf8_lossy(data)),
    }
});

fn check_all(token: &str) {
    check(token, "HS256", &HS256, &[&HS256]);
    check(token, "HS256 strict", &HS256_STRICT, &[&HS256_STRICT]);
    check(token, "EdDSA", &EDDSA, &[&EDDSA, &EDDSA_OLD]);
    check(token, "ES256", &ES256, &[]);
}

/// `signers`: the codecs whose deterministic signatures `codec` accepts;
/// empty for a randomised algorithm (ES256).
fn check(token: &str, name: &str, codec: &TokenCodec, signers: &[&TokenCodec]) {
    let untyped = codec.decode(token, None);
    if token.len() > MAX_TOKEN_BYTES {
        assert_eq!(
            untyped,
            Err(VerifyError::Malformed),
            "{name}: oversized token"
        );
    }
    if let Ok(claims) = &untyped {
        assert_produced_by_codec(token, name, codec, signers, claims);
    }
    // The type check is the last rule: a typed decode is the untyped one
    // followed by the type comparison.
    for expected in EXPECTED.into_iter().flatten() {
        let typed = codec.decode(token, Some(expected));
        let want = match &untyped {
            // Time passes between the two decodes: a token in its last
            // second may expire in between. No other verdict may change.
            Ok(_) if typed == Err(VerifyError::Expired) => continue,
            Ok(claims) if claims.token_type == expected => Ok(claims.clone()),
            Ok(_) => Err(VerifyError::WrongType),
            Err(e) => Err(e.clone()),
        };
        assert_eq!(
            typed, want,
            "{name}: decode as {expected:?} disagrees with untyped decode"
        );
    }
}

fn assert_produced_by_codec(
    token: &str,
    name: &str,
    codec: &TokenCodec,
    signers: &[&TokenCodec],
    claims: &auth::Claims,
) {
    if signers.is_empty() {
        let ours = codec.encode(claims).expect("re-signing accepted claims");
        let (message, signature) = token.rsplit_once('.').expect("accepted token has dots");
        let (our_message, _) = ours.rsplit_once('.').expect("our token has dots");
        assert_eq!(
            message, our_message,
            "{name}: accepted a header/payload the codec did not produce"
        );
        assert_eq!(
            signature.len(),
            86,
            "{name}: accepted a non-canonical signature encoding"
        );
        return;
    }
    let produced = signers
        .iter()
        .any(|signer| signer.encode(claims).expect("re-signing accepted claims") == token);
    assert!(
        produced,
        "{name}: accepted a token that no signing key produced: {token:?} -> {claims:?}"
    );
}
