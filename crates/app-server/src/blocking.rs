//! Blocking work off the async workers: every diesel call and every bcrypt
//! hash runs on actix's blocking thread pool.

use std::sync::Arc;

use actix_web::web;
use auth::{PasswordHasher, SecretString};
use domain::{DbConnection, Pool};
use tokio::sync::Semaphore;

use crate::errors::ApiError;

/// The pool, used only from blocking threads.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
}

impl Db {
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// Check out a connection (waiting at most the pool's checkout timeout)
    /// and run `f` with it, all on a blocking thread.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            f(&mut conn).map_err(Into::into)
        })
        .await?
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

/// bcrypt with at most one hash per core at a time: more would only queue in
/// the scheduler and starve the database calls that share the blocking pool.
#[derive(Clone)]
pub struct Hashing {
    hasher: Arc<PasswordHasher>,
    permits: Arc<Semaphore>,
}

impl Hashing {
    pub fn new(hasher: PasswordHasher, concurrency: usize) -> Self {
        Self {
            hasher: Arc::new(hasher),
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&PasswordHasher) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = self.permits.acquire().await.map_err(ApiError::internal)?;
        let hasher = Arc::clone(&self.hasher);
        Ok(web::block(move || f(&hasher)).await?)
    }

    pub async fn hash(&self, password: SecretString) -> Result<String, ApiError> {
        self.run(move |h| h.hash(&password))
            .await?
            .map_err(ApiError::internal)
    }

    pub async fn verify(&self, password: SecretString, hash: String) -> Result<bool, ApiError> {
        self.run(move |h| h.verify(&password, &hash)).await
    }

    /// Spend a verify's time for a login that fails anyway.
    pub async fn verify_dummy(&self, password: SecretString) -> Result<(), ApiError> {
        self.run(move |h| h.verify_dummy(&password)).await
    }
}
