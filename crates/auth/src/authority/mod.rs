//! The session rules: login opens a family, refresh rotates it atomically,
//! reuse of a retired token revokes the family, logout revokes it, and password
//! change, global logout and deactivation revoke every family of the user.
//!
//! One concern per module: [`login`], [`refresh`] (rotation and the proxy's
//! resend), [`revocation`] (logout, password change, deactivation, flushing
//! expired records), [`sliding`] (simplejwt's sliding tokens, whose sessions
//! the same revocations end) and [`verification`] (checking a presented
//! token). This
//! module holds what they share: the [`Authority`], its errors, the liveness
//! of a session and the signing of a pair.

pub(crate) mod login;
pub(crate) mod refresh;
pub(crate) mod revocation;
pub(crate) mod sliding;
pub(crate) mod verification;

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use domain::time::{from_db, to_db};
use domain::{DbConnection, QueryError, RefreshToken, Session, SessionId, TokenId, User, UserId};
use jsonwebtoken::jwk::JwkSet;

use crate::claims::{Claims, TokenType};
use crate::codec::{SignError, TokenCodec, VerifyError};
use crate::settings::TokenSettings;

/// Why a token was refused after its signature and claims checked out, or
/// why issuing failed. All but `Sign` and `Database` are the client's problem.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Invalid(#[from] VerifyError),
    #[error("token is not known")]
    Unknown,
    #[error("token is blacklisted")]
    Revoked,
    #[error("token was already used; its session is revoked")]
    Reused,
    #[error("session has ended")]
    SessionEnded,
    #[error("user is inactive")]
    UserInactive,
    /// A sliding token past its `refresh_exp`: it cannot be refreshed.
    #[error("token's refresh_exp has passed")]
    RefreshExpired,
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error(transparent)]
    Database(#[from] QueryError),
}

/// What a login or a refresh hands out. `refresh` is `None` when a refresh
/// does not rotate.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access: String,
    pub refresh: Option<String>,
    /// The tokens' `exp`, for what carries them (a cookie's Max-Age).
    pub access_exp: DateTime<Utc>,
    pub refresh_exp: Option<DateTime<Utc>>,
}

#[derive(Debug)]
pub struct Authority {
    codec: TokenCodec,
    settings: TokenSettings,
}

/// A pair to sign: the family, its user, and the new refresh token's record
/// (none when a refresh does not rotate).
struct Issued {
    session: Session,
    user: User,
    refresh: Option<RefreshToken>,
}

impl Authority {
    pub fn new(codec: TokenCodec, settings: TokenSettings) -> Self {
        Self { codec, settings }
    }

    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    pub fn jwks(&self) -> &JwkSet {
        self.codec.keys().jwks()
    }

    /// The family `sid` of `user_id`, if it is live and its user active.
    fn live_session(
        &self,
        conn: &mut DbConnection,
        sid: &SessionId,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> Result<(Session, User), TokenError> {
        let (session, user) = Session::find_with_user(conn, sid)?.ok_or(TokenError::Unknown)?;
        check_live(&session, &user, user_id, now)?;
        Ok((session, user))
    }

    /// A fresh refresh lifetime, capped at the family's absolute limit.
    fn new_refresh_record(&self, session: &Session, now: DateTime<Utc>) -> RefreshToken {
        let expires_at =
            whole_seconds(now + self.settings.refresh_lifetime).min(from_db(session.expires_at));
        RefreshToken {
            jti: TokenId::random(),
            session_id: session.id.clone(),
            issued_at: to_db(now),
            expires_at: to_db(expires_at),
            used_at: None,
            replaced_by: None,
            retired_by_request: None,
        }
    }

    fn sign_pair(&self, issued: &Issued, now: DateTime<Utc>) -> Result<TokenPair, TokenError> {
        let session_end = from_db(issued.session.expires_at);
        let access_exp = (now + self.settings.access_lifetime).min(session_end);
        let access = self.codec.encode(&Claims {
            token_type: TokenType::Access,
            jti: TokenId::random().0,
            username: Some(issued.user.username.clone()),
            admin: Some(issued.user.is_admin),
            ..self.base_claims(&issued.session.id, issued.session.user_id, now, access_exp)
        })?;
        let refresh_exp = issued.refresh.as_ref().map(|r| from_db(r.expires_at));
        let refresh = match &issued.refresh {
            // Every claim from the record, `iat` too: the successor handed out
            // again (a resend, the reuse interval) is the same token, byte
            // for byte with a deterministic signature (HMAC, RSA PKCS#1 v1.5,
            // Ed25519); with ES256 the same claims under a fresh signature.
            Some(record) => Some(self.codec.encode(&Claims {
                token_type: TokenType::Refresh,
                jti: record.jti.0.clone(),
                ..self.base_claims(
                    &issued.session.id,
                    issued.session.user_id,
                    from_db(record.issued_at),
                    from_db(record.expires_at),
                )
            })?),
            None => None,
        };
        Ok(TokenPair {
            access,
            refresh,
            access_exp,
            refresh_exp,
        })
    }

    fn base_claims(
        &self,
        sid: &SessionId,
        user_id: UserId,
        now: DateTime<Utc>,
        exp: DateTime<Utc>,
    ) -> Claims {
        Claims {
            token_type: TokenType::Access,
            exp: exp.timestamp(),
            iat: now.timestamp(),
            jti: String::new(),
            sub: user_id.to_string(),
            user_id: user_id.to_string(),
            username: None,
            admin: None,
            sid: sid.0.clone(),
            refresh_exp: None,
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
        }
    }
}

/// The family `session` of `user_id` is live and its user active: the
/// checks on a loaded session, whether read now or from a cache.
fn check_live(
    session: &Session,
    user: &User,
    user_id: UserId,
    now: DateTime<Utc>,
) -> Result<(), TokenError> {
    if session.user_id != user_id || user.id != user_id {
        return Err(TokenError::Unknown);
    }
    if session.revoked_at.is_some() {
        return Err(TokenError::Revoked);
    }
    if session.expires_at <= to_db(now) {
        return Err(TokenError::SessionEnded);
    }
    if !user.is_active {
        return Err(TokenError::UserInactive);
    }
    Ok(())
}

fn parse_user_id(claims: &Claims) -> Result<UserId, TokenError> {
    let id = claims
        .sub
        .parse::<i64>()
        .map_err(|_| VerifyError::Malformed)?;
    if claims.user_id != claims.sub {
        return Err(VerifyError::Malformed.into());
    }
    Ok(UserId(id))
}

/// `exp` is whole seconds; the record must not outlive the token it stands for.
fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at)
}
