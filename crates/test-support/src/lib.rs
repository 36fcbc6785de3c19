//! Every test gets its own database: a fresh SQLite file in a temp dir, or a
//! fresh schema in the PostgreSQL cluster named by `TEST_DATABASE_URL` (which
//! `scripts/test.sh` starts). Both are dropped with the [`TestDb`].
//!
//! PostgreSQL tests fail, never skip, when no cluster is configured: a check
//! that silently does not run is worse than a red one.

pub mod smtp;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::Connection;
use domain::{build_pool, Backend, DatabaseUrl, DbConnection, Pool, PoolOptions};

pub const PG_ENV: &str = "TEST_DATABASE_URL";

pub struct TestDb {
    url: DatabaseUrl,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, schema: String },
}

impl TestDb {
    pub fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Self::sqlite(),
            Backend::Postgres => Self::postgres(),
        }
    }

    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = DatabaseUrl::Sqlite(dir.path().join("auth.db"));
        Self {
            url,
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    pub fn postgres() -> Self {
        let admin_url = postgres_admin_url();
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = diesel::PgConnection::establish(&admin_url)
            .unwrap_or_else(|e| panic!("cannot reach the test cluster at {admin_url}: {e}"));
        admin
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .expect("create schema");
        let sep = if admin_url.contains('?') { '&' } else { '?' };
        let url =
            DatabaseUrl::Postgres(format!("{admin_url}{sep}options=-csearch_path%3D{schema}"));
        Self {
            url,
            cleanup: Cleanup::Postgres { admin_url, schema },
        }
    }

    pub fn backend(&self) -> Backend {
        self.url.backend()
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The URL as a `DATABASE_URL` value, for spawned binaries.
    pub fn url_string(&self) -> String {
        match &self.url {
            DatabaseUrl::Postgres(url) => url.clone(),
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
        }
    }

    /// A new connection, without migrations.
    pub fn connect(&self) -> DbConnection {
        self.url.connect().expect("connect to the test database")
    }

    /// A connection to a database with every migration applied.
    pub fn migrated(&self) -> DbConnection {
        let mut conn = self.connect();
        domain::migrations::run_pending(&mut conn).expect("migrations apply");
        conn
    }

    /// A pool over the migrated database.
    pub fn pool(&self, max_size: u32) -> Pool {
        drop(self.migrated());
        build_pool(
            self.url.clone(),
            &PoolOptions {
                max_size,
                checkout_timeout: Duration::from_secs(10),
                statement_timeout: None,
            },
        )
    }
}

pub fn postgres_admin_url() -> String {
    std::env::var(PG_ENV).unwrap_or_else(|_| {
        panic!(
            "{PG_ENV} is not set. The PostgreSQL tests need a server: run `scripts/test.sh`, \
             which starts a throwaway cluster on loopback, or set {PG_ENV}=postgres://..."
        )
    })
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, schema } = &self.cleanup {
            if let Ok(mut admin) = diesel::PgConnection::establish(admin_url) {
                let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
        }
    }
}

/// Run each named test body, `fn(&TestDb)`, once per backend:
/// `backend_tests!(creates_user, rotates);` makes `sqlite::creates_user`,
/// `postgres::creates_user`, ...
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(&$crate::TestDb::sqlite());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    super::$name(&$crate::TestDb::postgres());
                }
            )*
        }
    };
}

/// The migration folders of a backend, in order: what `domain` embeds and
/// `migrate` applies, so a new migration needs no change in the tests.
pub fn migration_names(backend: Backend) -> Vec<String> {
    let folder = match backend {
        Backend::Postgres => "postgres",
        Backend::Sqlite => "sqlite",
    };
    let dir: std::path::PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "..", "migrations", folder]
        .iter()
        .collect();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry"))
        .filter(|e| e.path().join("up.sql").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(!names.is_empty(), "migrations in {}", dir.display());
    names
}
