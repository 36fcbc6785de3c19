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
