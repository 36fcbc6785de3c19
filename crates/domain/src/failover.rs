//! What a PostgreSQL failover looks like from one connection, and what may
//! be done about it.
//!
//! During a failover the server behind `DATABASE_URL` goes away (its host
//! died, the proxy in front of it cut the session, Patroni restarted it) or
//! turns read-only (the old primary is back as a standby). Three rules follow:
//!
//! - A connection that met a *connection-class* error ([`is_connection_error`])
//!   is [`DbConnection::discard`]ed: the pool drops it when it comes back
//!   instead of handing it to the next request.
//! - A unit of work (one `Db::run` of the server) may run once more on
//!   another connection when it failed that way *before any COMMIT was
//!   sent*: nothing of it can have been stored. A COMMIT sent and not
//!   answered may or may not have landed on the new primary, so it is never
//!   repeated; the caller answers "unavailable" instead.
//! - A statement outside a transaction commits by itself: the [`Watch`]
//!   counts every one that is not a read as a COMMIT sent.
//!
//! `statement_timeout` never cuts a COMMIT short: PostgreSQL disarms it
//! before the commit work itself (deferred triggers, the wait for the
//! synchronous standby). That matters: a cancelled wait for the standby
//! reports success with a mere WARNING, for a transaction that only the
//! primary has and a failover loses. A test below holds PostgreSQL to it.
//!
//! Every PostgreSQL connection carries a [`Watch`], a diesel instrumentation
//! that sees each statement and transaction of its connection, so what one
//! attempt did is known whatever error type the caller turned it into.

use std::fmt::{self, Write as _};

use diesel::connection::{DebugQuery, Instrumentation, InstrumentationEvent, TransactionManager};
use diesel::dsl::sql;
use diesel::result::{DatabaseErrorKind, Error};
use diesel::sql_types::Text;
use diesel::{Connection, QueryResult, RunQueryDsl};

use crate::connection::DbConnection;

/// Errors after which a connection must not serve again: the session is
/// gone, or it reaches a server that cannot take writes.
///
/// libpq gives diesel the SQLSTATE but diesel keeps only a few kinds: class
/// 08 becomes `ClosedConnection`, and so does any error after which libpq
/// saw the socket close (a FATAL such as 57P01 `admin_shutdown`, 57P02
/// `crash_shutdown`, 57P03 `cannot_connect_now` ends the session). 25006
/// `read_only_sql_transaction` is `ReadOnlyTransaction`. The messages are a
/// fallback for errors that reach us before libpq noticed the close.
pub fn is_connection_error(error: &Error) -> bool {
    match error {
        Error::DatabaseError(kind, info) => match kind {
            DatabaseErrorKind::ClosedConnection
            | DatabaseErrorKind::UnableToSendCommand
            | DatabaseErrorKind::ReadOnlyTransaction => true,
            _ => is_connection_message(info.message()),
        },
        // Left so by a failed COMMIT or ROLLBACK: the session is unusable.
        Error::BrokenTransactionManager => true,
        _ => false,
    }
}

fn is_connection_message(message: &str) -> bool {
    const MARKS: [&str; 9] = [
        "terminating connection",       // 57P01, 57P02
        "the database system is",       // 57P03: starting up, shutting down, in recovery
        "server closed the connection", // libpq: EOF
        "no connection to the server",  // libpq: used after a close
        "could not receive data from server",
        "could not send data to server",
        "SSL SYSCALL error",
        "SSL connection has been closed",
        "in a read-only transaction", // 25006
    ];
    MARKS.iter().any(|mark| message.contains(mark))
}

/// What one attempt did on its connection, as its [`Watch`] saw it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The first connection-class error met, as libpq worded it.
    pub connection_failure: Option<String>,
    /// A COMMIT (or a self-committing write) was sent: its outcome is
    /// unknown when the connection failed.
    pub commit_sent: bool,
}

impl Attempt {
    /// The connection failed before anything could have been committed:
    /// the same work may run again on another connection.
    pub fn may_retry(&self) -> bool {
        self.connection_failure.is_some() && !self.commit_sent
    }
}

