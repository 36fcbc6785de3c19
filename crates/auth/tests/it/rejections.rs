//! One test per rejection rule of the contract's "Tokens" section, and the
//! shape of the tokens we sign.
//!
//! Each forged token is made as an attacker or a foreign issuer would make it:
//! by hand or with jsonwebtoken directly, never through our codec's `encode`.

use auth::{Algorithm, TokenCodec, TokenSettings, TokenType, VerifyError, MAX_TOKEN_BYTES};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{json, Value};
use test_support::codecs::{
    codec, keys, pem_keys, private_pem, public_pem, settings, valid_claims, valid_claims_json,
    ALL_ALGORITHMS, ASYMMETRIC,
};
use test_support::jwt::{b64url, header, now, parts, secret_key, sign};

fn access_claims() -> serde_json::Map<String, Value> {
    valid_claims_json(TokenType::Access)
}

/// A codec whose settings differ from the defaults.
fn codec_with(alg: Algorithm, change: impl FnOnce(&mut TokenSettings)) -> TokenCodec {
    let mut settings = settings(alg);
    change(&mut settings);
    TokenCodec::new(keys(alg), &settings)
}

/// The header our RS256 key set puts on tokens, for forgeries that claim to
/// come from our key.
fn our_rs256_header() -> Header {
    keys(Algorithm::RS256).header()
}

/// Sanity check for every forgery below: the same recipe with the right
/// ingredients passes, so each refusal is due to the one thing changed.
#[test]
fn the_recipe_of_the_forgeries_passes_when_nothing_is_wrong() {
    let token = sign(
        &Header::new(Algorithm::HS256),
        &access_claims(),
        &secret_key(),
    );
    assert!(codec(Algorithm::HS256)
        .decode(&token, Some(TokenType::Access))
        .is_ok());
    let rs = EncodingKey::from_rsa_pem(&private_pem(Algorithm::RS256, 1)).unwrap();
    let token = sign(&our_rs256_header(), &access_claims(), &rs);
    assert!(codec(Algorithm::RS256)
        .decode(&token, Some(TokenType::Access))
        .is_ok());
}

// --- algorithm --------------------------------------------------------------

#[test]
fn alg_none_with_an_empty_signature_is_refused() {
    let payload = serde_json::to_vec(&access_claims()).unwrap();
    for header in [
        r#"{"alg":"none","typ":"JWT"}"#,
        r#"{"alg":"None"}"#,
        r#"{"alg":"NONE","typ":"JWT"}"#,
    ] {
        let token = format!("{}.{}.", b64url(header), b64url(&payload));
        for alg in ALL_ALGORITHMS {
            let err = codec(alg).decode(&token, None).unwrap_err();
            assert!(
                matches!(err, VerifyError::Malformed | VerifyError::Algorithm),
                "{alg:?} codec on {header}: {err:?}"
            );
        }
    }
}

#[test]
fn another_hmac_algorithm_with_the_right_secret_is_refused() {
    let token = sign(
        &Header::new(Algorithm::HS384),
        &access_claims(),
        &secret_key(),
    );
    assert_eq!(
        codec(Algorithm::HS256).decode(&token, None),
        Err(VerifyError::Algorithm)
    );
    let token = sign(
        &Header::new(Algorithm::HS256),
        &access_claims(),
        &secret_key(),
    );
    assert_eq!(
        codec(Algorithm::HS512).decode(&token, None),
        Err(VerifyError::Algorithm)
    );
}

/// The classic confusion: the attacker knows our RSA public key and uses its
/// PEM text as an HMAC secret, hoping the verifier feeds the same bytes to HMAC.
#[test]
fn hs256_signed_with_our_public_key_is_refused_by_the_rs256_codec() {
    let public = public_pem(Algorithm::RS256, 1);
    let key = EncodingKey::from_secret(&public);
    let mut header = Header::new(Algorithm::HS256);
    for kid in [
        None,
        Some(keys(Algorithm::RS256).signing_kid().unwrap().to_owned()),
    ] {
        header.kid = kid;
        let token = sign(&header, &access_claims(), &key);
        assert_eq!(
            codec(Algorithm::RS256).decode(&token, None),
            Err(VerifyError::Algorithm),
            "{header:?}"
        );
    }
}

