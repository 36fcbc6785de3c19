//! What the fuzz targets and `seedgen` share: the test keys (the PEM fixtures
//! of `crates/auth/tests/fixtures`, public by design), the codecs built from
//! them once per process, and the claims of the seed tokens.
//!
//! Keeping these in one place makes the committed seed tokens exactly the
//! tokens the targets can verify: `seedgen` signs with the same codecs.

use std::sync::LazyLock;

use auth::{Algorithm, Claims, KeySet, KeySource, TokenCodec, TokenSettings, TokenType};
use jsonwebtoken::EncodingKey;

/// The HMAC secret of the auth crate's tests (40 bytes).
pub const SECRET: &[u8] = b"test-only HMAC secret, 40 bytes long....";

pub const ED25519_1: &[u8] = include_bytes!("../../crates/auth/tests/fixtures/ed25519-1.pem");
pub const ED25519_2: &[u8] = include_bytes!("../../crates/auth/tests/fixtures/ed25519-2.pem");
pub const ED25519_2_PUB: &[u8] =
    include_bytes!("../../crates/auth/tests/fixtures/ed25519-2.pub.pem");
pub const P256_1: &[u8] = include_bytes!("../../crates/auth/tests/fixtures/p256-1.pem");
pub const P256_2: &[u8] = include_bytes!("../../crates/auth/tests/fixtures/p256-2.pem");

/// `iss` and `aud` of the strict codec.
pub const ISSUER: &str = "https://auth.example.test";
pub const AUDIENCE: &str = "example-api";
/// Leeway of the strict codec, in seconds (the default codecs have none).
pub const STRICT_LEEWAY: u64 = 30;

/// 2100-01-01T00:00:00Z: seed tokens stay valid for the life of the project.
pub const FAR_EXP: i64 = 4_102_444_800;
/// 2026-01-01T00:00:00Z.
pub const IAT: i64 = 1_767_225_600;

fn settings(algorithm: Algorithm) -> TokenSettings {
    TokenSettings {
        algorithm,
        ..TokenSettings::default()
    }
}

fn pem(algorithm: Algorithm, private: &[u8], previous: &[Vec<u8>]) -> TokenCodec {
    let keys = KeySet::new(
        algorithm,
        KeySource::Pem {
            private,
            previous_public: previous,
        },
    )
    .expect("fixture key");
    TokenCodec::new(keys, &settings(algorithm))
}

/// HS256 with the contract's defaults (no `iss`/`aud`, no leeway).
pub static HS256: LazyLock<TokenCodec> = LazyLock::new(|| {
    let keys = KeySet::new(Algorithm::HS256, KeySource::Secret(SECRET)).expect("HMAC keys");
    TokenCodec::new(keys, &settings(Algorithm::HS256))
});

/// HS256 with an issuer, an audience and some leeway configured.
pub static HS256_STRICT: LazyLock<TokenCodec> = LazyLock::new(|| {
    let keys = KeySet::new(Algorithm::HS256, KeySource::Secret(SECRET)).expect("HMAC keys");
    TokenCodec::new(
        keys,
        &TokenSettings {
            issuer: Some(ISSUER.to_owned()),
            audience: Some(AUDIENCE.to_owned()),
            leeway: STRICT_LEEWAY,
            ..settings(Algorithm::HS256)
        },
    )
});

/// EdDSA signing with key 1, still accepting the earlier key 2 (rotation).
pub static EDDSA: LazyLock<TokenCodec> =
    LazyLock::new(|| pem(Algorithm::EdDSA, ED25519_1, &[ED25519_2_PUB.to_vec()]));

/// The earlier EdDSA key 2 as a signer: its tokens verify under [`EDDSA`].
pub static EDDSA_OLD: LazyLock<TokenCodec> =
    LazyLock::new(|| pem(Algorithm::EdDSA, ED25519_2, &[]));

/// ES256 (randomised signatures), key 1 only.
pub static ES256: LazyLock<TokenCodec> = LazyLock::new(|| pem(Algorithm::ES256, P256_1, &[]));

/// An ES256 key the service does not know: the attacker's.
pub static ES256_FOREIGN: LazyLock<TokenCodec> =
    LazyLock::new(|| pem(Algorithm::ES256, P256_2, &[]));

/// Claims of a seed token, as the authority would issue them for user 42.
pub fn claims(token_type: TokenType, exp: i64) -> Claims {
    let access = token_type == TokenType::Access;
    Claims {
        token_type,
        exp,
        iat: IAT,
        jti: "0123456789abcdef0123456789abcdef".to_owned(),
        sub: "42".to_owned(),
        user_id: "42".to_owned(),
        username: access.then(|| "alice".to_owned()),
        admin: access.then_some(false),
        sid: "fedcba9876543210fedcba9876543210".to_owned(),
        refresh_exp: None,
        iss: None,
        aud: None,
    }
}

/// Claims as the strict codec wants them.
pub fn strict_claims(token_type: TokenType, exp: i64) -> Claims {
    Claims {
        iss: Some(ISSUER.to_owned()),
        aud: Some(AUDIENCE.to_owned()),
        ..claims(token_type, exp)
    }
}

/// `message.signature`: `message` (the `header.payload` of a JWT) signed with
/// `key` for `alg`, whatever the header and payload say. For tokens that are
/// not a codec's output.
pub fn sign_message(message: &str, key: &EncodingKey, alg: Algorithm) -> String {
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).expect("signing with a test key");
    format!("{message}.{signature}")
}
