//! The rules behind the signature: arbitrary header and payload bytes, signed
//! correctly with the codecs' own keys, then `TokenCodec::decode`d.
//!
//! `token_decode` can never get past the signature check with bytes it made
//! up; here the target signs whatever the fuzzer wrote, as the holder of the
//! key would, so the header checks, the claims parsing and the time, issuer,
//! audience and type rules all see arbitrary input.
//!
//! Input: the header JSON bytes, a `\n`, then the payload JSON bytes (each
//! base64url-encoded verbatim, so odd whitespace, duplicate keys, escapes and
//! invalid UTF-8 reach the parser as written).
//!
//! Never panics, and every accepted token has UTF-8 JSON objects as header
//! and claims (RFC 7515 §5.2, RFC 7519 §7.2) and obeys the contract (API.md,
//! "Tokens"), judged from what jsonwebtoken parsed and again, independently,
//! from the raw JSON with a last-wins parser (RFC 7515 §4 allows only that
//! reading of duplicate names):
//! `alg` is the configured one, `typ` absent or `JWT`, no `crit`, `kid` absent
//! for HMAC and one of ours otherwise, `exp` present and not past, `nbf` not
//! in the future, `iss`/`aud` as configured (no `aud` when none is), and the
//! token type the expected one.

#![no_main]

use auth::{Algorithm, Claims, TokenCodec, TokenType};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use fuzz_support::{
    sign_message, AUDIENCE, EDDSA, EDDSA_OLD, HS256, HS256_STRICT, ISSUER, STRICT_LEEWAY,
};
use jsonwebtoken::get_current_timestamp;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

struct Rules {
    name: &'static str,
    alg: &'static str,
    kids: Vec<&'static str>,
    issuer: Option<&'static str>,
    audience: Option<&'static str>,
    leeway: u64,
}

fuzz_target!(|data: &[u8]| {
    let (header, payload) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let hmac = sign(&message, &HS256, Algorithm::HS256);
    let ed_current = sign(&message, &EDDSA, Algorithm::EdDSA);
    let ed_previous = sign(&message, &EDDSA_OLD, Algorithm::EdDSA);

    let ed_kids: Vec<&'static str> = [&*EDDSA, &*EDDSA_OLD]
        .iter()
        .map(|c| c.keys().signing_kid().expect("EdDSA has a kid"))
        .collect();
    let default_hmac = Rules {
        name: "HS256",
        alg: "HS256",
        kids: vec![],
        issuer: None,
        audience: None,
        leeway: 0,
    };
    let strict_hmac = Rules {
        name: "HS256 strict",
        alg: "HS256",
        kids: vec![],
        issuer: Some(ISSUER),
        audience: Some(AUDIENCE),
        leeway: STRICT_LEEWAY,
    };
    let eddsa = Rules {
        name: "EdDSA",
        alg: "EdDSA",
        kids: ed_kids,
        issuer: None,
        audience: None,
        leeway: 0,
    };

    check(&hmac, &HS256, &default_hmac, header, payload);
    check(&hmac, &HS256_STRICT, &strict_hmac, header, payload);
    check(&ed_current, &EDDSA, &eddsa, header, payload);
    check(&ed_previous, &EDDSA, &eddsa, header, payload);
});

fn sign(message: &str, codec: &TokenCodec, alg: Algorithm) -> String {
    sign_message(message, codec.keys().signing_key(), alg)
}

fn check(token: &str, codec: &TokenCodec, rules: &Rules, header: &[u8], payload: &[u8]) {
    for expected in [None, Some(TokenType::Access), Some(TokenType::Refresh)] {
        let before = get_current_timestamp();
        let result = codec.decode(token, expected);
        let after = get_current_timestamp();
        if let Ok(claims) = result {
            obeys_contract(
                token,
                rules,
                header,
                payload,
                &claims,
                expected,
                (before, after),
            );
        }
    }
}

/// What serde_json forgives in a value it skips (jsonwebtoken skips unknown
/// header fields and claims) but refuses when it builds a `Value`, and that
/// is still JSON by RFC 8259's grammar: a lone surrogate escape (§8.2), a
/// number beyond `f64` (§6), nesting past serde_json's recursion limit
/// (skipping does not recurse). Invalid UTF-8 is *not* forgiven: RFC 7515
/// §5.2 and RFC 7519 §7.2 require the header and the claims to be UTF-8.
const FORGIVEN_IN_SKIPPED_VALUES: [&str; 4] = [
    "lone leading surrogate in hex escape",
    "unexpected end of hex escape",
    "number out of range",
    "recursion limit exceeded",
];

/// The header or payload as an independent, last-wins JSON reader sees it;
/// `None` when serde_json cannot build it for a reason above. Anything else
/// that is not a JSON object is a finding.
fn raw_object(bytes: &[u8], what: &str, rules: &Rules) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Some(map),
        Err(e)
            if FORGIVEN_IN_SKIPPED_VALUES
                .iter()
                .any(|m| e.to_string().starts_with(m)) =>
        {
            None
        }
        other => panic!(
            "{}: accepted a token whose {what} is not a UTF-8 JSON object: {other:?}",
            rules.name
        ),
    }
}

