//! Key sets: every algorithm of the contract, key rotation, the JWKS document
//! as a third party reads it, RFC 7638 kids computed independently, and the
//! key errors of a misconfiguration.

use auth::{
    parse_algorithm, Algorithm, KeyError, KeySet, KeySource, TokenCodec, TokenType, VerifyError,
};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use test_support::codecs::{
    codec, fixture, keys, pem_keys, private_pem, public_pem, settings, valid_claims,
    ALL_ALGORITHMS, ASYMMETRIC,
};
use test_support::jwt::{b64url, b64url_decode, header, SECRET};

fn codec_of(keys: KeySet) -> TokenCodec {
    let alg = keys.algorithm();
    TokenCodec::new(keys, &settings(alg))
}

fn token_kid(token: &str) -> Option<String> {
    header(token)
        .get("kid")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

#[test]
fn every_algorithm_signs_and_verifies() {
    for alg in ALL_ALGORITHMS {
        let codec = codec(alg);
        for token_type in [TokenType::Access, TokenType::Refresh] {
            let claims = valid_claims(token_type);
            let token = codec
                .encode(&claims)
                .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
            assert_eq!(
                codec.decode(&token, Some(token_type)),
                Ok(claims),
                "{alg:?}"
            );
        }
    }
}

#[test]
fn algorithms_are_parsed_by_their_rfc_7518_names() {
    let names = ["HS256", "HS384", "HS512", "RS256", "ES256", "EdDSA"];
    for (name, alg) in names.into_iter().zip(ALL_ALGORITHMS) {
        assert_eq!(parse_algorithm(name).unwrap(), alg, "{name}");
    }
    for unsupported in ["none", "hs256", "RS384", "PS256", "ES384", "Ed25519", ""] {
        assert!(
            matches!(parse_algorithm(unsupported), Err(KeyError::UnsupportedAlgorithm(ref n)) if n == unsupported),
            "{unsupported:?}"
        );
    }
}

#[test]
fn tokens_of_the_previous_key_verify_during_a_rotation() {
    for alg in ASYMMETRIC {
        let old = codec(alg);
        let old_token = old.encode(&valid_claims(TokenType::Access)).unwrap();

        let rotated = codec_of(pem_keys(alg, 2, &[public_pem(alg, 1)]));
        assert!(
            rotated.decode(&old_token, None).is_ok(),
            "{alg:?}: old tokens still verify"
        );
        let new_token = rotated.encode(&valid_claims(TokenType::Access)).unwrap();
        assert_eq!(
            token_kid(&new_token).as_deref(),
            rotated.keys().signing_kid(),
            "{alg:?}: the new key signs"
        );
        assert_ne!(token_kid(&new_token), token_kid(&old_token));
        assert!(rotated.decode(&new_token, None).is_ok());

        // Once the old public key is dropped, its tokens are refused.
        let done = codec_of(pem_keys(alg, 2, &[]));
        assert_eq!(
            done.decode(&old_token, None),
            Err(VerifyError::UnknownKey),
            "{alg:?}"
        );
        // And the old key set does not know the new key.
        assert_eq!(
            old.decode(&new_token, None),
            Err(VerifyError::UnknownKey),
            "{alg:?}"
        );
    }
}

#[test]
fn the_jwks_lists_the_current_and_previous_keys() {
    for alg in ASYMMETRIC {
        let old_kid = keys(alg).signing_kid().unwrap().to_owned();
        let rotated = pem_keys(alg, 2, &[public_pem(alg, 1)]);
        let new_kid = rotated.signing_kid().unwrap().to_owned();
        let jwks = serde_json::to_value(rotated.jwks()).unwrap();
        let listed = jwks["keys"].as_array().unwrap();
        assert_eq!(listed.len(), 2, "{alg:?}");
        let alg_name = serde_json::to_value(alg).unwrap();
        for key in listed {
            assert_eq!(key["alg"], alg_name, "{alg:?}");
            assert_eq!(key["use"], "sig", "{alg:?}");
            // public halves only
            for private_member in ["d", "p", "q", "dp", "dq", "qi", "k"] {
                assert!(
                    key.get(private_member).is_none(),
                    "{alg:?} JWKS leaks {private_member}"
                );
            }
        }
        let kids: Vec<&str> = listed.iter().map(|k| k["kid"].as_str().unwrap()).collect();
        assert_eq!(
            kids,
            [new_kid.as_str(), old_kid.as_str()],
            "{alg:?}: current key first"
        );
    }
}

#[test]
fn a_previous_key_equal_to_the_current_one_is_listed_once() {
    for alg in ASYMMETRIC {
        let keys = pem_keys(alg, 1, &[public_pem(alg, 1)]);
        assert_eq!(keys.jwks().keys.len(), 1, "{alg:?}");
    }
}

#[test]
fn the_jwks_is_empty_for_hmac() {
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let keys = keys(alg);
        assert_eq!(
            serde_json::to_value(keys.jwks()).unwrap(),
            json!({ "keys": [] }),
            "{alg:?}"
        );
        assert_eq!(keys.signing_kid(), None);
    }
}

