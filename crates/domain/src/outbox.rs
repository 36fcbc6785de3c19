//! The outbox of mail to send: one row per message, written in the same
//! transaction as the change that causes it, holding what to send (the user
//! and the kind), never a token: the link is made when the message is sent.
//!
//! A sender claims one row at a time. On PostgreSQL the claim is
//! `FOR UPDATE SKIP LOCKED` inside a transaction the sender keeps open until it
//! has recorded the outcome, so replicas never take the same row, and a
//! replica that dies mid-send releases its row at once (the server aborts the
//! transaction of a closed connection). On SQLite, whose writers would all
//! wait for an open write transaction, the claim is a lease instead:
//! `available_at` moves past the send's longest time, and a crashed sender's
//! row is taken again when the lease ends. Either way a row is sent at least
//! once, always with the same Message-ID.

use chrono::Duration;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::connection::{write_transaction, DbConnection};
use crate::ids::UserId;
use crate::on_backend;
use crate::schema::mail_outbox;
use crate::time::Timestamp;

/// What a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailKind {
    PasswordReset,
    EmailVerification,
}

impl MailKind {
    pub const ALL: [MailKind; 2] = [MailKind::PasswordReset, MailKind::EmailVerification];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::EmailVerification => "email_verification",
        }
    }

    pub fn parse(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == kind)
    }
}

/// How a row ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The SMTP server accepted it (or, in development, its file was written).
    Sent,
    /// The SMTP server refused it for good (a 5xx reply).
    Refused,
    /// Too old to send: its link would have expired.
    Expired,
    /// Nobody to send it to any more: the user is gone or inactive, or has
    /// no address.
    NoRecipient,
    /// A request for an address nobody has: written done.
    UnknownAddress,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Refused => "refused",
            Self::Expired => "expired",
            Self::NoRecipient => "no_recipient",
            Self::UnknownAddress => "unknown_address",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = mail_outbox)]
pub struct OutboxMessage {
    pub id: i64,
    pub user_id: Option<UserId>,
    pub kind: String,
    pub created_at: Timestamp,
    /// The Message-ID's local part, the same on every attempt.
    pub message_key: String,
    /// Claims so far, this one included.
    pub attempts: i32,
    pub available_at: Timestamp,
    pub claimed_by: Option<String>,
    pub last_error: Option<String>,
    pub done_at: Option<Timestamp>,
    pub outcome: Option<String>,
}

/// The longest `last_error` kept; longer texts are cut at a character boundary.
pub const MAX_ERROR_CHARS: usize = 200;

fn message_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Queue one message of `kind` for each user, in one statement. With no user
/// (an address nobody has) one row without a user is written instead, already
/// done: the database does the same work whether or not the address exists.
/// Returns the number of messages that will be sent.
pub fn enqueue(
    conn: &mut DbConnection,
    users: &[UserId],
    kind: MailKind,
    now: Timestamp,
) -> QueryResult<usize> {
    type Row = (
        diesel::dsl::Eq<mail_outbox::user_id, Option<UserId>>,
        diesel::dsl::Eq<mail_outbox::kind, &'static str>,
        diesel::dsl::Eq<mail_outbox::created_at, Timestamp>,
        diesel::dsl::Eq<mail_outbox::message_key, String>,
        diesel::dsl::Eq<mail_outbox::available_at, Timestamp>,
        diesel::dsl::Eq<mail_outbox::done_at, Option<Timestamp>>,
        diesel::dsl::Eq<mail_outbox::outcome, Option<&'static str>>,
    );
    let row = |user: Option<UserId>| -> Row {
        let void = user.is_none();
        (
            mail_outbox::user_id.eq(user),
            mail_outbox::kind.eq(kind.as_str()),
            mail_outbox::created_at.eq(now),
            mail_outbox::message_key.eq(message_key()),
            mail_outbox::available_at.eq(now),
            mail_outbox::done_at.eq(void.then_some(now)),
            mail_outbox::outcome.eq(void.then_some(Outcome::UnknownAddress.as_str())),
        )
    };
    let rows: Vec<Row> = if users.is_empty() {
        vec![row(None)]
    } else {
        users.iter().map(|u| row(Some(*u))).collect()
    };
    on_backend!(conn, |c| diesel::insert_into(mail_outbox::table)
        .values(&rows)
        .execute(c))?;
    Ok(users.len())
}

