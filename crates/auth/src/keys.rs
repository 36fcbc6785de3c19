//! Signing and verification keys, their `kid`s, and the JWKS document.
//!
//! HMAC: one secret signs and verifies, no `kid`, an empty JWKS.
//! RS256, ES256, EdDSA: the private key signs; its public half and the public
//! keys of earlier signing keys verify, each under its RFC 7638 thumbprint, so a
//! signing key can be rotated without logging anyone out.

use std::collections::HashMap;
use std::fmt;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse, ThumbprintHash,
};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation};

/// Below this many bytes an HMAC secret is weak (RFC 7518 §3.2: at least the hash size).
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0} is not supported (use HS256, HS384, HS512, RS256, ES256 or EdDSA)")]
    UnsupportedAlgorithm(String),
    #[error("{algorithm:?} needs a PEM private key, not a secret")]
    NeedsPrivateKey { algorithm: Algorithm },
    #[error("{algorithm:?} uses a shared secret, not a PEM key")]
    NeedsSecret { algorithm: Algorithm },
    #[error("the HMAC secret is empty")]
    EmptySecret,
    #[error("not a usable {algorithm:?} private key: {reason}")]
    BadPrivateKey {
        algorithm: Algorithm,
        reason: String,
    },
    #[error("public key {index} is not a usable {algorithm:?} key: {reason}")]
    BadPublicKey {
        index: usize,
        algorithm: Algorithm,
        reason: String,
    },
}

/// Where the keys come from.
pub enum KeySource<'a> {
    Secret(&'a [u8]),
    Pem {
        private: &'a [u8],
        previous_public: &'a [Vec<u8>],
    },
}

pub struct KeySet {
    algorithm: Algorithm,
    signing: EncodingKey,
    signing_kid: Option<String>,
    /// HMAC: the secret under `None`; asymmetric: every accepted key by `kid`.
    hmac: Option<DecodingKey>,
    by_kid: HashMap<String, DecodingKey>,
    jwks: JwkSet,
}

