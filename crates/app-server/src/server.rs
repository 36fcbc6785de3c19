//! Start-up (keys, database, migrations) and the application with its middleware.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Condition, ErrorHandlers, Logger};
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpServer};
use auth::{Authority, KeySet, KeySource, LoginThrottle, PasswordHasher, TokenCodec};
use domain::{build_pool, migrations, Backend, DatabaseUrl, DbConnection, Pool, PoolOptions};

use crate::blocking::{Db, Hashing};
use crate::config::{Config, KeyConfig};
use crate::envelope::ensure_envelope;
use crate::extract::body::{json_error, MAX_BODY_BYTES};
use crate::metrics::{self, Metrics};
use crate::state::AppState;
use crate::{openapi, routes};

/// Why the server (or a CLI command) could not start: one line each.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Config(#[from] crate::env_vars::EnvError),
    #[error("invalid {variable}: {reason}")]
    Keys {
        variable: &'static str,
        reason: String,
    },
    #[error("cannot reach the database at DATABASE_URL ({url}) after {waited}s: {reason}")]
    Database {
        url: String,
        waited: u64,
        reason: String,
    },
    #[error("{count} database migration(s) pending on DATABASE_URL ({url}): run `migrate` first, or set AUTH_AUTO_MIGRATE=true")]
    PendingMigrations { count: usize, url: String },
    #[error("migrating DATABASE_URL ({url}) failed: {reason}")]
    Migration { url: String, reason: String },
    #[error("invalid {variable}: {reason}")]
    Mail {
        variable: &'static str,
        reason: String,
    },
    #[error("cannot hash passwords: {0}")]
    Hashing(#[from] auth::HashError),
    #[error("cannot listen on AUTH_BIND ({addr}): {source}")]
    Bind { addr: String, source: io::Error },
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// The signing and verification keys from the configuration. In development
/// without AUTH_JWT_SECRET, a random secret is made once and kept in the data dir.
pub fn load_keys(config: &Config) -> Result<KeySet, StartupError> {
    use auth::ExposeSecret;
    let algorithm = config.tokens.algorithm;
    let keys = match &config.keys {
        KeyConfig::Secret(secret) => KeySet::new(
            algorithm,
            KeySource::Secret(secret.expose_secret().as_bytes()),
        )
        .map_err(|e| StartupError::Keys {
            variable: "AUTH_JWT_SECRET",
            reason: e.to_string(),
        })?,
        KeyConfig::GeneratedSecret(path) => {
            let secret = development_secret(path).map_err(|e| StartupError::Keys {
                variable: "AUTH_DATA_DIR",
                reason: format!("{}: {e}", path.display()),
            })?;
            KeySet::new(algorithm, KeySource::Secret(secret.as_bytes())).map_err(|e| {
                StartupError::Keys {
                    variable: "AUTH_JWT_SECRET",
                    reason: e.to_string(),
                }
            })?
        }
        KeyConfig::Pem {
            private_key_file,
            public_key_files,
        } => {
            let read = |variable: &'static str, path: &Path| {
                std::fs::read(path).map_err(|e| StartupError::Keys {
                    variable,
                    reason: format!("{}: {e}", path.display()),
                })
            };
            let private = read("AUTH_JWT_PRIVATE_KEY_FILE", private_key_file)?;
            let previous = public_key_files
                .iter()
                .map(|p| read("AUTH_JWT_PUBLIC_KEY_FILES", p))
                .collect::<Result<Vec<_>, _>>()?;
            KeySet::new(
                algorithm,
                KeySource::Pem {
                    private: &private,
                    previous_public: &previous,
                },
            )
            .map_err(|e| {
                let variable = match e {
                    auth::KeyError::BadPublicKey { .. } => "AUTH_JWT_PUBLIC_KEY_FILES",
                    _ => "AUTH_JWT_PRIVATE_KEY_FILE",
                };
                StartupError::Keys {
                    variable,
                    reason: e.to_string(),
                }
            })?
        }
    };
    Ok(keys)
}