#[test]
fn a_token_of_another_asymmetric_algorithm_is_refused() {
    // ES256 signed by a valid EC key, presented to the RS256 codec with our kid
    let ec = EncodingKey::from_ec_pem(&private_pem(Algorithm::ES256, 1)).unwrap();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = keys(Algorithm::RS256).signing_kid().map(str::to_owned);
    let token = sign(&header, &access_claims(), &ec);
    assert_eq!(
        codec(Algorithm::RS256).decode(&token, None),
        Err(VerifyError::Algorithm)
    );
    // and an RS256 token (our own!) to the ES256 codec
    let token = codec(Algorithm::RS256)
        .encode(&valid_claims(TokenType::Access))
        .unwrap();
    assert_eq!(
        codec(Algorithm::ES256).decode(&token, None),
        Err(VerifyError::Algorithm)
    );
}

// --- signature and keys -----------------------------------------------------

#[test]
fn a_bad_signature_is_refused() {
    let token = sign(
        &Header::new(Algorithm::HS256),
        &access_claims(),
        &EncodingKey::from_secret(b"another secret of at least 32 bytes"),
    );
    assert_eq!(
        codec(Algorithm::HS256).decode(&token, None),
        Err(VerifyError::Signature)
    );

    // our kid, someone else's RSA key
    let other = EncodingKey::from_rsa_pem(&private_pem(Algorithm::RS256, 2)).unwrap();
    let token = sign(&our_rs256_header(), &access_claims(), &other);
    assert_eq!(
        codec(Algorithm::RS256).decode(&token, None),
        Err(VerifyError::Signature)
    );

    // a valid signature moved onto other claims
    let genuine = codec(Algorithm::HS256)
        .encode(&valid_claims(TokenType::Access))
        .unwrap();
    let mut admin = access_claims();
    admin.insert("admin".into(), json!(true));
    let forged_payload = b64url(serde_json::to_vec(&admin).unwrap());
    let [header, _, signature] = parts(&genuine);
    let spliced = format!("{header}.{forged_payload}.{signature}");
    assert_eq!(
        codec(Algorithm::HS256).decode(&spliced, None),
        Err(VerifyError::Signature)
    );
}

#[test]
fn an_unknown_kid_is_refused() {
    for alg in ASYMMETRIC {
        // key 2 signs under its own (correct) kid, but the codec only knows key 1
        let stranger = pem_keys(alg, 2, &[]).header();
        let token = jsonwebtoken::encode(
            &stranger,
            &valid_claims(TokenType::Access),
            pem_keys(alg, 2, &[]).signing_key(),
        )
        .unwrap();
        assert_eq!(
            codec(alg).decode(&token, None),
            Err(VerifyError::UnknownKey),
            "{alg:?}"
        );

        // and no kid at all: asymmetric tokens must name one of our keys
        let mut header = keys(alg).header();
        header.kid = None;
        let token = jsonwebtoken::encode(
            &header,
            &valid_claims(TokenType::Access),
            keys(alg).signing_key(),
        )
        .unwrap();
        assert_eq!(
            codec(alg).decode(&token, None),
            Err(VerifyError::UnknownKey),
            "{alg:?} without kid"
        );
    }
}

#[test]
fn a_kid_on_an_hmac_token_is_refused() {
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        for kid in ["any", ""] {
            let mut header = Header::new(alg);
            header.kid = Some(kid.into());
            let token = sign(&header, &access_claims(), &secret_key());
            assert_eq!(
                codec(alg).decode(&token, None),
                Err(VerifyError::UnknownKey),
                "{alg:?} kid {kid:?}"
            );
        }
    }
}

/// An attacker's ES256 key, and its public JWK as they would embed it.
fn attacker() -> (EncodingKey, Jwk) {
    let key = EncodingKey::from_ec_pem(&private_pem(Algorithm::ES256, 2)).unwrap();
    let jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap();
    (key, jwk)
}

