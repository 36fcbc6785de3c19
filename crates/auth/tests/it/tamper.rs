//! Any change to a token's text makes verification fail.
//!
//! Why this holds exactly, not just usually:
//! - the signature covers the exact ASCII text `header.payload`, so any edit
//!   there changes the signed message (or breaks the parse);
//! - jsonwebtoken decodes base64url strictly (no padding, and non-zero
//!   trailing bits are an error), so two different strings in the signature
//!   part never decode to the same bytes: an edit there either fails to
//!   decode or yields different signature bytes;
//! - HMAC, RSA PKCS#1 v1.5 and aws-lc's Ed25519 admit exactly one valid
//!   signature per message and key; ECDSA admits two, (r, s) and (r, n - s),
//!   which no single-character edit turns into each other.
//!
//! So the property is "every single-character edit is refused", with no
//! exception for re-encodings; `trailing_bits_in_the_signature_are_refused`
//! checks the strict-base64 step on its own.

use std::sync::LazyLock;

use auth::Algorithm;
use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use proptest::prelude::*;
use proptest::sample::Index;
use test_support::codecs::{signed, Signed, ALL_ALGORITHMS};
use test_support::jwt::parts;

/// One codec and one freshly signed token per algorithm, shared by all cases.
static HS256: LazyLock<Signed> = LazyLock::new(|| signed(Algorithm::HS256));
static RS256: LazyLock<Signed> = LazyLock::new(|| signed(Algorithm::RS256));
static ES256: LazyLock<Signed> = LazyLock::new(|| signed(Algorithm::ES256));
static EDDSA: LazyLock<Signed> = LazyLock::new(|| signed(Algorithm::EdDSA));

/// One single-character edit. Tokens are ASCII, so a byte index is a
/// character index.
#[derive(Debug, Clone)]
enum Edit {
    /// XOR one byte with a 7-bit mask: stays ASCII (so still a `&str`), never a no-op.
    Flip(Index, u8),
    /// Put any character (multi-byte ones included) in place of one.
    Replace(Index, char),
    Insert(Index, char),
    Delete(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<Index>(), 1u8..=127).prop_map(|(i, m)| Edit::Flip(i, m)),
        (any::<Index>(), any::<char>()).prop_map(|(i, c)| Edit::Replace(i, c)),
        (any::<Index>(), any::<char>()).prop_map(|(i, c)| Edit::Insert(i, c)),
        any::<Index>().prop_map(Edit::Delete),
    ]
}

/// The token after the edit; `None` when a replacement happens to put back
/// the same character (the only way an edit can be a no-op).
fn apply(token: &str, edit: &Edit) -> Option<String> {
    assert!(token.is_ascii());
    let mut chars: Vec<char> = token.chars().collect();
    match *edit {
        Edit::Flip(i, mask) => {
            let i = i.index(chars.len());
            chars[i] = char::from(chars[i] as u8 ^ mask);
        }
        Edit::Replace(i, c) => {
            let i = i.index(chars.len());
            if chars[i] == c {
                return None;
            }
            chars[i] = c;
        }
        Edit::Insert(i, c) => chars.insert(i.index(chars.len() + 1), c),
        Edit::Delete(i) => {
            let i = i.index(chars.len());
            chars.remove(i);
        }
    }
    Some(chars.into_iter().collect())
}

fn assert_edit_refused(signed: &Signed, edit: &Edit) -> Result<(), TestCaseError> {
    let Some(tampered) = apply(&signed.token, edit) else {
        return Ok(());
    };
    prop_assert_ne!(&tampered, &signed.token);
    let outcome = signed.codec.decode(&tampered, None);
    prop_assert!(outcome.is_err(), "{edit:?} was accepted: {tampered}");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_edit_of_an_hs256_token_is_refused(edit in edit()) {
        assert_edit_refused(&HS256, &edit)?;
    }

    #[test]
    fn any_edit_of_an_es256_token_is_refused(edit in edit()) {
        assert_edit_refused(&ES256, &edit)?;
    }
}

proptest! {
    // RSA and Ed25519 verification is slower in a debug build: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn any_edit_of_an_rs256_token_is_refused(edit in edit()) {
        assert_edit_refused(&RS256, &edit)?;
    }

    #[test]
    fn any_edit_of_an_eddsa_token_is_refused(edit in edit()) {
        assert_edit_refused(&EDDSA, &edit)?;
    }
}

/// base64url as a lax decoder reads it: trailing bits ignored.
const LAX: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// The edit that a lax base64 decoder would not notice: set the lowest
/// (trailing) bit of the signature's last character. The signature bytes stay
/// the same, so only strict decoding can refuse it.
#[test]
fn trailing_bits_in_the_signature_are_refused() {
    for alg in ALL_ALGORITHMS {
        let signed = signed(alg);
        let signature = parts(&signed.token)[2];
        let signature_bits = LAX.decode(signature).unwrap().len() * 8;
        if signature.len() * 6 == signature_bits {
            // HS384's 48 bytes fill 64 characters exactly: no trailing bits
            assert_eq!(alg, Algorithm::HS384);
            continue;
        }
        let last = signature.chars().last().unwrap();
        let index = URL_SAFE_CHARS.find(last).unwrap();
        let sneaky = URL_SAFE_CHARS.as_bytes()[index ^ 1] as char;
        let mut forged = signed.token.clone();
        forged.pop();
        forged.push(sneaky);

        // The premise: a lax reader sees the very same signature bytes.
        assert_eq!(
            LAX.decode(parts(&forged)[2]).unwrap(),
            LAX.decode(signature).unwrap(),
            "{alg:?}"
        );
        assert!(
            signed.codec.decode(&forged, None).is_err(),
            "{alg:?} accepted non-zero trailing bits"
        );
    }
}

const URL_SAFE_CHARS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The property tests start from a token that does verify; so do these
/// deterministic edits at the boundaries (first and last character, the dots).
#[test]
fn edits_at_the_boundaries_are_refused() {
    for alg in ALL_ALGORITHMS {
        let signed = signed(alg);
        let t = &signed.token;
        let dots: Vec<usize> = t.match_indices('.').map(|(i, _)| i).collect();
        let mut variants = vec![
            t[1..].to_owned(),
            t[..t.len() - 1].to_owned(),
            format!("{t}A"),
            format!("A{t}"),
            format!("{t}."),
            format!(" {t}"),
            format!("{t}\n"),
            t.replacen('.', "..", 1),
            t.replacen('.', "", 1),
        ];
        for &dot in &dots {
            variants.push(format!("{}{}", &t[..dot], &t[dot + 1..]));
            variants.push(format!("{}={}", &t[..dot], &t[dot..]));
        }
        for variant in variants {
            assert!(
                signed.codec.decode(&variant, None).is_err(),
                "{alg:?} accepted {variant:?}"
            );
        }
    }
}