/// Absent and `null` read the same, as serde's `Option` reads them.
fn field<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.get(name).filter(|v| !v.is_null())
}

fn obeys_contract(
    token: &str,
    rules: &Rules,
    header: &[u8],
    payload: &[u8],
    claims: &Claims,
    expected: Option<TokenType>,
    // The clock read just before and just after the decode.
    (before, after): (u64, u64),
) {
    let name = rules.name;

    // What jsonwebtoken and the codec read, always available.
    let parsed = jsonwebtoken::decode_header(token).expect("an accepted token has a header");
    assert_eq!(format!("{:?}", parsed.alg), rules.alg, "{name}: alg read");
    assert!(
        parsed.crit.is_none(),
        "{name}: accepted crit {:?}",
        parsed.crit
    );
    if let Some(typ) = &parsed.typ {
        assert!(
            typ.eq_ignore_ascii_case("JWT"),
            "{name}: accepted typ {typ:?}"
        );
    }
    match parsed.kid.as_deref() {
        None => assert!(
            rules.kids.is_empty(),
            "{name}: accepted a token without kid"
        ),
        Some(kid) => assert!(rules.kids.contains(&kid), "{name}: accepted kid {kid:?}"),
    }
    assert!(
        u64::try_from(claims.exp).is_ok_and(|exp| exp >= before.saturating_sub(rules.leeway)),
        "{name}: accepted an expired token (exp {}, now {before})",
        claims.exp
    );
    if let Some(want) = rules.issuer {
        assert_eq!(claims.iss.as_deref(), Some(want), "{name}: iss read");
    }
    assert_eq!(claims.aud.as_deref(), rules.audience, "{name}: aud read");
    if let Some(expected) = expected {
        assert_eq!(
            claims.token_type, expected,
            "{name}: accepted the wrong token type"
        );
    }

    // The raw JSON, read independently.
    let (Some(h), Some(p)) = (
        raw_object(header, "header", rules),
        raw_object(payload, "payload", rules),
    ) else {
        return;
    };

    assert_eq!(
        h.get("alg").and_then(Value::as_str),
        Some(rules.alg),
        "{name}: alg"
    );
    if let Some(typ) = field(&h, "typ") {
        assert!(
            typ.as_str().is_some_and(|t| t.eq_ignore_ascii_case("JWT")),
            "{name}: accepted typ {typ}"
        );
    }
    assert!(
        field(&h, "crit").is_none(),
        "{name}: accepted a crit header"
    );
    match field(&h, "kid") {
        None => assert!(
            rules.kids.is_empty(),
            "{name}: accepted a token without kid"
        ),
        Some(kid) => assert!(
            kid.as_str().is_some_and(|k| rules.kids.contains(&k)),
            "{name}: accepted kid {kid}"
        ),
    }

    // exp: present, a whole non-negative number, not past (beyond leeway).
    let exp = field(&p, "exp").and_then(Value::as_u64);
    assert_eq!(
        exp,
        u64::try_from(claims.exp).ok(),
        "{name}: exp {:?} read as {}",
        p.get("exp"),
        claims.exp
    );
    // nbf: absent, or a non-negative number not in the future (beyond leeway).
    // jsonwebtoken rounds a fractional nbf to the nearest second.
    if let Some(nbf) = field(&p, "nbf") {
        let nbf = nbf
            .as_f64()
            .unwrap_or_else(|| panic!("{name}: accepted nbf {nbf}"));
        assert!(
            nbf >= 0.0 && nbf < (after + rules.leeway) as f64 + 0.5,
            "{name}: accepted a token not valid yet (nbf {nbf}, now {after})"
        );
    }

    let issuer = field(&p, "iss");
    if let Some(want) = rules.issuer {
        assert_eq!(issuer.and_then(Value::as_str), Some(want), "{name}: iss");
    }
    let audience = field(&p, "aud");
    match rules.audience {
        Some(want) => assert_eq!(audience.and_then(Value::as_str), Some(want), "{name}: aud"),
        None => assert!(
            audience.is_none(),
            "{name}: accepted aud {audience:?} with none configured"
        ),
    }
    assert_eq!(
        claims.iss.as_deref(),
        issuer.and_then(Value::as_str),
        "{name}: iss read"
    );
    assert_eq!(
        claims.aud.as_deref(),
        audience.and_then(Value::as_str),
        "{name}: aud read"
    );

    let token_type = p.get("token_type").and_then(Value::as_str);
    let read = match claims.token_type {
        TokenType::Access => "access",
        TokenType::Refresh => "refresh",
        TokenType::Sliding => "sliding",
    };
    assert_eq!(token_type, Some(read), "{name}: token_type");
}
