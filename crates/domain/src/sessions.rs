//! Sessions: one per login, the family every refresh token of that login belongs to.

use diesel::prelude::*;

use crate::changes::{announce, Change};
use crate::connection::DbConnection;
use crate::ids::{SessionId, UserId};
use crate::on_backend;
use crate::schema::{sessions, users};
use crate::time::Timestamp;
use crate::users::User;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub created_at: Timestamp,
    /// The family's absolute limit.
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub revoked_reason: Option<String>,
    /// The login's `User-Agent`, at most [`MAX_USER_AGENT`] characters.
    pub user_agent: Option<String>,
    /// The login's client address, as throttling takes it.
    pub ip: Option<String>,
    /// The last refresh that issued a token of the family.
    pub last_refreshed_at: Option<Timestamp>,
}

/// The longest `User-Agent` kept, in characters (the column's width).
pub const MAX_USER_AGENT: usize = 256;

/// `agent` cut to [`MAX_USER_AGENT`] characters, on a character boundary.
pub fn truncate_user_agent(agent: &str) -> &str {
    match agent.char_indices().nth(MAX_USER_AGENT) {
        Some((at, _)) => &agent[..at],
        None => agent,
    }
}

/// Why a family was revoked, stored for the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    Logout,
    ReuseDetected,
    PasswordChanged,
    PasswordReset,
    LogoutAll,
    Deactivated,
    /// The user ended it from their list of sessions.
    EndedByUser,
    /// An admin ended it.
    EndedByAdmin,
}

impl RevokeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::ReuseDetected => "reuse_detected",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
            Self::LogoutAll => "logout_all",
            Self::Deactivated => "deactivated",
            Self::EndedByUser => "ended_by_user",
            Self::EndedByAdmin => "ended_by_admin",
        }
    }
}

impl Session {
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }

    pub fn open(conn: &mut DbConnection, session: &Session) -> QueryResult<()> {
        on_backend!(conn, |c| diesel::insert_into(sessions::table)
            .values(session)
            .execute(c))?;
        Ok(())
    }

    pub fn find(conn: &mut DbConnection, id: &SessionId) -> QueryResult<Option<Session>> {
        on_backend!(conn, |c| sessions::table
            .find(id)
            .select(Session::as_select())
            .get_result(c)
            .optional())
    }

    /// The session and its user in one query: what a protected route needs.
    pub fn find_with_user(
        conn: &mut DbConnection,
        id: &SessionId,
    ) -> QueryResult<Option<(Session, User)>> {
        on_backend!(conn, |c| sessions::table
            .inner_join(users::table)
            .filter(sessions::id.eq(id))
            .select((Session::as_select(), User::as_select()))
            .get_result(c)
            .optional())
    }

    /// The user's live families, newest first (ties by id, for a stable order).
    pub fn live_for_user(
        conn: &mut DbConnection,
        user: UserId,
        now: Timestamp,
    ) -> QueryResult<Vec<Session>> {
        on_backend!(conn, |c| sessions::table
            .filter(sessions::user_id.eq(user))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(now))
            .order((sessions::created_at.desc(), sessions::id.desc()))
            .select(Session::as_select())
            .load(c))
    }

    /// Note a refresh of the family. Not announced: the session caches judge
    /// a session by its revocation and expiry, which this leaves alone.
    pub fn record_refresh(
        conn: &mut DbConnection,
        id: &SessionId,
        at: Timestamp,
    ) -> QueryResult<()> {
        on_backend!(conn, |c| diesel::update(sessions::table.find(id))
            .set(sessions::last_refreshed_at.eq(at))
            .execute(c))?;
        Ok(())
    }

    /// Revoke one family; false when it was already revoked or does not exist.
    /// Announced to the session caches (see [`crate::changes`]).
    pub fn revoke(
        conn: &mut DbConnection,
        id: &SessionId,
        at: Timestamp,
        reason: RevokeReason,
    ) -> QueryResult<bool> {
        let n = on_backend!(conn, |c| diesel::update(
            sessions::table
                .find(id)
                .filter(sessions::revoked_at.is_null()),
        )
        .set((
            sessions::revoked_at.eq(at),
            sessions::revoked_reason.eq(reason.as_str()),
        ))
        .execute(c))?;
        if n == 1 {
            announce(conn, Change::Session(id.clone()))?;
        }
        Ok(n == 1)
    }

    /// Revoke every live family of a user in one statement; returns how many.
    /// Announced to the session caches as a change of the user, which drops
    /// every cached session of theirs.
    pub fn revoke_all_for_user(
        conn: &mut DbConnection,
        user: UserId,
        at: Timestamp,
        reason: RevokeReason,
    ) -> QueryResult<usize> {
        let n = on_backend!(conn, |c| diesel::update(
            sessions::table
                .filter(sessions::user_id.eq(user))
                .filter(sessions::revoked_at.is_null()),
        )
        .set((
            sessions::revoked_at.eq(at),
            sessions::revoked_reason.eq(reason.as_str()),
        ))
        .execute(c))?;
        if n > 0 {
            announce(conn, Change::User(user))?;
        }
        Ok(n)
    }

    /// Delete families past their absolute limit; their token records go with them.
    pub fn delete_expired(conn: &mut DbConnection, now: Timestamp) -> QueryResult<usize> {
        on_backend!(conn, |c| diesel::delete(
            sessions::table.filter(sessions::expires_at.le(now))
        )
        .execute(c))
    }
}