/// The diesel instrumentation of every PostgreSQL connection: follows the
/// transaction depth and records, for the current attempt, connection-class
/// errors and whether a COMMIT went out.
#[derive(Debug, Default)]
pub struct Watch {
    depth: u32,
    attempt: Attempt,
}

impl Instrumentation for Watch {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::BeginTransaction { depth, .. } => self.depth = depth.get(),
            InstrumentationEvent::CommitTransaction { depth, .. } => {
                self.attempt.commit_sent |= depth.get() == 1;
                self.depth = depth.get() - 1;
            }
            InstrumentationEvent::RollbackTransaction { depth, .. } => {
                self.depth = depth.get() - 1;
            }
            InstrumentationEvent::StartQuery { query, .. } if self.depth == 0 => {
                self.attempt.commit_sent |= !is_read(query);
            }
            InstrumentationEvent::FinishQuery {
                error: Some(error), ..
            } => self.note_failure(error),
            _ => {}
        }
    }
}

impl Watch {
    fn note_failure(&mut self, error: &Error) {
        if self.attempt.connection_failure.is_none() && is_connection_error(error) {
            let text = error.to_string();
            let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            self.attempt.connection_failure = Some(line.trim().to_owned());
        }
    }
}

/// Whether a statement run outside a transaction only reads: its first word
/// is SELECT, SHOW or SET (a session setting stores nothing), or ROLLBACK
/// (diesel announces the end of a transaction before it sends the
/// statement). Only that word is rendered: formatting stops at the first
/// character after it, before the bound values.
fn is_read(query: &dyn DebugQuery) -> bool {
    let mut head = FirstWord::default();
    let _ = write!(head, "{query}");
    let word = &head.word[..head.len];
    [b"SELECT".as_slice(), b"SHOW", b"SET", b"ROLLBACK"]
        .iter()
        .any(|read| word.eq_ignore_ascii_case(read))
}

#[derive(Default)]
struct FirstWord {
    word: [u8; 8],
    len: usize,
}

impl fmt::Write for FirstWord {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if self.len == 0 && b.is_ascii_whitespace() {
                continue;
            }
            if !b.is_ascii_alphabetic() || self.len == self.word.len() {
                return Err(fmt::Error); // the word is complete: stop formatting
            }
            self.word[self.len] = b;
            self.len += 1;
        }
        Ok(())
    }
}

type Tm = <DbConnection as Connection>::TransactionManager;

impl DbConnection {
    /// Start watching a new attempt on this connection (fresh from the pool).
    pub fn begin_attempt(&mut self) {
        if let Some(watch) = self.watch() {
            *watch = Watch::default();
        }
    }

    /// What the current attempt did; always empty on SQLite, which has no
    /// failover.
    pub fn attempt(&mut self) -> Attempt {
        self.watch().map(|w| w.attempt.clone()).unwrap_or_default()
    }

    /// Never hand this connection out again: r2d2 asks `is_broken` when a
    /// connection comes back, and a transaction manager in error is broken.
    pub fn discard(&mut self) {
        Tm::transaction_manager_status_mut(self).set_in_error();
    }

    /// Does this connection reach a server that takes writes? A standby, or
    /// a server with `default_transaction_read_only`, answers the read-only
    /// error (25006) that a write would meet, and the attempt counts it as a
    /// connection failure.
    pub fn check_writable(&mut self) -> QueryResult<()> {
        let DbConnection::Pg(pg) = self else {
            return self.check_alive();
        };
        let read_only = diesel::select(sql::<Text>("current_setting('transaction_read_only')"))
            .get_result::<String>(pg)?;
        if read_only == "off" {
            return Ok(());
        }
        let error = Error::DatabaseError(
            DatabaseErrorKind::ReadOnlyTransaction,
            Box::new("the database server is read-only (a standby?)".to_owned()),
        );
        if let Some(watch) = self.watch() {
            watch.note_failure(&error);
        }
        Err(error)
    }

    fn watch(&mut self) -> Option<&mut Watch> {
        match self {
            DbConnection::Pg(pg) => pg.instrumentation().downcast_mut::<Watch>(),
            DbConnection::Sqlite(_) => None,
        }
    }
}

#[cfg(test)]
mod tests;
