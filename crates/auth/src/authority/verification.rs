//! Checking a presented token. The signature and claims are checked without
//! the database, which is all an access token needs on `/api/token/verify/`;
//! a refresh token must also be the live one of a live family, and a route
//! that loads the user (or any use of a sliding token) also needs the session
//! live and the password older than the token.

use chrono::{DateTime, Utc};
use domain::time::from_db;
use domain::{DbConnection, RefreshToken, Session, SessionId, TokenId, User};

use super::{check_live, parse_user_id, Authority, TokenError};
use crate::claims::{Claims, TokenType};
use crate::codec::VerifyError;
use crate::settings::SlidingMode;

impl Authority {
    /// A valid token of any type: the stateless part of `/api/token/verify/`.
    /// Sliding tokens only while they are on.
    pub fn decode_any(&self, token: &str) -> Result<Claims, VerifyError> {
        let claims = self.codec.decode(token, None)?;
        if claims.token_type == TokenType::Sliding && !self.accepts_sliding() {
            return Err(VerifyError::WrongType);
        }
        Ok(claims)
    }

    /// The stateful part of `/api/token/verify/` for a refresh token: it is
    /// not retired and its family is live. Changes nothing.
    pub fn check_refresh_live(
        &self,
        conn: &mut DbConnection,
        claims: &Claims,
        now: DateTime<Utc>,
    ) -> Result<(), TokenError> {
        let record =
            RefreshToken::find(conn, &TokenId(claims.jti.clone()))?.ok_or(TokenError::Unknown)?;
        if record.used_at.is_some() {
            return Err(TokenError::Revoked);
        }
        self.live_session(conn, &record.session_id, parse_user_id(claims)?, now)
            .map(drop)
    }

    /// The stateless check of an access token.
    pub fn decode_access(&self, token: &str) -> Result<Claims, VerifyError> {
        self.codec.decode(token, Some(TokenType::Access))
    }

    /// The stateless check of a Bearer token: an access token, or a sliding
    /// token while they are on (simplejwt's `AUTH_TOKEN_CLASSES` with both).
    pub fn decode_bearer(&self, token: &str) -> Result<Claims, VerifyError> {
        let claims = self.codec.decode(token, None)?;
        match claims.token_type {
            TokenType::Access => Ok(claims),
            TokenType::Sliding if self.accepts_sliding() => Ok(claims),
            _ => Err(VerifyError::WrongType),
        }
    }

    fn accepts_sliding(&self) -> bool {
        self.settings.sliding.mode != SlidingMode::Off
    }

    /// The stateful check where a route loads the user: the session must be
    /// live, the user active, and the token newer than the last password change.
    pub fn authenticate(
        &self,
        conn: &mut DbConnection,
        claims: &Claims,
        now: DateTime<Utc>,
    ) -> Result<User, TokenError> {
        let (session, user) = Session::find_with_user(conn, &SessionId(claims.sid.clone()))?
            .ok_or(TokenError::Unknown)?;
        self.authenticate_loaded(claims, &session, &user, now)?;
        Ok(user)
    }

    /// [`Authority::authenticate`] on a session and user already loaded
    /// (from the database just now, or from a replica's session cache).
    pub fn authenticate_loaded(
        &self,
        claims: &Claims,
        session: &Session,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<(), TokenError> {
        if session.id.0 != claims.sid {
            return Err(TokenError::Unknown);
        }
        check_live(session, user, parse_user_id(claims)?, now)?;
        if claims.iat < from_db(user.password_changed_at).timestamp() {
            return Err(TokenError::Revoked);
        }
        Ok(())
    }
}
