//! simplejwt's sliding tokens (`SlidingToken`): one token that authenticates
//! like an access token and buys its own successor, with a new `exp` and
//! `iat` and the same `jti`, `sid` and `refresh_exp`, until `refresh_exp`.
//!
//! Each login opens a session like a pair's login, whose absolute end is the
//! token's `refresh_exp`: the revocation rules of pairs (logout, password
//! change, global logout, deactivation) end it the same way, every refreshed
//! copy with it, and `flush-expired-tokens` keeps it until then. The session
//! has no refresh-token records: a sliding refresh only reads it.

use chrono::{DateTime, Utc};
use domain::time::to_db;
use domain::{write_transaction, DbConnection, Session, SessionId, TokenId, User};

use super::login::{new_session, LoginClient};

use super::{parse_user_id, whole_seconds, Authority, TokenError};
use crate::claims::{Claims, TokenType};
use crate::codec::VerifyError;
use crate::settings::SlidingMode;

impl Authority {
    /// Open a sliding session for a user whose credentials were checked,
    /// record the login, and issue its first sliding token.
    pub fn login_sliding(
        &self,
        conn: &mut DbConnection,
        user: &User,
        client: &LoginClient,
        now: DateTime<Utc>,
    ) -> Result<String, TokenError> {
        let refresh_exp = whole_seconds(now + self.settings.sliding.refresh_lifetime);
        let session = new_session(user, client, now, refresh_exp);
        write_transaction(conn, |c| {
            Session::open(c, &session)?;
            User::record_login(c, user.id, to_db(now))
        })?;
        self.sign_sliding(&session.id, user, TokenId::random().0, refresh_exp, now)
    }

    /// simplejwt's `TokenRefreshSlidingSerializer`: the token must verify
    /// (an expired one is refused), `refresh_exp` must not have passed, and
    /// here its session must be live and its user active. Changes nothing.
    pub fn refresh_sliding(
        &self,
        conn: &mut DbConnection,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<String, TokenError> {
        let claims = self.decode_sliding(token)?;
        let refresh_exp = claims
            .refresh_exp
            .ok_or_else(|| VerifyError::MissingClaim("refresh_exp".to_owned()))?;
        let refresh_exp = DateTime::from_timestamp(refresh_exp, 0).ok_or(VerifyError::Malformed)?;
        if refresh_exp <= now {
            return Err(TokenError::RefreshExpired);
        }
        // the session, the user, and no password change since the token
        let user = self.authenticate(conn, &claims, now)?;
        self.sign_sliding(&SessionId(claims.sid), &user, claims.jti, refresh_exp, now)
    }

    /// Log out with a sliding token: revoke its session, so every refreshed
    /// copy of the token is refused too.
    pub fn blacklist_sliding(
        &self,
        conn: &mut DbConnection,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(), TokenError> {
        let claims = self.decode_sliding(token)?;
        let user_id = parse_user_id(&claims)?;
        let sid = SessionId(claims.sid);
        write_transaction(conn, |c| {
            let session = Session::find(c, &sid)?
                .filter(|s| s.user_id == user_id)
                .ok_or(TokenError::Unknown)?;
            if !Session::revoke(c, &session.id, to_db(now), domain::RevokeReason::Logout)? {
                return Err(TokenError::Revoked);
            }
            Ok(())
        })
    }

    /// A valid sliding token, while sliding tokens are on.
    fn decode_sliding(&self, token: &str) -> Result<Claims, TokenError> {
        if self.settings.sliding.mode == SlidingMode::Off {
            return Err(VerifyError::WrongType.into());
        }
        Ok(self.codec.decode(token, Some(TokenType::Sliding))?)
    }

    /// Its `exp` is capped at `refresh_exp`, the session's end, as an access
    /// token's is at its family's end: no token outlives its session record.
    fn sign_sliding(
        &self,
        sid: &SessionId,
        user: &User,
        jti: String,
        refresh_exp: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<String, TokenError> {
        let exp = (now + self.settings.sliding.lifetime).min(refresh_exp);
        Ok(self.codec.encode(&Claims {
            token_type: TokenType::Sliding,
            jti,
            username: Some(user.username.clone()),
            admin: Some(user.is_admin),
            refresh_exp: Some(refresh_exp.timestamp()),
            ..self.base_claims(sid, user.id, now, exp)
        })?)
    }
}