#[test]
fn keys_embedded_in_the_header_are_never_used() {
    let ours = codec(Algorithm::ES256);
    let our_kid = ours.keys().signing_kid().unwrap().to_owned();
    let (key, jwk) = attacker();
    let attacker_kid = jwk
        .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
        .unwrap();

    let es256 = || Header::new(Algorithm::ES256);
    let cases = [
        (
            "jwk, no kid",
            Header {
                jwk: Some(jwk.clone()),
                ..es256()
            },
            VerifyError::UnknownKey,
        ),
        (
            "jwk with its own kid",
            Header {
                jwk: Some(jwk.clone()),
                kid: Some(attacker_kid),
                ..es256()
            },
            VerifyError::UnknownKey,
        ),
        (
            "jku",
            Header {
                jku: Some("https://attacker.example/jwks.json".into()),
                ..es256()
            },
            VerifyError::UnknownKey,
        ),
        (
            "x5u",
            Header {
                x5u: Some("https://attacker.example/cert.pem".into()),
                ..es256()
            },
            VerifyError::UnknownKey,
        ),
        // under our kid the signature is checked against our key, and fails
        (
            "jwk under our kid",
            Header {
                jwk: Some(jwk),
                kid: Some(our_kid),
                ..es256()
            },
            VerifyError::Signature,
        ),
    ];
    for (what, header, expected) in cases {
        let token = sign(&header, &access_claims(), &key);
        assert_eq!(ours.decode(&token, None), Err(expected), "{what}");
    }

    // HMAC: an embedded symmetric key is ignored just the same
    let mut header = Header::new(Algorithm::HS256);
    let other_secret = b"the attacker's own secret, 32 bytes+";
    header.jwk = Some(
        Jwk::from_encoding_key(&EncodingKey::from_secret(other_secret), Algorithm::HS256).unwrap(),
    );
    let token = sign(
        &header,
        &access_claims(),
        &EncodingKey::from_secret(other_secret),
    );
    assert_eq!(
        codec(Algorithm::HS256).decode(&token, None),
        Err(VerifyError::Signature)
    );
}

// --- time -------------------------------------------------------------------

fn with_claim(key: &str, value: Value) -> serde_json::Map<String, Value> {
    let mut c = access_claims();
    c.insert(key.into(), value);
    c
}

fn hs256_token(claims: &serde_json::Map<String, Value>) -> String {
    sign(&Header::new(Algorithm::HS256), claims, &secret_key())
}

// Margins of several seconds around each bound keep these independent of the
// second the test happens to run in.

#[test]
fn an_expired_token_is_refused_with_no_default_leeway() {
    // jsonwebtoken's own default would forgive 60 s; the contract's is 0
    let codec = codec(Algorithm::HS256);
    let token = hs256_token(&with_claim("exp", json!(now() - 10)));
    assert_eq!(codec.decode(&token, None), Err(VerifyError::Expired));
}

#[test]
fn exp_is_checked_against_the_configured_leeway() {
    let codec = codec_with(Algorithm::HS256, |s| s.leeway = 30);
    let beyond = hs256_token(&with_claim("exp", json!(now() - 40)));
    assert_eq!(codec.decode(&beyond, None), Err(VerifyError::Expired));
    let within = hs256_token(&with_claim("exp", json!(now() - 20)));
    assert!(
        codec.decode(&within, None).is_ok(),
        "20 s past exp is within 30 s of leeway"
    );
}

/// jsonwebtoken computes `now - leeway` in u64: a leeway past the epoch
/// would underflow. The codec takes at most a day, whatever it is given.
#[test]
fn a_leeway_beyond_a_day_is_taken_as_a_day() {
    let codec = codec_with(Algorithm::HS256, |s| s.leeway = u64::MAX);
    let day = i64::try_from(auth::MAX_LEEWAY_SECONDS).unwrap();
    let beyond = hs256_token(&with_claim("exp", json!(now() - day - 10)));
    assert_eq!(codec.decode(&beyond, None), Err(VerifyError::Expired));
    let within = hs256_token(&with_claim("exp", json!(now() - day + 10)));
    assert!(codec.decode(&within, None).is_ok());
}

