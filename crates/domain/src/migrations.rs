//! The embedded migration sets, one per backend, run against the matching variant.

use diesel::migration::{Migration, MigrationSource};
use diesel::pg::Pg;
use diesel::sqlite::Sqlite;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::connection::DbConnection;

const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MigrationError(String);

impl From<diesel::result::Error> for MigrationError {
    fn from(e: diesel::result::Error) -> Self {
        Self(e.to_string())
    }
}

impl MigrationError {
    fn from_boxed(e: Box<dyn std::error::Error + Send + Sync>) -> Self {
        Self(e.to_string())
    }
}

/// One migration and whether it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// The folder name, e.g. `2026-11-26-000001_create_users`.
    pub name: String,
    pub applied: bool,
}

/// Every migration of the connection's backend, in order, with its state.
pub fn status(conn: &mut DbConnection) -> Result<Vec<MigrationStatus>, MigrationError> {
    fn list<DB: diesel::backend::Backend, C: MigrationHarness<DB>>(
        conn: &mut C,
        source: EmbeddedMigrations,
    ) -> Result<Vec<MigrationStatus>, MigrationError> {
        let applied = conn
            .applied_migrations()
            .map_err(MigrationError::from_boxed)?;
        let all: Vec<Box<dyn Migration<DB>>> =
            source.migrations().map_err(MigrationError::from_boxed)?;
        Ok(all
            .iter()
            .map(|m| MigrationStatus {
                name: m.name().to_string(),
                applied: applied.contains(&m.name().version()),
            })
            .collect())
    }
    match conn {
        DbConnection::Pg(c) => list::<Pg, _>(c, POSTGRES),
        DbConnection::Sqlite(c) => list::<Sqlite, _>(c, SQLITE),
    }
}

/// Names of the migrations not yet applied.
pub fn pending(conn: &mut DbConnection) -> Result<Vec<String>, MigrationError> {
    Ok(status(conn)?
        .into_iter()
        .filter(|m| !m.applied)
        .map(|m| m.name)
        .collect())
}

/// The migration whose data step, done in Rust after the SQL (SQLite has
/// no Unicode normalization), stores usernames in their NFKC form.
pub const NFKC_USERNAMES: &str = "2026-12-02-001201_nfkc_usernames";

/// Apply every pending migration; returns the names applied. When
/// [`NFKC_USERNAMES`] is among them, existing usernames are normalized
/// where that collides with nothing (see `User::normalize_usernames`);
/// `User::username_collisions` lists the rows left.
pub fn run_pending(conn: &mut DbConnection) -> Result<Vec<String>, MigrationError> {
    let names = pending(conn)?;
    match conn {
        DbConnection::Pg(c) => c.run_pending_migrations(POSTGRES).map(drop),
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE).map(drop),
    }
    .map_err(MigrationError::from_boxed)?;
    if names.iter().any(|n| n == NFKC_USERNAMES) {
        crate::User::normalize_usernames(conn)
            .map_err(|e| MigrationError(format!("{NFKC_USERNAMES}: normalizing usernames: {e}")))?;
    }
    Ok(names)
}

/// Roll back the newest applied migration; `None` when nothing is applied.
pub fn revert_last(conn: &mut DbConnection) -> Result<Option<String>, MigrationError> {
    let Some(last) = status(conn)?.into_iter().rev().find(|m| m.applied) else {
        return Ok(None);
    };
    match conn {
        DbConnection::Pg(c) => c.revert_last_migration(POSTGRES).map(drop),
        DbConnection::Sqlite(c) => c.revert_last_migration(SQLITE).map(drop),
    }
    .map_err(MigrationError::from_boxed)?;
    Ok(Some(last.name))
}
