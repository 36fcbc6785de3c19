//! The session rules: login opens a family, refresh rotates it atomically,
//! reuse of a retired token revokes the family, logout revokes it, and password
//! change, global logout and deactivation revoke every family of the user.

use chrono::{DateTime, Utc};
use domain::time::{from_db, to_db};
use domain::{
    write_transaction, DbConnection, QueryError, RefreshToken, RevokeReason, Session, SessionId,
    TokenId, User, UserFlags, UserId,
};
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
}

/// How long after a rotation (or a registration) a proxy's resend of the same
/// request still gets the same answer: longer than nginx's retry budget
/// (`proxy_next_upstream_timeout 10s`), short enough that a request id
/// captured later is useless.
pub const RESEND_WINDOW: chrono::TimeDelta = chrono::TimeDelta::seconds(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlushCounts {
    pub refresh_tokens: usize,
    pub sessions: usize,
}

#[derive(Debug)]
pub struct Authority {
    codec: TokenCodec,
    settings: TokenSettings,
}

/// The new refresh token's record and when its family ends.
struct Issued {
    session: Session,
    user: User,
    refresh: Option<RefreshToken>,
}

enum RefreshOutcome {
    Issued(Box<Issued>),
    /// Committed: the family is revoked, the caller gets `Reused`.
    Reused,
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

    /// Open a session for a user whose credentials were checked, record the
    /// login, and issue its first pair.
    pub fn login(
        &self,
        conn: &mut DbConnection,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, TokenError> {
        let session = Session {
            id: SessionId::random(),
            user_id: user.id,
            created_at: to_db(now),
            expires_at: to_db(now + self.settings.session_lifetime),
            revoked_at: None,
            revoked_reason: None,
        };
        let refresh = self.new_refresh_record(&session, now);
        write_transaction(conn, |c| {
            Session::open(c, &session)?;
            RefreshToken::record(c, &refresh)?;
            User::record_login(c, user.id, to_db(now))
        })?;
        self.sign_pair(
            &Issued {
                session,
                user: user.clone(),
                refresh: Some(refresh),
            },
            now,
        )
    }

    /// Trade a refresh token for a new access token and, when rotating, a new
    /// refresh token of the same family; the old one is retired atomically.
    pub fn refresh(
        &self,
        conn: &mut DbConnection,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, TokenError> {
        self.refresh_request(conn, token, None, now)
    }

    /// [`Authority::refresh`] of a request a trusted proxy named `request`
    /// (its X-Request-Id). A proxy resends a request when the replica it sent
    /// it to died without answering, and that replica may have committed the
    /// rotation first. The resend is the same presentation of the token, not a
    /// reuse: within [`RESEND_WINDOW`] of the rotation, while the successor is
    /// still unused and its family live, it gets the successor again (same
    /// `jti`) instead of revoking the family. Anything else with a retired
    /// token is reuse, as before.
    pub fn refresh_request(
        &self,
        conn: &mut DbConnection,
        token: &str,
        request: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, TokenError> {
        let claims = self.codec.decode(token, Some(TokenType::Refresh))?;
        let user_id = parse_user_id(&claims)?;
        let jti = TokenId(claims.jti);
        let sid = SessionId(claims.sid);
        let outcome = if self.settings.rotate_refresh_tokens {
            self.rotate(conn, &jti, &sid, user_id, request, now)?
        } else {
            let record = RefreshToken::find(conn, &jti)?.ok_or(TokenError::Unknown)?;
            if record.used_at.is_some() {
                Session::revoke(
                    conn,
                    &record.session_id,
                    to_db(now),
                    RevokeReason::ReuseDetected,
                )?;
                RefreshOutcome::Reused
            } else {
                let (session, user) = self.live_session(conn, &sid, user_id, now)?;
                RefreshOutcome::Issued(Box::new(Issued {
                    session,
                    user,
                    refresh: None,
                }))
            }
        };
        match outcome {
            RefreshOutcome::Issued(issued) => self.sign_pair(&issued, now),
            RefreshOutcome::Reused => Err(TokenError::Reused),
        }
    }

    fn rotate(
        &self,
        conn: &mut DbConnection,
        jti: &TokenId,
        sid: &SessionId,
        user_id: UserId,
        request: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<RefreshOutcome, TokenError> {
        let next_jti = TokenId::random();
        write_transaction(conn, |c| {
            // The conditional UPDATE comes first: it takes the lock that
            // orders concurrent refreshes of the same token.
            let cutoff = to_db(self.settings.refresh_record_cutoff(now));
            if !RefreshToken::retire(c, jti, to_db(now), cutoff, Some(&next_jti), request)? {
                return match RefreshToken::find(c, jti)? {
                    Some(record) if record.used_at.is_some() => {
                        if let Some(issued) =
                            self.resent_rotation(c, &record, sid, user_id, request, now)?
                        {
                            return Ok(RefreshOutcome::Issued(Box::new(issued)));
                        }
                        Session::revoke(
                            c,
                            &record.session_id,
                            to_db(now),
                            RevokeReason::ReuseDetected,
                        )?;
                        Ok(RefreshOutcome::Reused)
                    }
                    Some(_) => Err(TokenError::SessionEnded),
                    None => Err(TokenError::Unknown),
                };
            }
            let (session, user) = self.live_session(c, sid, user_id, now)?;
            let mut next = self.new_refresh_record(&session, now);
            next.jti = next_jti.clone();
            if next.expires_at <= to_db(now) {
                return Err(TokenError::SessionEnded);
            }
            RefreshToken::record(c, &next)?;
            Ok(RefreshOutcome::Issued(Box::new(Issued {
                session,
                user,
                refresh: Some(next),
            })))
        })
    }

    /// The successor of `retired` when this request is the proxy's resend of
    /// the very request that retired it (see [`Authority::refresh_request`]).
    fn resent_rotation(
        &self,
        conn: &mut DbConnection,
        retired: &RefreshToken,
        sid: &SessionId,
        user_id: UserId,
        request: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<Issued>, TokenError> {
        let same_request = request.is_some() && retired.retired_by_request.as_deref() == request;
        let recent = retired
            .used_at
            .is_some_and(|at| from_db(at) + RESEND_WINDOW > now);
        let (true, true, Some(next_jti)) = (same_request, recent, &retired.replaced_by) else {
            return Ok(None);
        };
        let Some(next) = RefreshToken::find(conn, next_jti)? else {
            return Ok(None);
        };
        if next.used_at.is_some() || next.expires_at <= to_db(now) {
            return Ok(None);
        }
        let (session, user) = match self.live_session(conn, sid, user_id, now) {
            Ok(live) => live,
            Err(TokenError::Database(e)) => return Err(e.into()),
            // an ended or revoked family: the resend is treated as reuse
            Err(_) => return Ok(None),
        };
        // Worth seeing: it means a replica died after committing.
        log::info!(
            "refresh: request {} resent by the proxy; answered with the successor it committed",
            request.unwrap_or_default()
        );
        Ok(Some(Issued {
            session,
            user,
            refresh: Some(next),
        }))
    }

    /// Log out: revoke the refresh token's family.
    pub fn blacklist(
        &self,
        conn: &mut DbConnection,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(), TokenError> {
        let claims = self.codec.decode(token, Some(TokenType::Refresh))?;
        let jti = TokenId(claims.jti);
        let reused = write_transaction(conn, |c| {
            let record = RefreshToken::find(c, &jti)?.ok_or(TokenError::Unknown)?;
            if record.used_at.is_some() {
                Session::revoke(
                    c,
                    &record.session_id,
                    to_db(now),
                    RevokeReason::ReuseDetected,
                )?;
                return Ok(true);
            }
            if !Session::revoke(c, &record.session_id, to_db(now), RevokeReason::Logout)? {
                return Err(TokenError::Revoked);
            }
            Ok(false)
        })?;
        if reused {
            Err(TokenError::Reused)
        } else {
            Ok(())
        }
    }

    /// `/api/token/verify/`: any valid token; a refresh token must also be the
    /// live one of a live family. Changes nothing.
    pub fn verify(
        &self,
        conn: &mut DbConnection,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Claims, TokenError> {
        let claims = self.decode_any(token)?;
        if claims.token_type == TokenType::Refresh {
            self.check_refresh_live(conn, &claims, now)?;
        }
        Ok(claims)
    }

    /// The stateless part of [`Authority::verify`]: a valid token of any type.
    pub fn decode_any(&self, token: &str) -> Result<Claims, VerifyError> {
        self.codec.decode(token, None)
    }

    /// The stateful part of [`Authority::verify`] for refresh tokens: the
    /// token is not retired and its family is live.
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

    /// The stateful check where a route loads the user: the session must be
    /// live, the user active, and the token newer than the last password change.
    pub fn authenticate(
        &self,
        conn: &mut DbConnection,
        claims: &Claims,
        now: DateTime<Utc>,
    ) -> Result<User, TokenError> {
        let (_, user) = self.live_session(
            conn,
            &SessionId(claims.sid.clone()),
            parse_user_id(claims)?,
            now,
        )?;
        if claims.iat < from_db(user.password_changed_at).timestamp() {
            return Err(TokenError::Revoked);
        }
        Ok(user)
    }

    /// Store a new password hash and end every session of the user.
    pub fn change_password(
        &self,
        conn: &mut DbConnection,
        user: UserId,
        new_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), QueryError> {
        write_transaction(conn, |c| {
            User::set_password_hash(c, user, new_hash, to_db(now))?;
            Session::revoke_all_for_user(c, user, to_db(now), RevokeReason::PasswordChanged)
                .map(drop)
        })
    }

    /// End every session of the user.
    pub fn logout_all(
        &self,
        conn: &mut DbConnection,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<usize, QueryError> {
        Session::revoke_all_for_user(conn, user, to_db(now), RevokeReason::LogoutAll)
    }

    /// Admin update of a user's flags; deactivation ends every session.
    pub fn update_flags(
        &self,
        conn: &mut DbConnection,
        user: UserId,
        flags: UserFlags,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, QueryError> {
        write_transaction(conn, |c| {
            let updated = User::set_flags(c, user, flags)?;
            if updated.is_some() && flags.is_active == Some(false) {
                Session::revoke_all_for_user(c, user, to_db(now), RevokeReason::Deactivated)?;
            }
            Ok(updated)
        })
    }

    /// Delete expired token records and sessions.
    pub fn flush_expired(
        &self,
        conn: &mut DbConnection,
        now: DateTime<Utc>,
    ) -> Result<FlushCounts, QueryError> {
        flush_expired(conn, &self.settings, now)
    }

    fn live_session(
        &self,
        conn: &mut DbConnection,
        sid: &SessionId,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> Result<(Session, User), TokenError> {
        let (session, user) = Session::find_with_user(conn, sid)?.ok_or(TokenError::Unknown)?;
        if session.user_id != user_id {
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
            ..self.base_claims(&issued.session, now, access_exp)
        })?;
        let refresh = match &issued.refresh {
            Some(record) => Some(self.codec.encode(&Claims {
                token_type: TokenType::Refresh,
                jti: record.jti.0.clone(),
                ..self.base_claims(&issued.session, now, from_db(record.expires_at))
            })?),
            None => None,
        };
        Ok(TokenPair { access, refresh })
    }

    fn base_claims(&self, session: &Session, now: DateTime<Utc>, exp: DateTime<Utc>) -> Claims {
        Claims {
            token_type: TokenType::Access,
            exp: exp.timestamp(),
            iat: now.timestamp(),
            jti: String::new(),
            sub: session.user_id.to_string(),
            user_id: session.user_id.to_string(),
            username: None,
            admin: None,
            sid: session.id.0.clone(),
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
        }
    }
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

/// Delete expired token records and sessions; needs no keys, so the CLI can
/// run it without loading them. A record stays as long as its token is
/// accepted (see [`TokenSettings::refresh_record_cutoff`]); a session goes at
/// its absolute limit, and its records with it.
pub fn flush_expired(
    conn: &mut DbConnection,
    settings: &TokenSettings,
    now: DateTime<Utc>,
) -> Result<FlushCounts, QueryError> {
    write_transaction(conn, |c| {
        let cutoff = to_db(settings.refresh_record_cutoff(now));
        let refresh_tokens = RefreshToken::delete_expired(c, cutoff)?;
        let sessions = Session::delete_expired(c, to_db(now))?;
        Ok(FlushCounts {
            refresh_tokens,
            sessions,
        })
    })
}
