//! One connection type for both backends, and the r2d2 pool over it.
//!
//! diesel's own `ConnectionManager<MultiConnection>` tries every backend and
//! throws the errors away (PostgreSQL down reads "Invalid connection url for
//! multiconnection", and `host=... dbname=...` silently becomes an SQLite file),
//! so the backend is picked here from the URL scheme and libpq's or SQLite's
//! real error reaches the user.

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::R2D2Connection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError};

use crate::failover::Watch;

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Run the same query expression on the concrete connection inside. Every
/// query goes through here: diesel's `MultiBackend` cannot render `RETURNING`
/// or `ON CONFLICT`, and it rebuilds and re-prepares the SQL of every query it
/// runs, where the concrete connections cache prepared statements. The query
/// builder types are backend-neutral, so each expression is written once.
///
/// Lookups by a unique key use `get_result(..).optional()`, never `first`:
/// `first` adds a bound `LIMIT`, which SQLite's planner reads, marking the
/// prepared statement stale at every new binding (its SQL parsed again on
/// each call).
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::connection::DbConnection::Pg($c) => $body,
            $crate::connection::DbConnection::Sqlite($c) => $body,
        }
    };
}

/// Where the data lives, parsed from `DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    Sqlite(PathBuf),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DatabaseUrlError {
    #[error("unsupported scheme (expected postgres://, postgresql:// or sqlite://)")]
    UnsupportedScheme,
    #[error("an sqlite:// URL needs a file path")]
    EmptySqlitePath,
}

/// Where the embedded database and the development secret live when
/// AUTH_DATA_DIR is unset, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "data";

impl DatabaseUrl {
    /// The database when DATABASE_URL is unset: the embedded SQLite file
    /// `auth.db` in the data dir. The server and `migrate` both start from
    /// here, so that they agree on it.
    pub fn embedded(data_dir: &Path) -> Self {
        Self::Sqlite(data_dir.join("auth.db"))
    }

