//! The background sender of one replica: a thread of its own (diesel and
//! lettre's SMTP transport both block, and a thread lets the PostgreSQL claim
//! stay a plain transaction around the send; the async workers never wait on
//! it). It takes one due outbox row at a time, makes the link from the row's
//! time and the user as it is now, delivers, and records the outcome:
//!
//! - sent: done; a transient failure (server down, timeout, 4xx): the row is
//!   due again after a backoff (2 s doubling to 5 min); a permanent one
//!   (5xx, an unusable address): done as `refused`. Failures are logged
//!   without the message (no link, no body) and counted in /metrics;
//! - a row whose link would already have expired, or whose user is gone,
//!   inactive, without an address (or, for verification, already verified)
//!   is done without sending.
//!
//! Delivery is at least once, never lost: on PostgreSQL the row stays locked
//! (`FOR UPDATE SKIP LOCKED`) in a transaction that ends only with the outcome
//! recorded, so another replica takes it over the moment this one dies, and
//! on SQLite a lease does the same after [`LEASE`]. The one window for a
//! duplicate is a death between the server's acceptance and the commit that
//! records it; the resend then carries the same Message-ID (and the same link),
//! by which receivers drop it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use auth::recovery::requested_at;
use auth::Recovery;
use chrono::{DateTime, Duration, Utc};
use domain::outbox::{self, Outcome};
use domain::time::to_db;
use domain::{DbConnection, MailKind, OutboxMessage, Pool, QueryError, User};
use lettre::message::Mailbox;

use super::delivery::{compose, Delivery, DeliveryError};
use super::templates::{human_duration, Templates, Values};
use crate::config::mail::LinkTemplate;
use crate::metrics::MailMetrics;

/// How often the outbox is looked at without a wake-up: for retries, and
/// for rows another replica wrote or left behind.
pub const POLL: StdDuration = StdDuration::from_secs(2);

/// SQLite's claim: longer than any send can take (a few SMTP steps of
/// [`super::delivery::SMTP_TIMEOUT`] each). On PostgreSQL the same value
/// bounds how long a stuck sender may keep its transaction open.
pub const LEASE: Duration = Duration::minutes(5);

/// Done rows are kept this long (for operators), then deleted.
const KEEP_DONE: Duration = Duration::days(7);
const CLEANUP_EVERY: StdDuration = StdDuration::from_secs(600);

fn backoff(attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(16);
    Duration::seconds((2_i64 << doublings).min(300))
}

/// What the sender needs, built at start.
pub struct Sender {
    pub pool: Pool,
    pub claimer: String,
    pub delivery: Delivery,
    pub templates: Templates,
    pub recovery: Arc<Recovery>,
    pub from: Mailbox,
    pub reset_url: Option<LinkTemplate>,
    pub verify_url: Option<LinkTemplate>,
    pub metrics: MailMetrics,
}

impl Sender {
    /// Until `stop` is set (checked between messages) or every waker is gone.
    pub fn run(self, wake: Receiver<()>, stop: Arc<AtomicBool>) {
        let mut last_cleanup: Option<Instant> = None;
        while !stop.load(Ordering::Relaxed) {
            if last_cleanup.is_none_or(|t| t.elapsed() >= CLEANUP_EVERY) {
                last_cleanup = Some(Instant::now());
                self.cleanup();
            }
            match self.next() {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => log::warn!(target: "mail", "outbox: {e}"),
            }
            match wake.recv_timeout(POLL) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
    }

    fn cleanup(&self) {
        let cutoff = to_db(Utc::now() - KEEP_DONE);
        let result = self.with_conn(|c| outbox::delete_done_before(c, cutoff));
        match result {
            Ok(0) => {}
            Ok(n) => log::info!(target: "mail", "outbox: deleted {n} rows done before {cutoff}"),
            Err(e) => log::warn!(target: "mail", "outbox cleanup: {e}"),
        }
    }

    fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, QueryError>,
    ) -> Result<T, String> {
        let mut conn = self.pool.get().map_err(|e| e.to_string())?;
        f(&mut conn).map_err(|e| e.to_string())
    }

    /// Handle the next due row, if any; `Ok(true)` when one was handled.
    fn next(&self) -> Result<bool, String> {
        let now = Utc::now();
        self.with_conn(|conn| {
            outbox::handle_next(conn, &self.claimer, to_db(now), LEASE, |c, row| {
                self.handle(c, row, now)
            })
            .map(|handled| handled.is_some())
        })
    }

