//! Why the server, or a CLI command, could not start: one line each, naming
//! the variable or the file to fix and never a secret.

use std::io;

use crate::env_vars::EnvError;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Config(#[from] EnvError),
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
