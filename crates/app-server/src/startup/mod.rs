//! Start-up in order: keys, password hasher, database (waiting, migrating),
//! the state the handlers share, then the server until SIGTERM or SIGINT has
//! drained it. The CLI's commands reuse the parts they need.

mod database;
mod error;
mod keys;

use std::io;
use std::sync::Arc;

use actix_web::web::{self, Bytes};
use actix_web::HttpServer;
use auth::{Authority, KeySet, LoginThrottle, PasswordHasher, TokenCodec};
use domain::{Backend, DatabaseUrl, Pool};

use crate::app::build_app;
use crate::blocking::{Db, Hashing};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::openapi;
use crate::session_cache::{self, SessionCache};
use crate::state::AppState;

pub use database::{pool, prepare_database};
pub use error::StartupError;
pub use keys::load_keys;

pub async fn serve(config: Config) -> Result<(), StartupError> {
    for warning in &config.warnings {
        log::warn!("{warning}");
    }
    let keys = load_keys(&config)?;
    let hasher = PasswordHasher::new(config.bcrypt_cost)?;
    let prepare_config = web::Data::new(config);
    let config = prepare_config.clone();
    web::block(move || prepare_database(&prepare_config))
        .await
        .map_err(|e| StartupError::Io(io::Error::other(e.to_string())))??;

    let state = web::Data::new(build_state(&config, pool(&config), keys, hasher)?);
    if let (DatabaseUrl::Postgres(url), true) = (&config.database_url, state.sessions.is_enabled())
    {
        session_cache::listener::start(url.clone(), state.sessions.clone())?;
    }
    let sender = crate::mail::start(&config, &state.mail, state.metrics.mail.clone())?;
    let openapi_json = web::Data::new(Bytes::from(openapi::document_json()));
    log::info!(
        "serving on http://{} with {} workers, database {}",
        config.bind,
        config.workers,
        config.database_url.redacted()
    );
    HttpServer::new(move || build_app(state.clone(), openapi_json.clone()))
        .workers(config.workers)
        .shutdown_timeout(30)
        .worker_max_blocking_threads(blocking_threads_per_worker(&config))
        .bind(config.bind)
        .map_err(|source| StartupError::Bind {
            addr: config.bind.to_string(),
            source,
        })?
        .run()
        .await?;
    if let Some(sender) = sender {
        sender.stop();
    }
    log::info!("stopped");
    Ok(())
}

/// Everything the handlers share.
pub fn build_state(
    config: &Config,
    pool: Pool,
    keys: KeySet,
    hasher: PasswordHasher,
) -> Result<AppState, StartupError> {
    let jwks_json =
        Bytes::from(serde_json::to_vec(keys.jwks()).unwrap_or_else(|_| b"{\"keys\":[]}".to_vec()));
    let authority = Authority::new(TokenCodec::new(keys, &config.tokens), config.tokens.clone());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let metrics = Arc::new(Metrics::new());
    // On PostgreSQL the cache serves only once its listener has subscribed.
    let sessions = SessionCache::new(
        config.session_cache_size,
        config.database_url.backend() == Backend::Sqlite,
        metrics.session_cache.clone(),
    );
    Ok(AppState {
        db: Db::new(pool, config.db_timeout, sessions.clone()),
        sessions,
        authority: Arc::new(authority),
        hashing: Hashing::new(hasher, cores)?,
        throttle: Arc::new(LoginThrottle {
            max_username_failures: config.login_max_failures,
            ..LoginThrottle::default()
        }),
        allow_registration: config.allow_registration,
        trusted_proxies: config.trusted_proxies.clone(),
        metrics,
        jwks_json,
        mail: crate::mail::MailState::new(config)?,
        browser: crate::browser::Browser::new(config.browser.clone()),
        serve_demo: config.environment == crate::config::Environment::Development,
    })
}

/// Blocking threads beyond the connections a worker can use only wait on the
/// pool, and every idle one costs a thread wake-up per call: a share of the
/// pool each. On PostgreSQL at least a few, though: a call there can wait on a
/// row lock or the network, and with one thread per worker (a small pool on
/// many cores) that wait would hold up every other call of the worker.
fn blocking_threads_per_worker(config: &Config) -> usize {
    let share = config
        .pool_size
        .div_ceil(config.workers.max(1) as u32)
        .max(1) as usize;
    match config.database_url.backend() {
        Backend::Postgres => share.max(MIN_BLOCKING_THREADS_POSTGRES),
        Backend::Sqlite => share,
    }
}

const MIN_BLOCKING_THREADS_POSTGRES: usize = 4;