/// What a resource server elsewhere does: fetch the JWKS JSON, pick the key by
/// the token's kid, verify with jsonwebtoken's own `DecodingKey::from_jwk`.
#[test]
fn a_third_party_verifies_our_tokens_from_the_jwks_json() {
    for alg in ASYMMETRIC {
        let rotated = codec_of(pem_keys(alg, 2, &[public_pem(alg, 1)]));
        let published = serde_json::to_string(rotated.keys().jwks()).unwrap();
        let jwks: JwkSet = serde_json::from_str(&published).unwrap();

        for token in [
            rotated.encode(&valid_claims(TokenType::Access)).unwrap(),
            codec(alg).encode(&valid_claims(TokenType::Access)).unwrap(),
        ] {
            let kid = token_kid(&token).unwrap();
            let jwk = jwks
                .find(&kid)
                .unwrap_or_else(|| panic!("{alg:?}: kid {kid} not in the JWKS"));
            let key = DecodingKey::from_jwk(jwk).unwrap();
            let mut validation = Validation::new(alg);
            validation.leeway = 0;
            let data = jsonwebtoken::decode::<Value>(&token, &key, &validation)
                .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
            assert_eq!(data.claims["sub"], "42");
        }
    }
}

// --- RFC 7638 thumbprints, computed without jsonwebtoken ------------------------

/// One DER TLV: (tag, contents, rest). Enough for SubjectPublicKeyInfo.
fn der(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = input[0];
    let (len, header) = match input[1] {
        short if short < 0x80 => (usize::from(short), 2),
        long => {
            let n = usize::from(long & 0x7f);
            let len = input[2..2 + n]
                .iter()
                .fold(0usize, |acc, b| acc << 8 | usize::from(*b));
            (len, 2 + n)
        }
    };
    (tag, &input[header..header + len], &input[header + len..])
}

/// The key bits of a PEM SubjectPublicKeyInfo, after the BIT STRING's
/// unused-bits octet.
fn spki_key_bits(pem: &[u8]) -> Vec<u8> {
    let pem = std::str::from_utf8(pem).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let spki = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, body).unwrap();
    let (tag, spki, _) = der(&spki);
    assert_eq!(tag, 0x30, "SEQUENCE");
    let (tag, _algorithm, rest) = der(spki);
    assert_eq!(tag, 0x30, "AlgorithmIdentifier");
    let (tag, bits, _) = der(rest);
    assert_eq!(tag, 0x03, "BIT STRING");
    assert_eq!(bits[0], 0, "no unused bits");
    bits[1..].to_vec()
}

/// An unsigned big-endian integer with no leading zero octets (RFC 7518 §6.3.1).
fn unsigned(mut int: &[u8]) -> &[u8] {
    while int.len() > 1 && int[0] == 0 {
        int = &int[1..];
    }
    int
}

/// RFC 7638 §3: SHA-256 over the required members, in lexicographic order,
/// with no whitespace, base64url without padding.
fn thumbprint(canonical_json: &str) -> String {
    b64url(Sha256::digest(canonical_json.as_bytes()))
}

fn expected_kid(alg: Algorithm, n: u8) -> String {
    let bits = spki_key_bits(&public_pem(alg, n));
    let canonical = match alg {
        Algorithm::RS256 => {
            // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
            let (_, rsa, _) = der(&bits);
            let (_, modulus, rest) = der(rsa);
            let (_, exponent, _) = der(rest);
            format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                b64url(unsigned(exponent)),
                b64url(unsigned(modulus))
            )
        }
        Algorithm::ES256 => {
            // an uncompressed point: 0x04 || x || y, 32 bytes each on P-256
            assert_eq!((bits.len(), bits[0]), (65, 4));
            format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                b64url(&bits[1..33]),
                b64url(&bits[33..])
            )
        }
        Algorithm::EdDSA => {
            assert_eq!(bits.len(), 32);
            format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64url(&bits))
        }
        other => panic!("{other:?}"),
    };
    thumbprint(&canonical)
}

