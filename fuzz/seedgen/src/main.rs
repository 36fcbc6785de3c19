//! Writes the seed corpus of every fuzz target into `fuzz/corpus/<target>/`,
//! replacing what is there: run it after changing the claims, the keys or the
//! seeds below, and commit the result.
//!
//!     cargo run --manifest-path fuzz/Cargo.toml -p seedgen
//!
//! Seeds that verify are signed with the targets' own codecs
//! (`fuzz_support`), through `TokenCodec::encode`, so `token_decode` may
//! demand that every token it accepts is byte-equal to a re-encoding. Tokens
//! that are *not* the codec's output (extra header fields, other algorithms)
//! are signed with a key the targets do not trust, or not at all: a seed
//! signed with a trusted key but not by the codec would be a false finding.

use std::fs;
use std::path::{Path, PathBuf};

use auth::{Algorithm, TokenType};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use fuzz_support::{
    claims, sign_message, strict_claims, EDDSA, EDDSA_OLD, ES256, ES256_FOREIGN, FAR_EXP, HS256,
    HS256_STRICT, IAT,
};
use jsonwebtoken::EncodingKey;
use serde_json::{json, Value};

const TARGETS: [&str; 5] = [
    "token_decode",
    "token_claims",
    "bearer_header",
    "json_bodies",
    "admin_page",
];

/// A secret the targets do not know.
const OTHER_SECRET: &[u8] = b"not the fuzz targets' secret, 40 bytes..";

struct Corpus {
    dir: PathBuf,
}

impl Corpus {
    fn new(root: &Path, target: &str) -> Self {
        Self {
            dir: root.join(target),
        }
    }

