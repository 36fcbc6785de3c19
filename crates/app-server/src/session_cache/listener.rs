//! The PostgreSQL listener of one replica: a thread with a dedicated
//! connection, subscribed to the changes every replica announces (see
//! `domain::changes`), forgetting them in this replica's [`SessionCache`].
//!
//! Fail-safe: the cache serves only while the subscription is up. Until the
//! first `LISTEN` succeeds, and from the moment a poll fails, or the
//! listener's own ping through the channel is late (the notifications lag),
//! until a new connection has subscribed again, the cache is empty and
//! bypassed; the notifications sent meanwhile are lost, and what they
//! announced is read from the database instead.

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

/// How often the listener pings itself through the channel.
const PING_EVERY: Duration = Duration::from_secs(1);

/// A ping not back by then means the connection is dead or the
/// notifications lag: the cache is bypassed and the listener reconnects.
const PING_LIMIT: Duration = Duration::from_secs(2);

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

/// Why the listener gave its connection up.
#[derive(Debug, thiserror::Error)]
enum Lost {
    #[error(transparent)]
    Failed(#[from] domain::QueryError),
    #[error("its own notification took over {PING_LIMIT:?} to come back")]
    Lagging,
}

/// Forget what arrives until the connection fails or lags; returns why.
fn listen(mut subscription: Subscription, cache: &SessionCache) -> Lost {
    // Random, so that each replica knows its own pings (process ids repeat
    // across containers); the low bits count them.
    let mut random = [0u8; 4];
    if getrandom::fill(&mut random).is_err() {
        random = std::process::id().to_be_bytes();
    }
    let nonce = u64::from(u32::from_be_bytes(random)) << 32;
    let mut sent = 0u64;
    let mut ping_sent = Instant::now();
    let mut awaited: Option<u64> = None;
    loop {
        let notices = match subscription.poll() {
            Ok(notices) => notices,
            Err(e) => return e.into(),
        };
        for notice in notices {
            match notice {
                Notice::Change(change) => cache.forget([change]),
                Notice::Ping(n) if awaited == Some(n) => awaited = None,
                Notice::Ping(_) => {}
                Notice::Unreadable => cache.forget_all(),
            }
        }
        if awaited.is_some() && ping_sent.elapsed() >= PING_LIMIT {
            return Lost::Lagging;
        }
        if awaited.is_none() && ping_sent.elapsed() >= PING_EVERY {
            sent += 1;
            if let Err(e) = subscription.ping(nonce | sent) {
                return e.into();
            }
            awaited = Some(nonce | sent);
            ping_sent = Instant::now();
        }
        thread::sleep(POLL_EVERY);
    }
}
