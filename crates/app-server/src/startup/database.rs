//! The database at start: wait for it to answer (a container starting next
//! to ours), then apply the migrations or refuse to serve while any is
//! pending, as AUTH_AUTO_MIGRATE says; and the pool the handlers share.

use std::time::{Duration, Instant};

use domain::{build_pool, migrations, DatabaseUrl, DbConnection, Pool, PoolOptions, User};

use super::error::StartupError;
use crate::config::Config;

/// Connect, retrying for AUTH_DB_STARTUP_WAIT, then apply or check the migrations.
pub fn prepare_database(config: &Config) -> Result<(), StartupError> {
    let mut conn = connect_with_retry(&config.database_url, config.db_startup_wait)?;
    let url = config.database_url.redacted();
    if config.auto_migrate {
        let applied = migrations::run_pending(&mut conn).map_err(|e| StartupError::Migration {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        for name in &applied {
            log::info!("applied migration {name}");
        }
        if applied.iter().any(|n| n == migrations::NFKC_USERNAMES) {
            for c in User::username_collisions(&mut conn).unwrap_or_default() {
                log::warn!(
                    "username not normalized: user {} (its NFKC form is taken; rename one of them)",
                    c.id
                );
            }
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