/// Read the development secret, or make a random one readable by us only.
fn development_secret(path: &Path) -> io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(secret) if !secret.trim().is_empty() => return Ok(secret.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut bytes = [0u8; 48];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(secret.as_bytes())?;
    log::info!("made a development JWT secret in {}", path.display());
    Ok(secret)
}

/// Connect, retrying for `wait`, then apply or check the migrations as configured.
pub fn prepare_database(config: &Config) -> Result<(), StartupError> {
    let mut conn = connect_with_retry(&config.database_url, config.db_startup_wait)?;
    let url = config.database_url.redacted();
    if config.auto_migrate {
        let applied = migrations::run_pending(&mut conn).map_err(|e| StartupError::Migration {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        for name in applied {
            log::info!("applied migration {name}");
        }
    } else {
        let pending = migrations::pending(&mut conn).map_err(|e| StartupError::Migration {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        if !pending.is_empty() {
            return Err(StartupError::PendingMigrations {
                count: pending.len(),
                url,
            });
        }
    }
    Ok(())
}

fn connect_with_retry(url: &DatabaseUrl, wait: Duration) -> Result<DbConnection, StartupError> {
    let started = Instant::now();
    let mut warned = false;
    loop {
        match url.connect() {
            Ok(conn) => return Ok(conn),
            Err(e) if started.elapsed() >= wait => {
                return Err(StartupError::Database {
                    url: url.redacted(),
                    waited: started.elapsed().as_secs(),
                    reason: e
                        .to_string()
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .to_owned(),
                })
            }
            Err(e) => {
                if !warned {
                    log::warn!(
                        "waiting for the database at {}: {}",
                        url.redacted(),
                        e.to_string().trim()
                    );
                    warned = true;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
}

pub fn pool(config: &Config) -> Pool {
    build_pool(
        config.database_url.clone(),
        &PoolOptions {
            max_size: config.pool_size,
            checkout_timeout: config.db_timeout,
            // A query blocked on a lock or a stalled database must not hold
            // its connection (and its request) past AUTH_DB_TIMEOUT either.
            statement_timeout: Some(config.db_timeout),
        },
    )
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
    Ok(AppState {
        db: Db::new(pool, config.db_timeout),
        authority: Arc::new(authority),
        hashing: Hashing::new(hasher, cores)?,
        throttle: Arc::new(LoginThrottle {
            max_username_failures: config.login_max_failures,
            ..LoginThrottle::default()
        }),
        allow_registration: config.allow_registration,
        trusted_proxies: config.trusted_proxies.clone(),
        metrics: Metrics::new(),
        jwks_json,
        mail: crate::mail::MailState::new(config)?,
    })
}

/// The application: routes, body limits, error envelopes, metrics and the
/// access log. Shared by `serve` and the tests.
pub fn build_app(
    state: web::Data<AppState>,
    openapi_json: web::Data<Bytes>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(state)
        .app_data(openapi_json)
        .app_data(
            web::JsonConfig::default()
                .limit(MAX_BODY_BYTES)
                .error_handler(json_error),
        )
        .app_data(
            web::PathConfig::default()
                .error_handler(|_, _| crate::errors::ApiError::NotFound.into()),
        )
        .configure(routes::configure)
        .default_service(web::to(routes::not_found))
        .wrap(ErrorHandlers::new().default_handler(ensure_envelope))
        // The path without its query string, and no headers but the request id:
        // tokens and passwords never reach the log.
        // Left out entirely when `access` logging is off (RUST_LOG=warn): the
        // logger renders its fields for every response whether or not the
        // line is then printed.
        .wrap(Condition::new(
            log::log_enabled!(target: "access", log::Level::Info),
            Logger::new("%a \"%{method}xi %U\" %s %b %Dms rid=%{x-request-id}i")
                .custom_request_replace("method", |req| req.method().to_string())
                .log_target("access"),
        ))
        .wrap(from_fn(metrics::track))
}

/// Start-up in order: keys, password hasher, database (waiting, migrating),
/// then the server until SIGTERM or SIGINT has drained it.
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