/// The worked example of RFC 7638 §3.1, so that `thumbprint` itself is right.
#[test]
fn the_thumbprint_helper_matches_rfc_7638_example() {
    let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    let canonical = format!(r#"{{"e":"AQAB","kty":"RSA","n":"{n}"}}"#);
    assert_eq!(
        thumbprint(&canonical),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn kids_are_rfc_7638_thumbprints() {
    for alg in ASYMMETRIC {
        for n in [1, 2] {
            let keys = pem_keys(alg, n, &[]);
            let expected = expected_kid(alg, n);
            assert_eq!(
                keys.signing_kid(),
                Some(expected.as_str()),
                "{alg:?} key {n}"
            );
            let token = codec_of(keys)
                .encode(&valid_claims(TokenType::Access))
                .unwrap();
            assert_eq!(
                token_kid(&token),
                Some(expected),
                "{alg:?} key {n}: the header carries it"
            );
        }
        // a previous key listed from its public PEM gets the same kid as when it signed
        let rotated = pem_keys(alg, 2, &[public_pem(alg, 1)]);
        let kids: Vec<_> = rotated
            .jwks()
            .keys
            .iter()
            .map(|k| k.common.key_id.clone().unwrap())
            .collect();
        assert_eq!(
            kids,
            [expected_kid(alg, 2), expected_kid(alg, 1)],
            "{alg:?}"
        );
    }
}

#[test]
fn the_published_members_are_those_of_the_public_key() {
    // x and y, n and e as RFC 7518 wants them: minimal unsigned big-endian, base64url
    let ec = serde_json::to_value(&keys(Algorithm::ES256).jwks().keys[0]).unwrap();
    let bits = spki_key_bits(&public_pem(Algorithm::ES256, 1));
    assert_eq!(
        (ec["kty"].as_str(), ec["crv"].as_str()),
        (Some("EC"), Some("P-256"))
    );
    assert_eq!(b64url_decode(ec["x"].as_str().unwrap()), &bits[1..33]);
    assert_eq!(b64url_decode(ec["y"].as_str().unwrap()), &bits[33..]);

    let rsa = serde_json::to_value(&keys(Algorithm::RS256).jwks().keys[0]).unwrap();
    let bits = spki_key_bits(&public_pem(Algorithm::RS256, 1));
    let (_, seq, _) = der(&bits);
    let (_, modulus, rest) = der(seq);
    let (_, exponent, _) = der(rest);
    assert_eq!(rsa["kty"], "RSA");
    assert_eq!(b64url_decode(rsa["n"].as_str().unwrap()), unsigned(modulus));
    assert_eq!(
        b64url_decode(rsa["e"].as_str().unwrap()),
        unsigned(exponent)
    );
    assert_eq!(rsa["e"], "AQAB");

    let ed = serde_json::to_value(&keys(Algorithm::EdDSA).jwks().keys[0]).unwrap();
    let bits = spki_key_bits(&public_pem(Algorithm::EdDSA, 1));
    assert_eq!(
        (ed["kty"].as_str(), ed["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    assert_eq!(b64url_decode(ed["x"].as_str().unwrap()), bits);
}

// --- misconfiguration -------------------------------------------------------------

fn pem_source<'a>(private: &'a [u8], previous: &'a [Vec<u8>]) -> KeySource<'a> {
    KeySource::Pem {
        private,
        previous_public: previous,
    }
}

#[test]
fn a_private_key_of_the_wrong_type_is_a_key_error() {
    for alg in ASYMMETRIC {
        for other in ASYMMETRIC.into_iter().filter(|o| *o != alg) {
            let wrong = private_pem(other, 1);
            let err = KeySet::new(alg, pem_source(&wrong, &[])).unwrap_err();
            assert!(
                matches!(err, KeyError::BadPrivateKey { algorithm, .. } if algorithm == alg),
                "{alg:?} with a {other:?} key: {err:?}"
            );
        }
        // a public key where the private one belongs
        let err = KeySet::new(alg, pem_source(&public_pem(alg, 1), &[])).unwrap_err();
        assert!(
            matches!(err, KeyError::BadPrivateKey { .. }),
            "{alg:?} with a public key: {err:?}"
        );
        // not PEM at all
        let err = KeySet::new(alg, pem_source(b"not a key", &[])).unwrap_err();
        assert!(
            matches!(err, KeyError::BadPrivateKey { .. }),
            "{alg:?}: {err:?}"
        );
    }
}

#[test]
fn a_p384_key_is_refused_for_es256() {
    let p384 = fixture("p384.pem");
    let err = KeySet::new(Algorithm::ES256, pem_source(&p384, &[])).unwrap_err();
    assert!(
        matches!(
            err,
            KeyError::BadPrivateKey {
                algorithm: Algorithm::ES256,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_previous_public_key_of_the_wrong_type_is_a_key_error_naming_its_index() {
    for alg in ASYMMETRIC {
        for other in ASYMMETRIC.into_iter().filter(|o| *o != alg) {
            let previous = [public_pem(alg, 2), public_pem(other, 1)];
            let err = KeySet::new(alg, pem_source(&private_pem(alg, 1), &previous)).unwrap_err();
            assert!(
                matches!(err, KeyError::BadPublicKey { index: 1, algorithm, .. } if algorithm == alg),
                "{alg:?} with a previous {other:?} key: {err:?}"
            );
        }
    }
    let previous = [fixture("p384.pub.pem")];
    let err = KeySet::new(
        Algorithm::ES256,
        pem_source(&private_pem(Algorithm::ES256, 1), &previous),
    )
    .unwrap_err();
    assert!(
        matches!(err, KeyError::BadPublicKey { index: 0, .. }),
        "a P-384 key cannot verify ES256: {err:?}"
    );
}

#[test]
fn hmac_needs_a_secret_and_asymmetric_algorithms_need_a_pem() {
    let pem = private_pem(Algorithm::RS256, 1);
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let err = KeySet::new(alg, pem_source(&pem, &[])).unwrap_err();
        assert!(
            matches!(err, KeyError::NeedsSecret { algorithm } if algorithm == alg),
            "{err:?}"
        );
        assert!(matches!(
            KeySet::new(alg, KeySource::Secret(b"")),
            Err(KeyError::EmptySecret)
        ));
    }
    for alg in ASYMMETRIC {
        let err = KeySet::new(alg, KeySource::Secret(SECRET.as_bytes())).unwrap_err();
        assert!(
            matches!(err, KeyError::NeedsPrivateKey { algorithm } if algorithm == alg),
            "{err:?}"
        );
    }
}

#[test]
fn algorithms_outside_the_contract_are_refused_even_with_a_fitting_key() {
    for alg in [Algorithm::RS384, Algorithm::PS256, Algorithm::ES384] {
        let pem = if alg == Algorithm::ES384 {
            fixture("p384.pem")
        } else {
            private_pem(Algorithm::RS256, 1)
        };
        let err = KeySet::new(alg, pem_source(&pem, &[])).unwrap_err();
        assert!(
            matches!(err, KeyError::UnsupportedAlgorithm(_)),
            "{alg:?}: {err:?}"
        );
    }
}

#[test]
fn debug_output_of_a_key_set_shows_no_key_material() {
    // The exact output: the algorithm and the (public) kids, nothing else, so
    // any key field added to the print fails here.
    for alg in ALL_ALGORITHMS {
        let keys = keys(alg);
        let kids: Vec<&str> = keys.signing_kid().into_iter().collect();
        assert_eq!(
            format!("{keys:?}"),
            format!(
                "KeySet {{ algorithm: {alg:?}, signing_kid: {:?}, verification_kids: {kids:?}, .. }}",
                keys.signing_kid()
            ),
            "{alg:?}"
        );
    }
    // And the HMAC secret in the forms a derived Debug would print it: as
    // text, and as a list of byte values (`[116, 101, 115, 116, ...`).
    let hmac = format!("{:?}", keys(Algorithm::HS256));
    let as_text = SECRET;
    let as_bytes = SECRET.as_bytes()[..4]
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    assert_eq!(as_bytes, "116, 101, 115, 116", "the first bytes, \"test\"");
    assert!(!hmac.contains(as_text), "{hmac}");
    assert!(!hmac.contains(&as_bytes), "{hmac}");
    assert!(!hmac.contains(&as_text[..8]), "{hmac}");
}

/// An HMAC secret is used as the bytes of its text, even when that text is
/// valid base64 (as simplejwt and PyJWT do): decoding it would silently
/// change the key, and every other issuer sharing it would disagree.
#[test]
fn an_hmac_secret_that_is_valid_base64_is_used_as_its_literal_bytes() {
    let secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==";
    let codec =
        codec_of(KeySet::new(Algorithm::HS256, KeySource::Secret(secret.as_bytes())).unwrap());
    let claims = valid_claims(TokenType::Access);
    let token = codec.encode(&claims).unwrap();
    let validation = Validation::new(Algorithm::HS256);

    let literal = jsonwebtoken::decode::<auth::Claims>(
        &token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    );
    assert_eq!(literal.expect("the literal bytes verify").claims, claims);

    let decoded = jsonwebtoken::decode::<auth::Claims>(
        &token,
        &DecodingKey::from_base64_secret(secret).expect("the secret is valid base64"),
        &validation,
    )
    .expect_err("the base64-decoded bytes are another key");
    assert_eq!(
        decoded.kind(),
        &jsonwebtoken::errors::ErrorKind::InvalidSignature
    );
}