/// Claim the oldest row due at `now` for `claimer`: one more attempt, and
/// `available_at` moved to `now + lease`. On PostgreSQL call it inside the
/// transaction that will record the outcome (see the module's doc): the row
/// stays locked until then, and rows locked by other senders are skipped.
pub fn claim(
    conn: &mut DbConnection,
    claimer: &str,
    now: Timestamp,
    lease: Duration,
) -> QueryResult<Option<OutboxMessage>> {
    write_transaction(conn, |conn| {
        let due = mail_outbox::table
            .filter(mail_outbox::done_at.is_null())
            .filter(mail_outbox::available_at.le(now))
            .order((mail_outbox::available_at.asc(), mail_outbox::id.asc()))
            .limit(1)
            .select(mail_outbox::id);
        let id: Option<i64> = match conn {
            DbConnection::Pg(c) => due.for_update().skip_locked().get_result(c).optional()?,
            DbConnection::Sqlite(c) => due.get_result(c).optional()?,
        };
        let Some(id) = id else { return Ok(None) };
        on_backend!(conn, |c| diesel::update(mail_outbox::table.find(id))
            .set((
                mail_outbox::attempts.eq(mail_outbox::attempts + 1),
                mail_outbox::available_at.eq(now + lease),
                mail_outbox::claimed_by.eq(claimer),
            ))
            .returning(OutboxMessage::as_returning())
            .get_result(c))
        .map(Some)
    })
}

/// Claim the next due row and hand it to `handle`, which sends it and
/// records the outcome ([`finish`] or [`retry`]); `None` when nothing is due.
/// On PostgreSQL all of it is one transaction, so the row stays locked until
/// its outcome is recorded (or the connection dies, which releases it);
/// a transaction left idle longer than `lease` is ended by the server. On
/// SQLite the claim's lease covers the send.
pub fn handle_next<T>(
    conn: &mut DbConnection,
    claimer: &str,
    now: Timestamp,
    lease: Duration,
    handle: impl FnOnce(&mut DbConnection, OutboxMessage) -> QueryResult<T>,
) -> QueryResult<Option<T>> {
    match conn {
        DbConnection::Pg(_) => conn.transaction(|c| {
            c.batch_execute(&format!(
                "SET LOCAL idle_in_transaction_session_timeout = '{}s'",
                lease.num_seconds().max(1)
            ))?;
            match claim(c, claimer, now, lease)? {
                Some(row) => handle(c, row).map(Some),
                None => Ok(None),
            }
        }),
        DbConnection::Sqlite(_) => match claim(conn, claimer, now, lease)? {
            Some(row) => handle(conn, row).map(Some),
            None => Ok(None),
        },
    }
}

/// Record how a claimed row ended; false when the claim was lost (its lease
/// ended and another sender took the row).
pub fn finish(
    conn: &mut DbConnection,
    id: i64,
    claimer: &str,
    outcome: Outcome,
    now: Timestamp,
) -> QueryResult<bool> {
    let n = on_backend!(conn, |c| diesel::update(
        mail_outbox::table
            .find(id)
            .filter(mail_outbox::claimed_by.eq(claimer))
            .filter(mail_outbox::done_at.is_null()),
    )
    .set((
        mail_outbox::done_at.eq(now),
        mail_outbox::outcome.eq(outcome.as_str()),
        mail_outbox::claimed_by.eq(None::<String>),
    ))
    .execute(c))?;
    Ok(n == 1)
}

/// Give a claimed row back for another attempt at `at`, with why this one
/// failed; false when the claim was lost.
pub fn retry(
    conn: &mut DbConnection,
    id: i64,
    claimer: &str,
    at: Timestamp,
    error: &str,
) -> QueryResult<bool> {
    let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
    let n = on_backend!(conn, |c| diesel::update(
        mail_outbox::table
            .find(id)
            .filter(mail_outbox::claimed_by.eq(claimer))
            .filter(mail_outbox::done_at.is_null()),
    )
    .set((
        mail_outbox::available_at.eq(at),
        mail_outbox::last_error.eq(error),
        mail_outbox::claimed_by.eq(None::<String>),
    ))
    .execute(c))?;
    Ok(n == 1)
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<OutboxMessage>> {
    on_backend!(conn, |c| mail_outbox::table
        .find(id)
        .select(OutboxMessage::as_select())
        .get_result(c)
        .optional())
}

/// Every row, oldest first (for tests and operators).
pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<OutboxMessage>> {
    on_backend!(conn, |c| mail_outbox::table
        .order(mail_outbox::id.asc())
        .select(OutboxMessage::as_select())
        .load(c))
}

/// How many rows are not done yet.
pub fn pending_count(conn: &mut DbConnection) -> QueryResult<i64> {
    on_backend!(conn, |c| mail_outbox::table
        .filter(mail_outbox::done_at.is_null())
        .count()
        .get_result(c))
}

/// Delete the rows done before `cutoff`.
pub fn delete_done_before(conn: &mut DbConnection, cutoff: Timestamp) -> QueryResult<usize> {
    on_backend!(conn, |c| diesel::delete(
        mail_outbox::table.filter(mail_outbox::done_at.lt(cutoff))
    )
    .execute(c))
}
