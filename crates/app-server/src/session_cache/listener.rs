//! The PostgreSQL listener of one replica: a thread with a dedicated
//! connection, subscribed to the changes every replica announces (see
//! `domain::changes`), forgetting them in this replica's [`SessionCache`].
//!
//! Fail-safe: the cache serves only while the subscription is up. Until the
//! first `LISTEN` succeeds, and from the moment a poll or a ping fails until
//! a new connection has subscribed again, the cache is empty and bypassed;
//! the notifications sent meanwhile are lost, and what they announced is
//! read from the database instead.

use std::thread;
use std::time::{Duration, Instant};

use domain::{Notice, Subscription};

use super::SessionCache;

/// The connection's `application_name`, as `pg_stat_activity` shows it.
pub const APPLICATION_NAME: &str = "auth-cache-listener";

/// How often arrived notifications are read. diesel only reads what has
/// arrived, without waiting on the socket: this is the added delay before
/// another replica forgets (a few hundred cheap wake-ups a second).
const POLL_EVERY: Duration = Duration::from_millis(2);

/// How often the connection is checked with a round trip.
const PING_EVERY: Duration = Duration::from_secs(1);

/// Waits between connection attempts, doubling up to the last.
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// Start the listener thread for `url`. It runs as long as the process.
pub fn start(url: String, cache: SessionCache) -> std::io::Result<()> {
    thread::Builder::new()
        .name("cache-listener".into())
        .spawn(move || run(&url, &cache))
        .map(drop)
}

fn run(url: &str, cache: &SessionCache) {
    let mut retry = RETRY_FIRST;
    loop {
        match Subscription::open(url, APPLICATION_NAME) {
            Ok(subscription) => {
                retry = RETRY_FIRST;
                cache.set_listening(true);
                log::info!("session cache: listening for changes");
                let failure = listen(subscription, cache);
                cache.set_listening(false);
                log::warn!(
                    "session cache: listener connection lost ({failure}); bypassing the cache until it is back"
                );
            }
            Err(e) => {
                // The pool's own errors say more; this repeats at most every RETRY_MAX.
                log::debug!("session cache: cannot subscribe ({e})");
                thread::sleep(retry);
                retry = (retry * 2).min(RETRY_MAX);
            }
        }
    }
}

/// Forget what arrives until the connection fails; returns why it did.
fn listen(mut subscription: Subscription, cache: &SessionCache) -> domain::QueryError {
    let mut pinged = Instant::now();
    loop {
        match subscription.poll() {
            Ok(notices) => {
                for notice in notices {
                    match notice {
                        Notice::Change(change) => cache.forget([change]),
                        Notice::Unreadable => cache.forget_all(),
                    }
                }
            }
            Err(e) => return e,
        }
        if pinged.elapsed() >= PING_EVERY {
            if let Err(e) = subscription.ping() {
                return e;
            }
            pinged = Instant::now();
        }
        thread::sleep(POLL_EVERY);
    }
}