    /// `sqlite://data/auth.db` is relative to the working directory,
    /// `sqlite:///abs/path.db` absolute; `postgres://` and `postgresql://` go to libpq.
    pub fn parse(url: &str) -> Result<Self, DatabaseUrlError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or(DatabaseUrlError::UnsupportedScheme)?;
        if path.is_empty() {
            return Err(DatabaseUrlError::EmptySqlitePath);
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// The URL with any password replaced, for messages and logs.
    pub fn redacted(&self) -> String {
        match self {
            Self::Postgres(url) => redact_password(url),
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
        }
    }

    /// Open one connection, creating the SQLite file (and its folder) if needed.
    pub fn connect(&self) -> Result<DbConnection, ConnectionError> {
        match self {
            Self::Postgres(url) => {
                let mut conn = PgConnection::establish(url)?;
                conn.set_instrumentation(Watch::default());
                // A read-committed snapshot per statement is what the rotation's
                // conditional UPDATE relies on; make it explicit for odd server defaults.
                conn.batch_execute(
                    "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED",
                )
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Pg(conn))
            }
            Self::Sqlite(path) => {
                create_parent_dir(path)?;
                let url = path.to_str().ok_or_else(|| {
                    ConnectionError::BadConnection("the SQLite path is not valid UTF-8".into())
                })?;
                let mut conn = SqliteConnection::establish(url)?;
                // busy_timeout first: the WAL switch itself takes a lock that the
                // pool's other fresh connections would otherwise fail on.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

fn create_parent_dir(path: &Path) -> Result<(), ConnectionError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir).map_err(|e| {
            ConnectionError::BadConnection(format!("cannot create {}: {e}", dir.display()))
        }),
        _ => Ok(()),
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_owned(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl DbConnection {
    /// A round trip to the server: does the database answer?
    pub fn check_alive(&mut self) -> diesel::QueryResult<()> {
        on_backend!(self, |c| c.batch_execute("SELECT 1"))
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Pg(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Run `f` in a transaction that holds the write lock from its first statement.
///
/// On SQLite that is `BEGIN IMMEDIATE`: a deferred transaction that reads first
/// and writes later can fail with SQLITE_BUSY when another writer got in between,
/// and no busy timeout helps there. PostgreSQL's plain `BEGIN` is what we want.
/// Nested calls become savepoints.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    type Tm = <DbConnection as Connection>::TransactionManager;
    let nested = matches!(
        Tm::transaction_manager_status_mut(conn).transaction_depth(),
        Ok(Some(_))
    );
    if nested {
        // inside a transaction already: the write lock is held, a savepoint suffices
        return conn.transaction(f);
    }
    // SQLite's busy handler sleeps 1, 2, 5, 10... ms between retries of a
    // locked database; transactions of this process queue on a mutex instead
    // and take the lock the moment it is free. Single-statement writes outside
    // `write_transaction`, and other processes, still meet the busy timeout.
    // The mutex is per process, not per file: writes to different SQLite
    // files (only tests have several) queue behind each other too. Nothing in a transaction waits for anything but SQLite,
    // so the mutex cannot deadlock; a panic inside only poisons it harmlessly.
    let _writer = match conn {
        DbConnection::Sqlite(inner) => {
            let guard = SQLITE_WRITER
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
            Some(guard)
        }
        DbConnection::Pg(_) => {
            Tm::begin_transaction(conn)?;
            None
        }
    };
    match f(conn) {
        Ok(value) => {
            Tm::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => match Tm::rollback_transaction(conn) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(error),
            Err(rollback_error) => Err(rollback_error.into()),
        },
    }
}

/// One `write_transaction` at a time among this process's SQLite connections.
static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// r2d2 manager that opens connections for one [`DatabaseUrl`].
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    statement_timeout: Option<Duration>,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl) -> Self {
        Self {
            url,
            statement_timeout: None,
        }
    }

    /// PostgreSQL's `statement_timeout` on every connection opened.
    pub fn with_statement_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.statement_timeout = timeout;
        self
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = ConnectionError;

    fn connect(&self) -> Result<DbConnection, ConnectionError> {
        let mut conn = self.url.connect()?;
        if let (DbConnection::Pg(pg), Some(timeout)) = (&mut conn, self.statement_timeout) {
            let ms = timeout.as_millis().clamp(1, i32::MAX as u128);
            pg.batch_execute(&format!("SET statement_timeout = {ms}"))
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
        }
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectionError> {
        conn.ping()
            .map_err(ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken()
    }
}

pub type Pool = r2d2::Pool<ConnectionManager>;
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: u32,
    /// How long a checkout waits before giving up: bounds every request's wait
    /// for a saturated or unreachable database.
    pub checkout_timeout: Duration,
    /// PostgreSQL only: a statement running longer (a lock held by someone
    /// else, a database too slow) is cancelled by the server, so that it
    /// gives its connection back instead of holding it until the lock goes;
    /// the checkout timeout alone cannot end a query already sent. `None`:
    /// no limit.
    pub statement_timeout: Option<Duration>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 10,
            checkout_timeout: Duration::from_secs(3),
            statement_timeout: None,
        }
    }
}

/// A pool that opens its connections lazily, so that building it never fails
/// because the database is down; [`Pool::get`] reports that instead.
pub fn build_pool(url: DatabaseUrl, options: &PoolOptions) -> Pool {
    r2d2::Pool::builder()
        .max_size(options.max_size)
        .min_idle(Some(0))
        .connection_timeout(options.checkout_timeout)
        // A PostgreSQL restart leaves dead sockets in the pool; the ping on
        // checkout replaces them instead of failing one request each. An
        // SQLite connection is a file handle that cannot go stale.
        .test_on_check_out(url.backend() == Backend::Postgres)
        .error_handler(Box::new(LogPoolErrors))
        .build_unchecked(
            ConnectionManager::new(url).with_statement_timeout(options.statement_timeout),
        )
}

/// r2d2 logs connection errors through its default handler at `error` level
/// with the raw URL; this keeps them but never prints more than libpq's text.
#[derive(Debug)]
struct LogPoolErrors;

impl r2d2::HandleError<ConnectionError> for LogPoolErrors {
    fn handle_error(&self, error: ConnectionError) {
        log::warn!(target: "domain::pool", "database connection failed: {}", error.to_string().trim_end());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_url_forms() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/auth.db"),
            Ok(DatabaseUrl::Sqlite("data/auth.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///abs/path.db"),
            Ok(DatabaseUrl::Sqlite("/abs/path.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://u:p@h/db").map(|u| u.backend()),
            Ok(Backend::Postgres)
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://h/db").map(|u| u.backend()),
            Ok(Backend::Postgres)
        );
        assert_eq!(
            DatabaseUrl::parse("host=h dbname=d"),
            Err(DatabaseUrlError::UnsupportedScheme)
        );
        assert_eq!(
            DatabaseUrl::parse("mysql://h/db"),
            Err(DatabaseUrlError::UnsupportedScheme)
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://"),
            Err(DatabaseUrlError::EmptySqlitePath)
        );
    }

    #[test]
    fn the_embedded_database_is_auth_db_in_the_data_dir() {
        assert_eq!(
            DatabaseUrl::embedded(Path::new(DEFAULT_DATA_DIR)),
            DatabaseUrl::parse("sqlite://data/auth.db").unwrap()
        );
        assert_eq!(
            DatabaseUrl::embedded(Path::new("/var/lib/auth/")).redacted(),
            "sqlite:///var/lib/auth/auth.db"
        );
    }

    #[test]
    fn redaction_hides_only_the_password() {
        let url =
            DatabaseUrl::parse("postgres://auth:s3cr%40t@db:5432/auth?sslmode=disable").unwrap();
        assert_eq!(
            url.redacted(),
            "postgres://auth:***@db:5432/auth?sslmode=disable"
        );
        let url = DatabaseUrl::parse("postgres://auth@db/auth").unwrap();
        assert_eq!(url.redacted(), "postgres://auth@db/auth");
        let url = DatabaseUrl::parse("postgresql://db/auth").unwrap();
        assert_eq!(url.redacted(), "postgresql://db/auth");
    }
}