#[test]
fn nbf_in_the_future_is_checked_against_the_configured_leeway() {
    let strict = codec(Algorithm::HS256);
    let soon = hs256_token(&with_claim("nbf", json!(now() + 10)));
    assert_eq!(
        strict.decode(&soon, None),
        Err(VerifyError::NotYetValid),
        "nbf is checked at all"
    );

    let lenient = codec_with(Algorithm::HS256, |s| s.leeway = 30);
    let beyond = hs256_token(&with_claim("nbf", json!(now() + 40)));
    assert_eq!(lenient.decode(&beyond, None), Err(VerifyError::NotYetValid));
    let within = hs256_token(&with_claim("nbf", json!(now() + 20)));
    assert!(
        lenient.decode(&within, None).is_ok(),
        "20 s early is within 30 s of leeway"
    );
    let past = hs256_token(&with_claim("nbf", json!(now() - 10)));
    assert!(strict.decode(&past, None).is_ok());
}

#[test]
fn a_token_without_exp_is_refused() {
    let mut c = access_claims();
    c.remove("exp");
    // Always `Malformed`, never `MissingClaim("exp")`: jsonwebtoken
    // deserializes our `Claims`, whose `exp` is not optional, before it checks
    // the required claims, and that serde error maps to `Malformed`.
    assert_eq!(
        codec(Algorithm::HS256).decode(&hs256_token(&c), None),
        Err(VerifyError::Malformed)
    );
}

// --- issuer and audience ----------------------------------------------------

const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "https://api.example.com";

fn configured() -> TokenCodec {
    codec_with(Algorithm::HS256, |s| {
        s.issuer = Some(ISSUER.into());
        s.audience = Some(AUDIENCE.into());
    })
}

fn iss_aud(iss: Option<&str>, aud: Option<&str>) -> String {
    let mut c = access_claims();
    if let Some(iss) = iss {
        c.insert("iss".into(), json!(iss));
    }
    if let Some(aud) = aud {
        c.insert("aud".into(), json!(aud));
    }
    hs256_token(&c)
}

#[test]
fn a_configured_issuer_and_audience_are_accepted() {
    let claims = configured()
        .decode(&iss_aud(Some(ISSUER), Some(AUDIENCE)), None)
        .unwrap();
    assert_eq!(
        (claims.iss.as_deref(), claims.aud.as_deref()),
        (Some(ISSUER), Some(AUDIENCE))
    );
}

#[test]
fn a_wrong_or_missing_issuer_is_refused_when_configured() {
    let codec = configured();
    assert_eq!(
        codec.decode(&iss_aud(Some("https://evil.example"), Some(AUDIENCE)), None),
        Err(VerifyError::Issuer)
    );
    assert_eq!(
        codec.decode(&iss_aud(None, Some(AUDIENCE)), None),
        Err(VerifyError::MissingClaim("iss".into()))
    );
}

#[test]
fn a_wrong_or_missing_audience_is_refused_when_configured() {
    let codec = configured();
    assert_eq!(
        codec.decode(&iss_aud(Some(ISSUER), Some("https://other.example")), None),
        Err(VerifyError::Audience)
    );
    assert_eq!(
        codec.decode(&iss_aud(Some(ISSUER), None), None),
        Err(VerifyError::MissingClaim("aud".into()))
    );
}

// --- token type -------------------------------------------------------------

#[test]
fn a_refresh_token_is_not_an_access_token_and_the_reverse() {
    let codec = codec(Algorithm::HS256);
    let access = codec.encode(&valid_claims(TokenType::Access)).unwrap();
    let refresh = codec.encode(&valid_claims(TokenType::Refresh)).unwrap();
    assert_eq!(
        codec.decode(&refresh, Some(TokenType::Access)),
        Err(VerifyError::WrongType)
    );
    assert_eq!(
        codec.decode(&access, Some(TokenType::Refresh)),
        Err(VerifyError::WrongType)
    );
    // where no type is expected (verify), both pass
    assert_eq!(
        codec.decode(&access, None).unwrap().token_type,
        TokenType::Access
    );
    assert_eq!(
        codec.decode(&refresh, None).unwrap().token_type,
        TokenType::Refresh
    );
    assert_eq!(
        codec
            .decode(&access, Some(TokenType::Access))
            .unwrap()
            .token_type,
        TokenType::Access
    );
}

