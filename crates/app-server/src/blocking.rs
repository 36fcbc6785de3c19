//! Blocking work off the async workers: diesel calls on actix's blocking
//! threads, bcrypt on a pool of its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web;
use auth::{Checked, PasswordHasher, SecretString};
use domain::{DbConnection, Pool};

use crate::errors::ApiError;
use crate::session_cache::SessionCache;

/// The connection pool, used only from blocking threads.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    timeout: Duration,
    /// Told of every change the call's queries announced.
    cache: SessionCache,
}

impl Db {
    /// `timeout` bounds each call's wait for a connection, queueing included.
    /// The statements themselves are bounded separately (on PostgreSQL by the
    /// same value as `statement_timeout`, per statement).
    /// `cache` forgets what the calls change (see `domain::changes`).
    pub fn new(pool: Pool, timeout: Duration, cache: SessionCache) -> Self {
        Self {
            pool,
            timeout,
            cache,
        }
    }

    /// Check out a connection and run `f` with it, on a blocking thread.
    ///
    /// The deadline starts now, not when a blocking thread picks the call up:
    /// with the database down or saturated, calls queued behind a waiting one
    /// fail at their own deadline with 503 instead of waiting in turn.
    ///
    /// Failover (see `domain::failover`): when the connection fails with a
    /// connection-class error it leaves the pool, and `f` runs once more on
    /// another connection if no COMMIT had been sent, within the same
    /// deadline; otherwise, or when that fails too, the answer is 503
    /// `unavailable`, whatever `f` made of the error (never a 500, nor a 401
    /// for a token that could not be checked).
    ///
    /// Every change `f`'s queries announced is forgotten by this replica's
    /// session cache right after `f`, on this thread: before the caller can
    /// answer, whatever the outcome.
    pub async fn run<T, E, F>(&self, mut f: F) -> Result<T, ApiError>
    where
        F: FnMut(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let cache = self.cache.clone();
        let deadline = Instant::now() + self.timeout;
        web::block(move || {
            let mut attempts = 0;
            loop {
                attempts += 1;
                let remaining = deadline.saturating_duration_since(Instant::now());
                if remaining.is_zero() {
                    return Err(ApiError::unavailable(
                        "no database connection within AUTH_DB_TIMEOUT",
                    ));
                }
                let mut conn = pool.get_timeout(remaining)?;
                conn.begin_attempt();
                let result = f(&mut conn);
                cache.forget(domain::changes::take_announced());
                let attempt = conn.attempt();
                let Some(failure) = attempt.connection_failure.as_deref() else {
                    return result.map_err(Into::into);
                };
                conn.discard();
                drop(conn);
                if result.is_ok() {
                    // `f` got past the failure on its own; only the connection goes.
                    return result.map_err(Into::into);
                }
                if attempt.may_retry() && attempts < MAX_ATTEMPTS {
                    log::warn!("database connection failed ({failure}); running the request again on another connection");
                    continue;
                }
                let outcome = if attempt.commit_sent {
                    "after its COMMIT was sent, outcome unknown"
                } else {
                    "again on another connection"
                };
                return Err(ApiError::unavailable(format_args!(
                    "database connection failed {outcome}: {failure}"
                )));
            }
        })
        .await?
    }
}

/// The first run and one more after a connection failure before COMMIT.
const MAX_ATTEMPTS: u32 = 2;

/// bcrypt on its own threads, one per core: a hash takes a core for tens to
/// hundreds of milliseconds, and must neither stall the async workers nor
/// occupy the few blocking threads that the database calls need. This is
/// "bcrypt in `web::block` with limited concurrency" with the limit made a
/// pool: `web::block`'s threads are sized to the database pool
/// (`startup::blocking_threads_per_worker`), so hashes there would queue
/// database calls behind them.
#[derive(Clone)]
pub struct Hashing {
    hasher: Arc<PasswordHasher>,
    threads: Arc<rayon::ThreadPool>,
}

impl Hashing {
    pub fn new(hasher: PasswordHasher, threads: usize) -> std::io::Result<Self> {
        let threads = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("bcrypt-{i}"))
            // Without a handler rayon aborts the process on a panic; with it
            // the job's sender is dropped and the request gets a 500.
            .panic_handler(|_| log::error!("a bcrypt job panicked"))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Self {
            hasher: Arc::new(hasher),
            threads: Arc::new(threads),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&PasswordHasher) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let hasher = Arc::clone(&self.hasher);
        self.threads.spawn(move || {
            // The receiver is gone only if the client went away while the job
            // queued: spend no core on a hash nobody will read.
            if tx.is_closed() {
                return;
            }
            let _ = tx.send(f(&hasher));
        });
        rx.await
            .map_err(|_| ApiError::internal("a bcrypt job ended without a result"))
    }

    pub async fn hash(&self, password: SecretString) -> Result<String, ApiError> {
        self.run(move |h| h.hash(&password))
            .await?
            .map_err(ApiError::internal)
    }

    pub async fn verify(&self, password: SecretString, hash: String) -> Result<bool, ApiError> {
        self.run(move |h| h.verify(&password, &hash)).await
    }

    /// A login's check: with a Django hash, the bcrypt hash to store in its
    /// place is computed in the same job (see `PasswordHasher::check`).
    pub async fn check(&self, password: SecretString, hash: String) -> Result<Checked, ApiError> {
        self.run(move |h| h.check(&password, &hash)).await
    }

    /// Spend a verify's time for a login that fails anyway.
    pub async fn verify_dummy(&self, password: SecretString) -> Result<(), ApiError> {
        self.run(move |h| h.verify_dummy(&password)).await
    }
}

#[cfg(test)]
mod tests;