    fn handle(
        &self,
        conn: &mut DbConnection,
        row: OutboxMessage,
        now: DateTime<Utc>,
    ) -> Result<(), QueryError> {
        let kind = MailKind::parse(&row.kind);
        let user = match row.user_id {
            Some(id) => User::find(conn, id)?,
            None => None,
        };
        let label = kind.map_or("unknown", MailKind::as_str);
        let (outcome, retry) = match (kind, user) {
            (Some(kind), _) if self.recovery.expired(kind, requested_at(&row), now) => {
                self.metrics.dropped(label, "expired");
                (Some(Outcome::Expired), None)
            }
            (Some(kind), Some(user)) if wanted(kind, &user) => self.send(&row, kind, &user, now),
            _ => {
                self.metrics.dropped(label, "no_recipient");
                (Some(Outcome::NoRecipient), None)
            }
        };
        match (outcome, retry) {
            (Some(outcome), _) => {
                if !outbox::finish(conn, row.id, &self.claimer, outcome, to_db(Utc::now()))? {
                    log::warn!(target: "mail", "outbox {}: claim lost before its outcome was recorded", row.id);
                }
            }
            (None, Some((at, error))) => {
                outbox::retry(conn, row.id, &self.claimer, to_db(at), &error)?;
            }
            (None, None) => {}
        }
        Ok(())
    }

    /// Deliver one message: the outcome to record, or when to try again and why.
    fn send(
        &self,
        row: &OutboxMessage,
        kind: MailKind,
        user: &User,
        now: DateTime<Utc>,
    ) -> (Option<Outcome>, Option<(DateTime<Utc>, String)>) {
        let label = kind.as_str();
        log::info!(
            target: "mail",
            "outbox {} ({label}) for user {}: sending, attempt {}", row.id, user.id, row.attempts
        );
        let result = self.message(row, kind, user).and_then(|message| {
            self.delivery
                .deliver(&message, &format!("{}-{label}", row.id))
        });
        match result {
            Ok(where_to) => {
                self.metrics.sent(label);
                log::info!(
                    target: "mail",
                    "outbox {} ({label}) for user {}: {where_to}", row.id, user.id
                );
                (Some(Outcome::Sent), None)
            }
            Err(DeliveryError::Permanent(e)) => {
                self.metrics.failed(label, "permanent");
                log::warn!(
                    target: "mail",
                    "outbox {} ({label}) for user {}: refused, not retried: {e}", row.id, user.id
                );
                (Some(Outcome::Refused), None)
            }
            Err(DeliveryError::Transient(e)) => {
                self.metrics.failed(label, "transient");
                let delay = backoff(row.attempts);
                log::warn!(
                    target: "mail",
                    "outbox {} ({label}) for user {}: attempt {} failed, next in {}s: {e}",
                    row.id, user.id, row.attempts, delay.num_seconds()
                );
                (None, Some((now + delay, e)))
            }
        }
    }

    fn message(
        &self,
        row: &OutboxMessage,
        kind: MailKind,
        user: &User,
    ) -> Result<lettre::Message, DeliveryError> {
        let requested = requested_at(row);
        let link = match (kind, &self.reset_url, &self.verify_url) {
            (MailKind::PasswordReset, Some(url), _) => {
                let (uid, token) = self.recovery.reset_link_parts(user, requested);
                url.fill(&[("uid", &uid), ("token", &token)])
            }
            (MailKind::EmailVerification, _, Some(url)) => {
                url.fill(&[("key", &self.recovery.verify_key(user, requested))])
            }
            // The feature was turned off after the row was written: wait.
            _ => {
                return Err(DeliveryError::Transient(format!(
                    "{} is off: no link to send",
                    kind.as_str()
                )))
            }
        };
        let email = user.email.as_deref().unwrap_or_default();
        let texts = self
            .templates
            .render(
                kind,
                &Values {
                    username: &user.username,
                    email,
                    link: &link,
                    valid_for: &human_duration(self.recovery.link_lifetime(kind)),
                },
            )
            .map_err(|e| DeliveryError::Permanent(e.to_string()))?;
        compose(&self.from, &user.username, email, &row.message_key, texts)
    }
}

/// Whether the user still wants this message.
fn wanted(kind: MailKind, user: &User) -> bool {
    user.is_active
        && user.email.is_some()
        && (kind == MailKind::PasswordReset || !user.email_verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_two_seconds_to_five_minutes() {
        let secs: Vec<i64> = (1..=10).map(|a| backoff(a).num_seconds()).collect();
        assert_eq!(secs, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff(0).num_seconds(), 2);
        assert_eq!(backoff(i32::MAX).num_seconds(), 300);
    }
}