    fn put(&self, name: &str, bytes: impl AsRef<[u8]>) {
        fs::write(self.dir.join(name), bytes).expect("writing a seed");
    }
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `header.payload.signature` with any JSON, signed with any key (or not).
fn raw_token(header: &Value, payload: &Value, key: Option<(&EncodingKey, Algorithm)>) -> String {
    let message = format!("{}.{}", b64(header.to_string()), b64(payload.to_string()));
    match key {
        Some((key, alg)) => sign_message(&message, key, alg),
        None => format!("{message}."),
    }
}

fn claims_json(token_type: TokenType) -> Value {
    serde_json::to_value(claims(token_type, FAR_EXP)).expect("claims")
}

/// Flip the unused low bits of the last base64url character of the
/// signature: the same signature bytes in a non-canonical spelling.
fn non_canonical_tail(token: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let (message, signature) = token.rsplit_once('.').expect("dots");
    let unused_bits = match signature.len() % 4 {
        2 => 4,
        3 => 2,
        _ => panic!("signature length {} has no unused bits", signature.len()),
    };
    let mut sig = signature.as_bytes().to_vec();
    let last = sig.last_mut().expect("non-empty signature");
    let index = ALPHABET.iter().position(|c| c == last).expect("base64url");
    *last = ALPHABET[index | ((1 << unused_bits) - 1)];
    let sig = String::from_utf8(sig).expect("ASCII");
    assert_ne!(sig, signature, "the tail already had its unused bits set");
    format!("{message}.{sig}")
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    for target in TARGETS {
        let dir = root.join(target);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("corpus directory");
    }
    token_decode(&Corpus::new(&root, "token_decode"));
    token_claims(&Corpus::new(&root, "token_claims"));
    bearer_header(&Corpus::new(&root, "bearer_header"));
    json_bodies(&Corpus::new(&root, "json_bodies"));
    admin_page(&Corpus::new(&root, "admin_page"));
    for target in TARGETS {
        let n = fs::read_dir(root.join(target)).expect("corpus").count();
        println!("{target}: {n} seeds");
    }
}

fn hs256_access() -> String {
    HS256
        .encode(&claims(TokenType::Access, FAR_EXP))
        .expect("sign")
}

fn token_decode(c: &Corpus) {
    use TokenType::{Access, Refresh};
    // Valid tokens of both types, each algorithm, each signing key.
    let valid = hs256_access();
    c.put("hs256-access.jwt", &valid);
    c.put(
        "hs256-refresh.jwt",
        HS256.encode(&claims(Refresh, FAR_EXP)).unwrap(),
    );
    c.put(
        "hs256-strict-access.jwt",
        HS256_STRICT
            .encode(&strict_claims(Access, FAR_EXP))
            .unwrap(),
    );
    c.put(
        "hs256-strict-refresh.jwt",
        HS256_STRICT
            .encode(&strict_claims(Refresh, FAR_EXP))
            .unwrap(),
    );
    c.put(
        "hs256-expired.jwt",
        HS256.encode(&claims(Access, IAT + 300)).unwrap(),
    );
    let eddsa = EDDSA.encode(&claims(Access, FAR_EXP)).unwrap();
    c.put("eddsa-access.jwt", &eddsa);
    c.put(
        "eddsa-refresh.jwt",
        EDDSA.encode(&claims(Refresh, FAR_EXP)).unwrap(),
    );
    c.put(
        "eddsa-previous-key.jwt",
        EDDSA_OLD.encode(&claims(Access, FAR_EXP)).unwrap(),
    );
    c.put(
        "eddsa-expired.jwt",
        EDDSA.encode(&claims(Refresh, IAT + 86_400)).unwrap(),
    );
    c.put(
        "es256-access.jwt",
        ES256.encode(&claims(Access, FAR_EXP)).unwrap(),
    );
    c.put(
        "es256-refresh.jwt",
        ES256.encode(&claims(Refresh, FAR_EXP)).unwrap(),
    );

    // Near misses of a valid token.
    c.put("hs256-sig-trailing-bits.jwt", non_canonical_tail(&valid));
    c.put("eddsa-sig-trailing-bits.jwt", non_canonical_tail(&eddsa));
    c.put("hs256-sig-padded.jwt", format!("{valid}="));
    c.put("hs256-leading-space.jwt", format!(" {valid}"));
    c.put("hs256-trailing-newline.jwt", format!("{valid}\n"));
    c.put("hs256-four-parts.jwt", format!("{valid}.{}", b64("x")));
    let (message, _) = valid.rsplit_once('.').unwrap();
    c.put("hs256-no-signature.jwt", format!("{message}."));
    c.put("two-parts.jwt", message);
    let mut invalid_utf8 = valid.clone().into_bytes();
    invalid_utf8[10] = 0xff;
    c.put("hs256-invalid-utf8.jwt", invalid_utf8);

    // Attacks of RFC 8725.
    let payload = claims_json(Access);
    c.put(
        "alg-none.jwt",
        raw_token(&json!({"alg": "none", "typ": "JWT"}), &payload, None),
    );
    c.put(
        "alg-none-lowercase.jwt",
        raw_token(&json!({"alg": "nOnE"}), &payload, None),
    );
    let ed_kid = EDDSA.keys().signing_kid().unwrap();
    let public_pem = fuzz_support::ED25519_2_PUB;
    c.put(
        "hs256-with-public-key-as-secret.jwt",
        raw_token(
            &json!({"alg": "HS256", "typ": "JWT", "kid": ed_kid}),
            &payload,
            Some((&EncodingKey::from_secret(public_pem), Algorithm::HS256)),
        ),
    );
    let es_kid = ES256.keys().signing_kid().unwrap();
    c.put(
        "es256-foreign-key-our-kid.jwt",
        raw_token(
            &json!({"alg": "ES256", "typ": "JWT", "kid": es_kid}),
            &payload,
            Some((ES256_FOREIGN.keys().signing_key(), Algorithm::ES256)),
        ),
    );
    c.put(
        "eddsa-jwk-header.jwt",
        raw_token(
            &json!({"alg": "EdDSA", "kid": "attacker", "jwk": serde_json::to_value(&EDDSA_OLD.keys().jwks().keys[0]).unwrap()}),
            &payload,
            Some((EDDSA_OLD.keys().signing_key(), Algorithm::EdDSA)),
        ),
    );
    let other = EncodingKey::from_secret(OTHER_SECRET);
    c.put(
        "hs256-other-secret.jwt",
        raw_token(
            &json!({"alg": "HS256", "typ": "JWT"}),
            &payload,
            Some((&other, Algorithm::HS256)),
        ),
    );
    c.put(
        "hs512-header.jwt",
        raw_token(
            &json!({"alg": "HS512", "typ": "JWT"}),
            &payload,
            Some((&other, Algorithm::HS512)),
        ),
    );
    // Long headers: one just under the 8 KiB limit, one over it.
    for (name, len) in [("long-header-7k.jwt", 7_000), ("long-header-9k.jwt", 9_000)] {
        let header = json!({"alg": "HS256", "typ": "JWT", "x": "a".repeat(len)});
        c.put(
            name,
            raw_token(&header, &payload, Some((&other, Algorithm::HS256))),
        );
    }
    c.put("empty.jwt", "");
    c.put("dots.jwt", "..");
    c.put("not-base64.jwt", "a*b.c d.e\u{e9}f");
}

/// `header\npayload` lines for `token_claims`.
fn token_claims(c: &Corpus) {
    let ed_kid = EDDSA.keys().signing_kid().unwrap();
    let old_kid = EDDSA_OLD.keys().signing_kid().unwrap();
    let hs = r#"{"typ":"JWT","alg":"HS256"}"#;
    let access = serde_json::to_string(&claims(TokenType::Access, FAR_EXP)).unwrap();
    let refresh = serde_json::to_string(&claims(TokenType::Refresh, FAR_EXP)).unwrap();
    let strict = serde_json::to_string(&strict_claims(TokenType::Access, FAR_EXP)).unwrap();
    let line = |header: &str, payload: &str| format!("{header}\n{payload}");
    let with = |extra: Value| {
        let mut p = claims_json(TokenType::Access);
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        p.to_string()
    };
    let without = |field: &str| {
        let mut p = claims_json(TokenType::Access);
        p.as_object_mut().unwrap().remove(field);
        p.to_string()
    };

    c.put("hs256-access", line(hs, &access));
    c.put("hs256-refresh", line(hs, &refresh));
    c.put("hs256-strict", line(hs, &strict));
    c.put(
        "eddsa-kid",
        line(
            &json!({"typ": "JWT", "alg": "EdDSA", "kid": ed_kid}).to_string(),
            &access,
        ),
    );
    c.put(
        "eddsa-previous-kid",
        line(
            &json!({"alg": "EdDSA", "kid": old_kid}).to_string(),
            &refresh,
        ),
    );
    c.put("eddsa-no-kid", line(r#"{"alg":"EdDSA"}"#, &access));
    c.put(
        "hs256-with-kid",
        line(&json!({"alg": "HS256", "kid": ed_kid}).to_string(), &access),
    );
    c.put(
        "hs256-kid-null",
        line(r#"{"alg":"HS256","kid":null}"#, &access),
    );
    c.put("alg-none", line(r#"{"alg":"none"}"#, &access));
    c.put("alg-lowercase", line(r#"{"alg":"hs256"}"#, &access));
    c.put(
        "alg-duplicate",
        line(r#"{"alg":"HS256","alg":"none"}"#, &access),
    );
    c.put(
        "alg-escaped",
        line(r#"{"\u0061lg":"HS\u0032\u0035\u0036"}"#, &access),
    );
    c.put(
        "typ-lowercase",
        line(r#"{"alg":"HS256","typ":"jwt"}"#, &access),
    );
    c.put(
        "typ-at-jwt",
        line(r#"{"alg":"HS256","typ":"at+jwt"}"#, &access),
    );
    c.put("typ-number", line(r#"{"alg":"HS256","typ":1}"#, &access));
    c.put(
        "crit",
        line(r#"{"alg":"HS256","crit":["exp"],"exp":1}"#, &access),
    );
    c.put("crit-empty", line(r#"{"alg":"HS256","crit":[]}"#, &access));
    c.put(
        "jku-x5u",
        line(
            r#"{"alg":"HS256","jku":"https://evil.test/jwks","x5u":"https://evil.test/x"}"#,
            &access,
        ),
    );
    c.put("header-array", line(r#"[{"alg":"HS256"}]"#, &access));
    c.put(
        "header-whitespace",
        line(" {\t\"alg\" : \"HS256\" } ", &access),
    );
    c.put("header-bom", line("\u{feff}{\"alg\":\"HS256\"}", &access));
    c.put("exp-missing", line(hs, &without("exp")));
    c.put("exp-null", line(hs, &with(json!({"exp": null}))));
    c.put("exp-past", line(hs, &with(json!({"exp": IAT}))));
    c.put("exp-zero", line(hs, &with(json!({"exp": 0}))));
    c.put("exp-negative", line(hs, &with(json!({"exp": -1}))));
    c.put(
        "exp-float",
        line(hs, &with(json!({"exp": 4_102_444_800.5}))),
    );
    c.put("exp-string", line(hs, &with(json!({"exp": "4102444800"}))));
    c.put("exp-u64-max", line(hs, &with(json!({"exp": u64::MAX}))));
    c.put("exp-i64-max", line(hs, &with(json!({"exp": i64::MAX}))));
    c.put(
        "exp-huge-literal",
        line(hs, &access.replace("4102444800", "1e400")),
    );
    c.put(
        "exp-duplicate",
        line(hs, &access.replacen('{', r#"{"exp":1,"#, 1)),
    );
    c.put("nbf-future", line(hs, &with(json!({"nbf": FAR_EXP}))));
    c.put("nbf-past", line(hs, &with(json!({"nbf": IAT}))));
    c.put("nbf-float", line(hs, &with(json!({"nbf": 1.5}))));
    c.put("nbf-negative", line(hs, &with(json!({"nbf": -5}))));
    c.put("nbf-string", line(hs, &with(json!({"nbf": "soon"}))));
    c.put(
        "nbf-duplicate",
        line(
            hs,
            &access.replacen('{', r#"{"nbf":1,"nbf":99999999999,"#, 1),
        ),
    );
    c.put(
        "aud-unconfigured",
        line(hs, &with(json!({"aud": "example-api"}))),
    );
    c.put(
        "aud-array",
        line(hs, &with(json!({"aud": ["example-api", "other"]}))),
    );
    c.put("aud-null", line(hs, &with(json!({"aud": null}))));
    c.put(
        "iss-wrong",
        line(hs, &strict.replace("auth.example.test", "evil.test")),
    );
    c.put(
        "iss-array",
        line(
            hs,
            &with(json!({"iss": ["https://auth.example.test"], "aud": "example-api"})),
        ),
    );
    c.put(
        "token-type-other",
        line(hs, &with(json!({"token_type": "id"}))),
    );
    c.put(
        "token-type-upper",
        line(hs, &with(json!({"token_type": "Access"}))),
    );
    c.put(
        "sub-number",
        line(hs, &with(json!({"sub": 42, "user_id": 42}))),
    );
    c.put(
        "unicode-claims",
        line(
            hs,
            &with(json!({"username": "Zoë 用户 😀", "jti": "\u{0}\u{ffff}"})),
        ),
    );
    c.put(
        "nested-extra",
        line(
            hs,
            &with(json!({"x": [[[[[[[[[[{"y": [1, 2, {"z": null}]}]]]]]]]]]]})),
        ),
    );
    c.put("payload-not-object", line(hs, "\"access\""));
    c.put("payload-empty", line(hs, ""));
    c.put(
        "payload-invalid-utf8",
        [hs.as_bytes(), b"\n{\"username\":\"\xff\xfe\"}"].concat(),
    );
    // Values serde_json skips in unknown claims: invalid UTF-8 (refused since
    // the fuzzer found it accepted), and what is still JSON by RFC 8259.
    let unknown = |value: &str| access.replacen('{', &format!(r#"{{"x":{value},"#), 1);
    c.put(
        "unknown-claim-invalid-utf8",
        [
            hs.as_bytes(),
            b"\n{\"x\":\"alice\xff\xfe\",",
            &access.as_bytes()[1..],
        ]
        .concat(),
    );
    c.put("unknown-claim-huge-number", line(hs, &unknown("1e400")));
    c.put(
        "unknown-claim-lone-surrogate",
        line(hs, &unknown(r#""\ud800""#)),
    );
    c.put(
        "unknown-claim-deep",
        line(
            hs,
            &unknown(&format!("{}{}", "[".repeat(300), "]".repeat(300))),
        ),
    );
}

fn bearer_header(c: &Corpus) {
    let token = hs256_access();
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        ("bearer-token", format!("Bearer {token}").into_bytes()),
        ("lowercase", b"bearer abc.def.ghi".to_vec()),
        ("uppercase-padded", b"BEARER   abc.def.ghi  ".to_vec()),
        ("tab-separated", b"Bearer\tabc.def.ghi".to_vec()),
        ("crlf", b"\tBearer\r\nabc".to_vec()),
        ("bearer-only", b"Bearer".to_vec()),
        ("bearer-space", b"Bearer ".to_vec()),
        ("two-tokens", b"Bearer a b".to_vec()),
        ("basic", b"Basic dXNlcjpwYXNz".to_vec()),
        ("token-scheme", b"Token abc".to_vec()),
        ("no-space", b"Bearerabc".to_vec()),
        ("non-ascii", "Bearer café".as_bytes().to_vec()),
        ("invalid-utf8", b"Bearer \xff\xfe".to_vec()),
        ("vertical-tab", b"Bearer a\x0bb".to_vec()),
        ("nul", b"Bearer a\x00b".to_vec()),
        ("form-feed", b"Bearer\x0ca".to_vec()),
        ("b64token-chars", b"Bearer aA0-._~+/==".to_vec()),
        ("long", format!("Bearer {}", "a".repeat(5000)).into_bytes()),
    ];
    for (name, bytes) in seeds {
        c.put(name, bytes);
    }
}

fn json_bodies(c: &Corpus) {
    let token = hs256_access();
    let seeds: Vec<(&str, String)> = vec![
        ("login", json!({"username": "alice", "password": "correct horse battery staple"}).to_string()),
        ("login-missing-password", json!({"username": "alice"}).to_string()),
        ("login-wrong-types", json!({"username": 1, "password": ["x"]}).to_string()),
        ("login-null-blank", json!({"username": null, "password": ""}).to_string()),
        ("refresh", json!({"refresh": token}).to_string()),
        ("verify", json!({"token": token}).to_string()),
        ("register", json!({"username": "bob", "password": "Tr0ub4dor&3-horse", "email": "bob@example.com"}).to_string()),
        ("register-unicode", json!({"username": "Zoë_用户", "password": "éééééééé", "email": null}).to_string()),
        ("register-emoji", json!({"username": "emoji😀", "password": "😀".repeat(19), "email": "a b@c"}).to_string()),
        ("register-common", json!({"username": "carol", "password": "password1", "email": ""}).to_string()),
        ("register-similar", json!({"username": "AliceInChains", "password": "aliceinchains"}).to_string()),
        ("register-72-bytes", json!({"username": "dave", "password": "x".repeat(72)}).to_string()),
        ("register-73-bytes", json!({"username": "dave", "password": "€".repeat(25)}).to_string()),
        ("register-long-username", json!({"username": "u".repeat(151), "password": "a long enough one"}).to_string()),
        ("register-bad-email", json!({"username": "erin", "password": "a long enough one", "email": "two@@example.com"}).to_string()),
        ("password-change", json!({"old_password": "old secret 1", "new_password": "new secret 22"}).to_string()),
        ("password-change-same-as-username", json!({"username": "alice", "old_password": "x", "new_password": "ALICEalice"}).to_string()),
        ("user-patch", json!({"is_active": false, "is_admin": true}).to_string()),
        ("user-patch-strings", json!({"is_active": "false", "is_admin": 1}).to_string()),
        ("empty-object", "{}".to_owned()),
        ("array", "[1, 2, 3]".to_owned()),
        ("string", "\"username\"".to_owned()),
        ("null", "null".to_owned()),
        ("huge-numbers", r#"{"username": 1e400, "password": 123456789012345678901234567890, "is_active": -0.0}"#.to_owned()),
        ("duplicate-keys", r#"{"username":"a","username":"b","password":"p1","password":"correct horse"}"#.to_owned()),
        ("nested", format!(r#"{{"username": {}"x"{}, "password": "p"}}"#, "[".repeat(100), "]".repeat(100))),
        ("too-deep", format!("{}{}", "[".repeat(200), "]".repeat(200))),
        ("escapes", r#"{"username":"\u0061\u00e9\ud83d\ude00","password":"\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000"}"#.to_owned()),
        ("lone-surrogate", r#"{"username":"\ud800","password":"x"}"#.to_owned()),
        ("bom", "\u{feff}{\"username\":\"a\"}".to_owned()),
        ("truncated", r#"{"username": "alice", "pass"#.to_owned()),
        ("trailing-garbage", r#"{"token": "a"} x"#.to_owned()),
        ("whitespace-values", json!({"username": " ", "password": "\t\n        "}).to_string()),
    ];
    for (name, body) in seeds {
        c.put(&format!("{name}.json"), body);
    }
    c.put("invalid-utf8.json", b"{\"username\":\"\xff\"}");
}

fn admin_page(c: &Corpus) {
    let seeds = [
        ("empty", ""),
        ("both", "limit=10&offset=20"),
        ("negative", "limit=-1"),
        ("not-a-number", "limit=abc&offset=x"),
        ("clamped", "limit=100000"),
        ("i64-overflow", "offset=9223372036854775808"),
        (
            "i64-max",
            "limit=9223372036854775807&offset=9223372036854775807",
        ),
        ("plus-sign", "limit=+5"),
        ("encoded-spaces", "limit=%2010%20&offset=+7+"),
        ("repeated", "limit=1&limit=2&offset=3&offset=-3"),
        ("bare-key", "limit&offset="),
        ("separators", "&&=&;=;"),
        ("bad-percent", "limit=%ff%fe&offset=%"),
        ("exponent", "limit=1e3"),
        ("minus-zero", "offset=-0"),
        ("other-keys", "page=2&limit=5&sort=id"),
        ("unicode", "limit=\u{661}\u{662}&offset=\u{ff11}"),
    ];
    for (name, query) in seeds {
        c.put(name, query);
    }
}