#[test]
fn an_unknown_token_type_is_refused() {
    let token = hs256_token(&with_claim("token_type", json!("id")));
    assert_eq!(
        codec(Algorithm::HS256).decode(&token, None),
        Err(VerifyError::Malformed)
    );
}

// --- header parameters --------------------------------------------------------

#[test]
fn a_crit_header_is_refused() {
    let mut header = Header::new(Algorithm::HS256);
    header.crit = Some(vec!["exp".into()]);
    let token = sign(&header, &access_claims(), &secret_key());
    assert_eq!(
        codec(Algorithm::HS256).decode(&token, None),
        Err(VerifyError::Malformed)
    );
    // even an empty list: RFC 7515 §4.1.11 forbids it
    header.crit = Some(vec![]);
    let token = sign(&header, &access_claims(), &secret_key());
    assert_eq!(
        codec(Algorithm::HS256).decode(&token, None),
        Err(VerifyError::Malformed)
    );
}

#[test]
fn a_typ_other_than_jwt_is_refused() {
    for typ in ["JWS", "at+jwt", "JOSE", "", "JWT "] {
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(typ.into());
        let token = sign(&header, &access_claims(), &secret_key());
        assert_eq!(
            codec(Algorithm::HS256).decode(&token, None),
            Err(VerifyError::Malformed),
            "typ {typ:?}"
        );
    }
}

#[test]
fn an_oversized_token_is_refused_before_parsing() {
    // validly signed, just too big
    let token = hs256_token(&with_claim("username", json!("x".repeat(MAX_TOKEN_BYTES))));
    assert!(token.len() > MAX_TOKEN_BYTES);
    assert_eq!(
        codec(Algorithm::HS256).decode(&token, None),
        Err(VerifyError::Malformed)
    );
}

#[test]
fn garbage_is_refused() {
    let hs = codec(Algorithm::HS256);
    for garbage in [
        "",
        ".",
        "..",
        "a.b.c",
        "not a token",
        "eyJhbGciOiJIUzI1NiJ9..",
        "a.b.c.d.e",
    ] {
        assert!(hs.decode(garbage, None).is_err(), "{garbage:?}");
    }
    let rs = codec(Algorithm::RS256);
    for garbage in ["", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30."] {
        assert!(rs.decode(garbage, None).is_err(), "{garbage:?}");
    }
}

// --- what we sign ---------------------------------------------------------------

#[test]
fn issued_headers_carry_alg_typ_and_for_asymmetric_keys_the_kid() {
    let names = ["HS256", "HS384", "HS512", "RS256", "ES256", "EdDSA"];
    for (alg_name, alg) in names.into_iter().zip(ALL_ALGORITHMS) {
        let codec = codec(alg);
        let token = codec.encode(&valid_claims(TokenType::Access)).unwrap();
        let header = header(&token);
        assert_eq!(header.get("alg"), Some(&json!(alg_name)), "{alg:?}");
        assert_eq!(header.get("typ"), Some(&json!("JWT")), "{alg:?}");
        let expected_keys: &[&str] = match codec.keys().signing_kid() {
            Some(kid) => {
                assert_eq!(header.get("kid"), Some(&json!(kid)));
                &["alg", "kid", "typ"]
            }
            None => &["alg", "typ"],
        };
        let mut names: Vec<&str> = header
            .as_object()
            .expect("a JSON object")
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        assert_eq!(names, expected_keys, "{alg:?}: nothing else in the header");
    }
    assert_eq!(
        header(
            &codec(Algorithm::EdDSA)
                .encode(&valid_claims(TokenType::Access))
                .unwrap()
        )["alg"],
        "EdDSA"
    );
}

#[test]
fn an_asymmetric_key_set_hands_out_no_key_without_a_kid() {
    // The RS256 key set never falls back to a default key, and what it hands
    // out for our kid is an RSA key, never something HMAC could use.
    let keys = keys(Algorithm::RS256);
    assert!(
        keys.verification_key(None).is_none(),
        "asymmetric key sets need a kid"
    );
    let kid = keys.signing_kid().unwrap().to_owned();
    let key = keys.verification_key(Some(&kid)).unwrap();
    assert_eq!(key.family(), jsonwebtoken::AlgorithmFamily::Rsa);
}
