//! Ending families: logout ends one, password change, global logout and
//! deactivation end every family of the user; and the housekeeping that
//! deletes what has expired.

use chrono::{DateTime, Utc};
use domain::time::to_db;
use domain::{
    write_transaction, DbConnection, QueryError, RefreshToken, RevokeReason, Session, SessionId,
    TokenId, User, UserFlags, UserId,
};

use super::{Authority, TokenError};
use crate::claims::TokenType;
use crate::settings::TokenSettings;

/// A password change needs no key: the operator's `set-password` command
/// makes it too, as the user's own route does ([`Authority::change_password`]).
pub fn change_password(
    conn: &mut DbConnection,
    user: UserId,
    new_hash: &str,
    now: DateTime<Utc>,
) -> Result<(), QueryError> {
    write_transaction(conn, |c| {
        User::set_password_hash(c, user, new_hash, to_db(now))?;
        Session::revoke_all_for_user(c, user, to_db(now), RevokeReason::PasswordChanged).map(drop)
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlushCounts {
    pub refresh_tokens: usize,
    pub sessions: usize,
}

impl Authority {
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

    /// End one session of `user` (from their list of sessions, or by an
    /// admin). True when it is theirs, whether it was live or had ended
    /// already: ending is idempotent, so that a proxy's resend of the request
    /// (nginx resends when a replica dies after committing) gets the same
    /// answer. False when `user` has no such session, so that another user's
    /// session is as unknown as one that never was.
    pub fn end_session(
        &self,
        conn: &mut DbConnection,
        user: UserId,
        sid: &SessionId,
        reason: RevokeReason,
        now: DateTime<Utc>,
    ) -> Result<bool, QueryError> {
        write_transaction(conn, |c| match Session::find(c, sid)? {
            Some(s) if s.user_id == user => {
                if s.is_live(to_db(now)) {
                    Session::revoke(c, sid, to_db(now), reason)?;
                }
                Ok(true)
            }
            _ => Ok(false),
        })
    }

    /// Store a new password hash and end every session of the user.
    pub fn change_password(
        &self,
        conn: &mut DbConnection,
        user: UserId,
        new_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), QueryError> {
        change_password(conn, user, new_hash, now)
    }

    /// End every session of the user. One transaction, so that the
    /// revocation and its announcement to the other replicas (see
    /// `domain::changes`) commit together.
    pub fn logout_all(
        &self,
        conn: &mut DbConnection,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<usize, QueryError> {
        write_transaction(conn, |c| {
            Session::revoke_all_for_user(c, user, to_db(now), RevokeReason::LogoutAll)
        })
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
