//! Announcing the writes that a replica's session cache must forget.
//!
//! Every write that ends a session or changes what a user-loading route
//! reads of a user (revocation, password, flags, `last_login`, the verified
//! mark) calls [`announce`] itself, inside the query function, so that no
//! caller can forget it. An announcement goes two ways:
//!
//! - on PostgreSQL, `SELECT pg_notify(CHANNEL, ...)` on the same connection,
//!   so in the same transaction as the write: PostgreSQL delivers it to every
//!   listening replica only if and when that transaction commits, after the
//!   change is visible to their reads;
//! - in this process, onto a per-thread list that the server's database call
//!   wrapper drains with [`take_announced`] right after the call, on the same
//!   blocking thread and before the request is answered. A list per thread,
//!   because a query function only holds the connection, and the call that
//!   wraps it runs start to end on one thread. A write rolled back after its
//!   announcement only costs an entry to be loaded again.

use std::cell::RefCell;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel::ConnectionError;

use crate::connection::DbConnection;
use crate::ids::{SessionId, UserId};

/// The PostgreSQL notification channel the replicas listen on.
pub const CHANNEL: &str = "auth_session_cache";

/// What changed: one session, or a user (and so every session of theirs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Change {
    Session(SessionId),
    User(UserId),
}

impl Change {
    /// The notification payload: `s:<sid>` or `u:<user id>`.
    pub fn payload(&self) -> String {
        match self {
            Self::Session(id) => format!("s:{id}"),
            Self::User(id) => format!("u:{id}"),
        }
    }

    /// The change a payload names; `None` for anything else (the listener
    /// then forgets everything, as for a notification it could not read).
    pub fn parse(payload: &str) -> Option<Self> {
        let (kind, id) = payload.split_once(':')?;
        match kind {
            "s" if !id.is_empty() => Some(Self::Session(SessionId(id.to_owned()))),
            "u" => id.parse().ok().map(|id| Self::User(UserId(id))),
            _ => None,
        }
    }
}

thread_local! {
    static ANNOUNCED: RefCell<Vec<Change>> = const { RefCell::new(Vec::new()) };
}

/// Tell the other replicas (PostgreSQL, on commit) and this process (see
/// [`take_announced`]) that `change` was written on `conn`.
pub(crate) fn announce(conn: &mut DbConnection, change: Change) -> QueryResult<()> {
    if let DbConnection::Pg(c) = conn {
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<Text, _>(CHANNEL)
            .bind::<Text, _>(change.payload())
            .execute(c)?;
    }
    ANNOUNCED.with(|list| list.borrow_mut().push(change));
    Ok(())
}

/// The changes announced on this thread since the last call.
pub fn take_announced() -> Vec<Change> {
    ANNOUNCED.with(|list| std::mem::take(&mut *list.borrow_mut()))
}

/// A dedicated PostgreSQL connection subscribed to [`CHANNEL`]: what a
/// replica's listener reads the other replicas' changes from. diesel's
/// `notifications_iter` reads what has arrived without waiting, so the
/// listener polls it at a short interval.
pub struct Subscription {
    conn: PgConnection,
}

/// What a poll of a [`Subscription`] read: a change, or a payload that
/// names none (to be treated as "anything may have changed").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Change(Change),
    /// A listener's [`Subscription::ping`], its own or another replica's.
    Ping(u64),
    Unreadable,
}

/// The payload of a ping: `p:` and a number no other listener picks.
const PING_PREFIX: &str = "p:";

impl Notice {
    pub fn parse(payload: &str) -> Self {
        if let Some(change) = Change::parse(payload) {
            return Self::Change(change);
        }
        match payload.strip_prefix(PING_PREFIX).map(str::parse) {
            Some(Ok(n)) => Self::Ping(n),
            _ => Self::Unreadable,
        }
    }
}

impl Subscription {
    /// Connect to `url`, name the connection `application_name` (so that an
    /// operator, or a test, can find its backend in `pg_stat_activity`) and
    /// `LISTEN`. Once this returns, every change committed afterwards is
    /// delivered.
    pub fn open(url: &str, application_name: &str) -> Result<Self, ConnectionError> {
        let mut conn = PgConnection::establish(url)?;
        diesel::sql_query("SELECT set_config('application_name', $1, false)")
            .bind::<Text, _>(application_name)
            .execute(&mut conn)
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
        conn.batch_execute(&format!("LISTEN {CHANNEL}"))
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
        Ok(Self { conn })
    }

    /// The notifications that arrived since the last poll; an error when the
    /// connection is gone.
    pub fn poll(&mut self) -> QueryResult<Vec<Notice>> {
        let mut notices = Vec::new();
        for notification in self.conn.notifications_iter() {
            notices.push(Notice::parse(&notification?.payload));
        }
        Ok(notices)
    }

    /// Notify the channel with `Notice::Ping(n)`. A round trip that shows
    /// a connection that died quietly (a partition sends no FIN); and since
    /// PostgreSQL delivers notifications in commit order, once the ping comes
    /// back every change committed before it has been delivered: a ping that
    /// does not come back in time means the notifications lag.
    pub fn ping(&mut self, n: u64) -> QueryResult<()> {
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<Text, _>(CHANNEL)
            .bind::<Text, _>(format!("{PING_PREFIX}{n}"))
            .execute(&mut self.conn)
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        for change in [
            Change::Session(SessionId("0123abcd".into())),
            Change::User(UserId(42)),
        ] {
            assert_eq!(Change::parse(&change.payload()), Some(change));
        }
        for bad in ["", "s:", "u:x", "x:1", "u"] {
            assert_eq!(Change::parse(bad), None, "{bad}");
            assert_eq!(Notice::parse(bad), Notice::Unreadable, "{bad}");
        }
        assert_eq!(Notice::parse("p:7"), Notice::Ping(7));
        assert_eq!(Notice::parse("p:x"), Notice::Unreadable);
        assert_eq!(
            Notice::parse("u:3"),
            Notice::Change(Change::User(UserId(3)))
        );
    }
}