// The key bytes stay out of any debug print.
impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("algorithm", &self.algorithm)
            .field("signing_kid", &self.signing_kid)
            .field("verification_kids", &self.by_kid.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The algorithms of the contract, parsed from their RFC 7518 names.
pub fn parse_algorithm(name: &str) -> Result<Algorithm, KeyError> {
    match name {
        "HS256" => Ok(Algorithm::HS256),
        "HS384" => Ok(Algorithm::HS384),
        "HS512" => Ok(Algorithm::HS512),
        "RS256" => Ok(Algorithm::RS256),
        "ES256" => Ok(Algorithm::ES256),
        "EdDSA" => Ok(Algorithm::EdDSA),
        other => Err(KeyError::UnsupportedAlgorithm(other.to_owned())),
    }
}

impl KeySet {
    pub fn new(algorithm: Algorithm, source: KeySource<'_>) -> Result<Self, KeyError> {
        let keys = match (algorithm.family(), source) {
            (AlgorithmFamily::Hmac, KeySource::Secret(secret)) => Self::hmac(algorithm, secret)?,
            (AlgorithmFamily::Hmac, KeySource::Pem { .. }) => {
                return Err(KeyError::NeedsSecret { algorithm })
            }
            (_, KeySource::Secret(_)) => return Err(KeyError::NeedsPrivateKey { algorithm }),
            (
                _,
                KeySource::Pem {
                    private,
                    previous_public,
                },
            ) => Self::asymmetric(algorithm, private, previous_public)?,
        };
        keys.self_test()?;
        Ok(keys)
    }

    fn hmac(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        if secret.is_empty() {
            return Err(KeyError::EmptySecret);
        }
        Ok(Self {
            algorithm,
            signing: EncodingKey::from_secret(secret),
            signing_kid: None,
            hmac: Some(DecodingKey::from_secret(secret)),
            by_kid: HashMap::new(),
            jwks: JwkSet { keys: Vec::new() },
        })
    }

    fn asymmetric(
        algorithm: Algorithm,
        private_pem: &[u8],
        previous_public: &[Vec<u8>],
    ) -> Result<Self, KeyError> {
        let bad_private = |e: jsonwebtoken::errors::Error| KeyError::BadPrivateKey {
            algorithm,
            reason: e.to_string(),
        };
        let signing = match algorithm {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(private_pem),
            Algorithm::ES256 => EncodingKey::from_ec_pem(private_pem),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(private_pem),
            other => return Err(KeyError::UnsupportedAlgorithm(format!("{other:?}"))),
        }
        .map_err(bad_private)?;
        let current = Jwk::from_encoding_key(&signing, algorithm).map_err(bad_private)?;
        let (signing_kid, current, current_key) = published(current).map_err(bad_private)?;

        let mut by_kid = HashMap::from([(signing_kid.clone(), current_key)]);
        let mut jwks = JwkSet {
            keys: vec![current],
        };
        for (index, pem) in previous_public.iter().enumerate() {
            let bad = |e: jsonwebtoken::errors::Error| KeyError::BadPublicKey {
                index,
                algorithm,
                reason: e.to_string(),
            };
            let key = match algorithm {
                Algorithm::RS256 => DecodingKey::from_rsa_pem(pem),
                Algorithm::ES256 => DecodingKey::from_ec_pem(pem),
                _ => DecodingKey::from_ed_pem(pem),
            }
            .map_err(bad)?;
            let jwk = Jwk::from_decoding_key(&key, Some(algorithm)).map_err(bad)?;
            // The EC PEM parser takes any curve; ES256 is P-256 only (RFC 7518 §3.4).
            let curve_fits = match &jwk.algorithm {
                AlgorithmParameters::EllipticCurve(ec) => ec.curve == EllipticCurve::P256,
                _ => true,
            };
            if !curve_fits {
                return Err(bad(ErrorKind::InvalidEcdsaKey.into()));
            }
            let (kid, jwk, key) = published(jwk).map_err(bad)?;
            if by_kid.insert(kid, key).is_none() {
                jwks.keys.push(jwk);
            }
        }
        Ok(Self {
            algorithm,
            signing,
            signing_kid: Some(signing_kid),
            hmac: None,
            by_kid,
            jwks,
        })
    }

    /// Sign and verify a probe, so a key of the wrong curve or size fails at
    /// start instead of at the first login.
    fn self_test(&self) -> Result<(), KeyError> {
        let fail = |e: jsonwebtoken::errors::Error| KeyError::BadPrivateKey {
            algorithm: self.algorithm,
            reason: e.to_string(),
        };
        let probe = serde_json::json!({ "exp": i64::MAX / 2 });
        let token = jsonwebtoken::encode(&self.header(), &probe, &self.signing).map_err(fail)?;
        let key = match &self.signing_kid {
            Some(kid) => &self.by_kid[kid],
            None => self.hmac.as_ref().expect("HMAC key set has its secret"),
        };
        jsonwebtoken::decode::<serde_json::Value>(&token, key, &Validation::new(self.algorithm))
            .map(drop)
            .map_err(fail)
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The header every token we sign carries.
    pub fn header(&self) -> Header {
        let mut header = Header::new(self.algorithm);
        header.kid = self.signing_kid.clone();
        header
    }

    pub fn signing_key(&self) -> &EncodingKey {
        &self.signing
    }

    pub fn signing_kid(&self) -> Option<&str> {
        self.signing_kid.as_deref()
    }

    /// The key a token's header `kid` names. HMAC tokens carry no `kid`, and
    /// asymmetric ones must carry one of ours: keys are never taken from the
    /// token itself (`jku`, `jwk`, `x5u` are ignored).
    pub fn verification_key(&self, kid: Option<&str>) -> Option<&DecodingKey> {
        match (&self.hmac, kid) {
            (Some(secret), None) => Some(secret),
            (Some(_), Some(_)) | (None, None) => None,
            (None, Some(kid)) => self.by_kid.get(kid),
        }
    }

    /// The public keys (RFC 7517); empty for HMAC.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }
}

/// Stamp a public JWK with its thumbprint `kid`, `use: sig`, and `alg`, and
/// build the verification key from exactly what is published.
fn published(mut jwk: Jwk) -> jsonwebtoken::errors::Result<(String, Jwk, DecodingKey)> {
    let kid = jwk.thumbprint(ThumbprintHash::SHA256)?;
    jwk.common.key_id = Some(kid.clone());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    let key = DecodingKey::from_jwk(&jwk)?;
    Ok((kid, jwk, key))
}
