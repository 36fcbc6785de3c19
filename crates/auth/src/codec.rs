//! Signing claims into tokens and checking tokens back into claims.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode_header, Validation};

use crate::claims::{Claims, TokenType};
use crate::keys::KeySet;
use crate::settings::TokenSettings;

/// Tokens longer than this are refused before any parsing: ours are under 1 KiB.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Why a token was refused. Each variant is one rejection rule of the contract;
/// the server maps them all to `token_not_valid`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("token is malformed")]
    Malformed,
    #[error("token is signed with an algorithm that is not accepted")]
    Algorithm,
    #[error("token names a key that is not known")]
    UnknownKey,
    #[error("token signature is invalid")]
    Signature,
    #[error("token is expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token has a wrong or missing issuer")]
    Issuer,
    #[error("token has a wrong or missing audience")]
    Audience,
    #[error("token lacks the {0} claim")]
    MissingClaim(String),
    #[error("token has wrong type")]
    WrongType,
}

impl From<jsonwebtoken::errors::Error> for VerifyError {
    fn from(e: jsonwebtoken::errors::Error) -> Self {
        match e.into_kind() {
            ErrorKind::InvalidSignature => Self::Signature,
            ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidAlgorithmName
            | ErrorKind::UnsupportedAlgorithm
            | ErrorKind::MissingAlgorithm => Self::Algorithm,
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidIssuer => Self::Issuer,
            ErrorKind::InvalidAudience => Self::Audience,
            ErrorKind::MissingRequiredClaim(claim) => Self::MissingClaim(claim),
            _ => Self::Malformed,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("signing failed: {0}")]
pub struct SignError(#[from] jsonwebtoken::errors::Error);

#[derive(Debug)]
pub struct TokenCodec {
    keys: KeySet,
    validation: Validation,
}

impl TokenCodec {
    pub fn new(keys: KeySet, settings: &TokenSettings) -> Self {
        // Built field by field: `Validation::new` would allow 60 s of leeway
        // and skip `nbf`.
        let mut validation = Validation::new(keys.algorithm());
        validation.leeway = settings.leeway_seconds();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        let mut required = vec!["exp"];
        if let Some(issuer) = &settings.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        if let Some(audience) = &settings.audience {
            validation.set_audience(&[audience]);
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        Self { keys, validation }
    }

    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    pub fn encode(&self, claims: &Claims) -> Result<String, SignError> {
        Ok(jsonwebtoken::encode(
            &self.keys.header(),
            claims,
            self.keys.signing_key(),
        )?)
    }

    /// Check signature, algorithm, key, time window, issuer, audience and,
    /// when `expected` is given, the token type.
    pub fn decode(&self, token: &str, expected: Option<TokenType>) -> Result<Claims, VerifyError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(VerifyError::Malformed);
        }
        let key = if self.keys.signing_kid().is_some() {
            let header = decode_header(token)?;
            if header.alg != self.keys.algorithm() {
                return Err(VerifyError::Algorithm);
            }
            self.keys
                .verification_key(header.kid.as_deref())
                .ok_or(VerifyError::UnknownKey)?
        } else {
            self.keys
                .verification_key(None)
                .ok_or(VerifyError::UnknownKey)?
        };
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation)?;
        // RFC 7515 §5.2 step 3 and RFC 7519 §7.2 step 10: the header and the
        // claims must be UTF-8. serde_json skips the values it does not need
        // (unknown claims) without checking their bytes.
        if !header_and_claims_are_utf8(token) {
            return Err(VerifyError::Malformed);
        }
        let header = data.header;
        if self.keys.signing_kid().is_none() && header.kid.is_some() {
            return Err(VerifyError::UnknownKey);
        }
        // RFC 7515 §4.1.11: extensions we do not understand must not be ignored.
        if header.crit.is_some() {
            return Err(VerifyError::Malformed);
        }
        if header
            .typ
            .as_deref()
            .is_some_and(|typ| !typ.eq_ignore_ascii_case("JWT"))
        {
            return Err(VerifyError::Malformed);
        }
        if expected.is_some_and(|t| t != data.claims.token_type) {
            return Err(VerifyError::WrongType);
        }
        Ok(data.claims)
    }
}

/// Whether the first two segments of a compact JWS decode to UTF-8 text.
fn header_and_claims_are_utf8(token: &str) -> bool {
    token.split('.').take(2).all(|segment| {
        URL_SAFE_NO_PAD
            .decode(segment)
            .is_ok_and(|bytes| std::str::from_utf8(&bytes).is_ok())
    })
}
