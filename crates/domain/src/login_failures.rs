//! Failed-login counters in fixed windows, kept in the database so that every
//! replica and every restart sees the same counts; the same counters count
//! the requests that send mail (password reset, resent verification).

use chrono::Duration;
use diesel::prelude::*;

use crate::connection::{write_transaction, DbConnection};
use crate::on_backend;
use crate::schema::login_failures;
use crate::time::Timestamp;

/// What a counter is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureScope {
    Username,
    Address,
    /// Password-reset requests per e-mail address (its SHA-256, never the address).
    ResetEmail,
    /// Password-reset requests per client address.
    ResetClient,
    /// Verification resends per e-mail address (its SHA-256).
    VerifyEmail,
    /// Verification resends per client address.
    VerifyClient,
}

impl FailureScope {
    fn as_str(self) -> &'static str {
        match self {
            Self::Username => "username",
            Self::Address => "address",
            Self::ResetEmail => "reset_email",
            Self::ResetClient => "reset_client",
            Self::VerifyEmail => "verify_email",
            Self::VerifyClient => "verify_client",
        }
    }
}

/// The live window of one counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureWindow {
    pub started_at: Timestamp,
    pub failures: i32,
}

pub fn current_window(
    conn: &mut DbConnection,
    scope: FailureScope,
    subject: &str,
    now: Timestamp,
    window: Duration,
) -> QueryResult<Option<FailureWindow>> {
    on_backend!(conn, |c| login_failures::table
        .filter(login_failures::scope.eq(scope.as_str()))
        .filter(login_failures::subject.eq(subject))
        .filter(login_failures::window_start.gt(now - window))
        .select((login_failures::window_start, login_failures::failures))
        .get_result::<(Timestamp, i32)>(c)
        .optional())
    .map(|row| {
        row.map(|(started_at, failures)| FailureWindow {
            started_at,
            failures,
        })
    })
}

/// Count one failure: a stale window is dropped and a new one starts now.
pub fn record_failure(
    conn: &mut DbConnection,
    scope: FailureScope,
    subject: &str,
    now: Timestamp,
    window: Duration,
) -> QueryResult<()> {
    write_transaction(conn, |conn| {
        on_backend!(conn, |c| diesel::delete(
            login_failures::table
                .filter(login_failures::scope.eq(scope.as_str()))
                .filter(login_failures::subject.eq(subject))
                .filter(login_failures::window_start.le(now - window)),
        )
        .execute(c))?;
        let upsert = diesel::insert_into(login_failures::table)
            .values((
                login_failures::scope.eq(scope.as_str()),
                login_failures::subject.eq(subject),
                login_failures::window_start.eq(now),
                login_failures::failures.eq(1),
            ))
            .on_conflict((login_failures::scope, login_failures::subject))
            .do_update()
            .set(login_failures::failures.eq(login_failures::failures + 1));
        on_backend!(conn, |c| upsert.execute(c))?;
        Ok(())
    })
}

/// Delete every window that has ended.
pub fn delete_expired(
    conn: &mut DbConnection,
    now: Timestamp,
    window: Duration,
) -> QueryResult<usize> {
    on_backend!(conn, |c| diesel::delete(
        login_failures::table.filter(login_failures::window_start.le(now - window))
    )
    .execute(c))
}
