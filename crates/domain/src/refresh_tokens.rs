//! One record per refresh token issued, by `jti`: enough to tell a live token
//! from a retired one without ever storing a token.

use diesel::prelude::*;

use crate::connection::DbConnection;
use crate::ids::{SessionId, TokenId};
use crate::on_backend;
use crate::schema::refresh_tokens;
use crate::time::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = refresh_tokens, primary_key(jti))]
pub struct RefreshToken {
    pub jti: TokenId,
    pub session_id: SessionId,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    /// Set when a rotation retired this token.
    pub used_at: Option<Timestamp>,
    pub replaced_by: Option<TokenId>,
    /// The proxy's id of the request that retired it (see `retire`).
    pub retired_by_request: Option<String>,
}

impl RefreshToken {
    pub fn record(conn: &mut DbConnection, token: &RefreshToken) -> QueryResult<()> {
        on_backend!(conn, |c| diesel::insert_into(refresh_tokens::table)
            .values(token)
            .execute(c))?;
        Ok(())
    }

    pub fn find(conn: &mut DbConnection, jti: &TokenId) -> QueryResult<Option<RefreshToken>> {
        on_backend!(conn, |c| refresh_tokens::table
            .find(jti)
            .select(RefreshToken::as_select())
            .get_result(c)
            .optional())
    }

    /// [`RefreshToken::find`] inside a `write_transaction`, for a decision
    /// that must hold until the transaction commits: on PostgreSQL the row is
    /// locked (`FOR UPDATE`), so a concurrent [`RefreshToken::retire`] waits,
    /// and this waits for one in flight and then reads its result. On SQLite
    /// the transaction's write lock already orders every writer.
    pub fn find_for_update(
        conn: &mut DbConnection,
        jti: &TokenId,
    ) -> QueryResult<Option<RefreshToken>> {
        let row = refresh_tokens::table.find(jti);
        match conn {
            DbConnection::Pg(c) => row
                .select(RefreshToken::as_select())
                .for_update()
                .get_result(c)
                .optional(),
            DbConnection::Sqlite(c) => row
                .select(RefreshToken::as_select())
                .get_result(c)
                .optional(),
        }
    }

    /// Retire a live token in one conditional UPDATE. Of several concurrent
    /// callers with the same `jti` exactly one sees `true`: the row lock
    /// (PostgreSQL) or the write lock (SQLite) orders them, and the loser's
    /// `used_at IS NULL` no longer holds. `request` is the id a trusted proxy
    /// gave the request, kept so that the proxy's resend of the very same
    /// request can be told from a reuse. A record expiring at or before
    /// `expired_by` is not live and is not retired.
    pub fn retire(
        conn: &mut DbConnection,
        jti: &TokenId,
        now: Timestamp,
        expired_by: Timestamp,
        replaced_by: Option<&TokenId>,
        request: Option<&str>,
    ) -> QueryResult<bool> {
        let n = on_backend!(conn, |c| diesel::update(
            refresh_tokens::table
                .find(jti)
                .filter(refresh_tokens::used_at.is_null())
                .filter(refresh_tokens::expires_at.gt(expired_by)),
        )
        .set((
            refresh_tokens::used_at.eq(now),
            refresh_tokens::replaced_by.eq(replaced_by),
            refresh_tokens::retired_by_request.eq(request),
        ))
        .execute(c))?;
        Ok(n == 1)
    }

    /// Delete the records [`RefreshToken::retire`] would no longer retire.
    pub fn delete_expired(conn: &mut DbConnection, expired_by: Timestamp) -> QueryResult<usize> {
        on_backend!(conn, |c| diesel::delete(
            refresh_tokens::table.filter(refresh_tokens::expires_at.le(expired_by))
        )
        .execute(c))
    }
}
