//! The failover rules on a real PostgreSQL (the cluster of `TEST_DATABASE_URL`,
//! a schema of our own per test): a terminated backend, a read-only session,
//! a statement timeout, and a COMMIT made slow by a deferred trigger.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::result::{DatabaseErrorKind, Error};
use diesel::sql_types::{Integer, Text};
use diesel::{Connection, PgConnection, RunQueryDsl};
use test_support::TestDb;

use super::*;
use crate::connection::{build_pool, write_transaction, DatabaseUrl, Pool, PoolOptions};

/// A schema with a table whose rows noted `slow` make their COMMIT take
/// `SLOW_COMMIT` (a deferred constraint trigger runs at COMMIT).
struct Scratch {
    db: TestDb,
    url: DatabaseUrl,
}

const SLOW_COMMIT: &str = "0.6";

impl Scratch {
    fn new() -> Self {
        let db = TestDb::postgres();
        let url = DatabaseUrl::parse(&db.url_string()).expect("a postgres URL");
        let mut conn = url.connect().expect("connect");
        conn.batch_execute(&format!(
            "CREATE TABLE items (id serial PRIMARY KEY, note text NOT NULL);
             CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN PERFORM pg_sleep({SLOW_COMMIT}); RETURN NULL; END $$;
             CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON items
               DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
               WHEN (NEW.note = 'slow') EXECUTE FUNCTION slow_commit();"
        ))
        .expect("scratch schema");
        Self { db, url }
    }

    fn pool(&self, statement_timeout: Option<Duration>) -> Pool {
        build_pool(
            self.url.clone(),
            &PoolOptions {
                // One connection: whatever the pool hands out next is either
                // the same session or, after a discard, a new one.
                max_size: 1,
                checkout_timeout: Duration::from_secs(10),
                statement_timeout,
            },
        )
    }

    fn count(&self, note: &str) -> i64 {
        let mut conn = self.url.connect().expect("connect");
        on_pg(&mut conn, |c| {
            diesel::select(sql::<diesel::sql_types::BigInt>(&format!(
                "(SELECT count(*) FROM items WHERE note = '{note}')"
            )))
            .get_result(c)
        })
        .expect("count")
    }

    /// A superuser connection outside the pool, for pg_terminate_backend.
    fn admin(&self) -> PgConnection {
        let _ = &self.db;
        PgConnection::establish(&test_support::postgres_admin_url()).expect("admin connection")
    }
}

fn on_pg<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut PgConnection) -> QueryResult<T>,
) -> QueryResult<T> {
    match conn {
        DbConnection::Pg(pg) => f(pg),
        DbConnection::Sqlite(_) => panic!("a PostgreSQL test got SQLite"),
    }
}

fn insert(conn: &mut DbConnection, note: &str) -> QueryResult<usize> {
    diesel::sql_query("INSERT INTO items (note) VALUES ($1)")
        .bind::<Text, _>(note)
        .execute(conn)
}

fn backend_pid(conn: &mut DbConnection) -> i32 {
    on_pg(conn, |c| {
        diesel::select(sql::<Integer>("pg_backend_pid()")).get_result(c)
    })
    .expect("pid")
}

fn terminate(admin: &mut PgConnection, pid: i32) {
    let ok: bool = diesel::select(sql::<diesel::sql_types::Bool>(&format!(
        "pg_terminate_backend({pid}, 5000)"
    )))
    .get_result(admin)
    .expect("terminate");
    assert!(ok, "backend {pid} terminated");
}

#[test]
fn a_terminated_backend_is_a_connection_failure_and_leaves_the_pool() {
    let s = Scratch::new();
    let pool = s.pool(None);
    let mut conn = pool.get().expect("checkout");
    let pid = backend_pid(&mut conn);
    terminate(&mut s.admin(), pid);

    conn.begin_attempt();
    let error = insert(&mut conn, "lost").expect_err("the session is gone");
    assert!(is_connection_error(&error), "{error:?}");
    let attempt = conn.attempt();
    assert!(attempt.connection_failure.is_some(), "{attempt:?}");
    // A self-committing INSERT counts as a COMMIT sent: not to be repeated.
    assert!(attempt.commit_sent);
    assert!(!attempt.may_retry());
    drop(conn);

    // The pool's next connection is a new one, and it works.
    let mut conn = pool.get().expect("checkout");
    assert_ne!(backend_pid(&mut conn), pid);
    conn.begin_attempt();
    insert(&mut conn, "kept").expect("insert on a new connection");
    assert_eq!(s.count("kept"), 1);
}

#[test]
fn a_read_only_session_fails_before_commit_and_is_discarded() {
    let s = Scratch::new();
    let pool = s.pool(None);
    let mut conn = pool.get().expect("checkout");
    let pid = backend_pid(&mut conn);
    // What a connection to a demoted primary (now a standby) meets.
    conn.batch_execute("SET default_transaction_read_only = on")
        .expect("set");
    conn.begin_attempt();
    let error = write_transaction(&mut conn, |c| insert(c, "refused")).expect_err("read-only");
    assert!(
        matches!(
            error,
            Error::DatabaseError(DatabaseErrorKind::ReadOnlyTransaction, _)
        ),
        "{error:?}"
    );
    let attempt = conn.attempt();
    assert!(
        attempt
            .connection_failure
            .as_deref()
            .is_some_and(|m| m.contains("read-only transaction")),
        "{attempt:?}"
    );
    assert!(!attempt.commit_sent, "failed at the INSERT, before COMMIT");
    assert!(attempt.may_retry());
    // libpq still sees a healthy session, and so does the pool's ping on
    // checkout: only discard() takes it out.
    conn.discard();
    drop(conn);
    let mut conn = pool.get().expect("checkout");
    assert_ne!(backend_pid(&mut conn), pid, "a new session");
    write_transaction(&mut conn, |c| insert(c, "stored")).expect("writable again");
    assert_eq!(s.count("refused"), 0);
    assert_eq!(s.count("stored"), 1);
}

#[test]
fn check_writable_tells_a_read_only_server() {
    let s = Scratch::new();
    let mut conn = s.url.connect().expect("connect");
    conn.begin_attempt();
    conn.check_writable().expect("a primary is writable");
    assert_eq!(conn.attempt(), Attempt::default());
    conn.batch_execute("SET default_transaction_read_only = on")
        .expect("set");
    let error = conn.check_writable().expect_err("read-only");
    assert!(is_connection_error(&error));
    assert!(conn.attempt().may_retry());
}

#[test]
fn a_statement_timeout_is_not_a_connection_failure() {
    let s = Scratch::new();
    let pool = s.pool(Some(Duration::from_millis(200)));
    let mut conn = pool.get().expect("checkout");
    let pid = backend_pid(&mut conn);
    conn.begin_attempt();
    let error = write_transaction(&mut conn, |c| {
        c.batch_execute("SELECT pg_sleep(1)")?;
        insert(c, "never")
    })
    .expect_err("cancelled by statement_timeout");
    assert!(
        error
            .to_string()
            .contains("canceling statement due to statement timeout"),
        "{error}"
    );
    assert!(!is_connection_error(&error));
    assert_eq!(conn.attempt(), Attempt::default());
    // The session is fine and goes back to the pool.
    drop(conn);
    assert_eq!(backend_pid(&mut pool.get().expect("checkout")), pid);
    assert_eq!(s.count("never"), 0);
}

/// Under synchronous replication a statement timeout firing during the
/// COMMIT's wait for the standby would report success for a transaction only
/// the primary has. PostgreSQL disarms the timeout before it commits; a slow
/// deferred trigger, which runs inside the commit as that wait does, shows it.
#[test]
fn statement_timeout_never_cuts_a_commit_short() {
    let s = Scratch::new();
    let pool = s.pool(Some(Duration::from_millis(200)));
    let mut conn = pool.get().expect("checkout");
    // The timeout is in force: a slow statement is cancelled.
    let error = conn
        .batch_execute(&format!("SELECT pg_sleep({SLOW_COMMIT})"))
        .expect_err("statement_timeout set");
    assert!(error.to_string().contains("statement timeout"), "{error}");

    let started = std::time::Instant::now();
    conn.begin_attempt();
    write_transaction(&mut conn, |c| insert(c, "slow")).expect("the COMMIT runs to its end");
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "the commit was slow"
    );
    assert!(conn.attempt().commit_sent);
    // A self-committing statement likewise.
    insert(&mut conn, "slow").expect("the implicit COMMIT runs to its end");
    assert_eq!(s.count("slow"), 2);
}

#[test]
fn a_session_lost_during_commit_is_not_to_be_retried() {
    let s = Scratch::new();
    let pool = s.pool(None);
    let mut conn = pool.get().expect("checkout");
    let pid = backend_pid(&mut conn);
    let killer = std::thread::spawn({
        let mut admin = s.admin();
        move || {
            std::thread::sleep(Duration::from_millis(200));
            terminate(&mut admin, pid);
        }
    });
    conn.begin_attempt();
    let error = write_transaction(&mut conn, |c| insert(c, "slow")).expect_err("session killed");
    killer.join().expect("killer thread");
    assert!(is_connection_error(&error), "{error:?}");
    let attempt = conn.attempt();
    assert!(attempt.connection_failure.is_some());
    assert!(attempt.commit_sent, "the COMMIT was on its way");
    assert!(!attempt.may_retry());
}

#[test]
fn only_reads_outside_a_transaction_leave_commit_unsent() {
    let s = Scratch::new();
    let mut conn = s.url.connect().expect("connect");
    conn.begin_attempt();
    conn.batch_execute("SET application_name = 'x'; SHOW work_mem")
        .expect("settings");
    conn.check_alive().expect("select");
    assert!(!conn.attempt().commit_sent);
    insert(&mut conn, "a").expect("insert");
    assert!(conn.attempt().commit_sent, "an autocommit INSERT commits");

    conn.begin_attempt();
    let _ = conn.transaction(|c| {
        insert(c, "b")?;
        Err::<(), _>(Error::RollbackTransaction)
    });
    assert!(!conn.attempt().commit_sent, "rolled back");
    write_transaction(&mut conn, |c| insert(c, "c")).expect("insert");
    assert!(conn.attempt().commit_sent);
}

#[test]
fn sqlite_has_no_failover_state() {
    let db = TestDb::sqlite();
    let url = DatabaseUrl::parse(&db.url_string()).expect("sqlite URL");
    let mut conn = url.connect().expect("connect");
    conn.begin_attempt();
    conn.batch_execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)")
        .expect("write");
    assert_eq!(conn.attempt(), Attempt::default());
    conn.check_writable().expect("a file is writable");
}

#[test]
fn connection_class_errors_by_kind_and_message() {
    let db = |kind, message: &str| Error::DatabaseError(kind, Box::new(message.to_owned()));
    use DatabaseErrorKind as K;
    assert!(is_connection_error(&db(K::ClosedConnection, "x")));
    assert!(is_connection_error(&db(K::UnableToSendCommand, "x")));
    assert!(is_connection_error(&db(K::ReadOnlyTransaction, "x")));
    assert!(is_connection_error(&db(
        K::Unknown,
        "terminating connection due to administrator command"
    )));
    assert!(is_connection_error(&db(
        K::Unknown,
        "FATAL:  the database system is shutting down"
    )));
    assert!(is_connection_error(&db(
        K::Unknown,
        "cannot execute UPDATE in a read-only transaction"
    )));
    assert!(is_connection_error(&Error::BrokenTransactionManager));
    assert!(!is_connection_error(&db(
        K::UniqueViolation,
        "duplicate key"
    )));
    assert!(!is_connection_error(&db(
        K::Unknown,
        "canceling statement due to statement timeout"
    )));
    assert!(!is_connection_error(&Error::NotFound));
}

#[test]
fn first_word_stops_before_the_rest() {
    let read = |sql: &str| {
        let mut head = FirstWord::default();
        let _ = write!(head, "{sql}");
        String::from_utf8_lossy(&head.word[..head.len]).into_owned()
    };
    assert_eq!(read("  SELECT 1"), "SELECT");
    assert_eq!(read("INSERT INTO t"), "INSERT");
    assert_eq!(read("set x = 1"), "set");
    assert_eq!(read("VERYLONGWORD x"), "VERYLONG");
}

/// The alternative to HAProxy (docs/ha.md): libpq's multi-host URL, which
/// skips a host that does not answer and one that is read-only.
#[test]
fn a_multi_host_url_reaches_the_host_that_takes_writes() {
    let admin = test_support::postgres_admin_url();
    let (scheme, rest) = admin.split_once("://").expect("a URL");
    let (userinfo, rest) = rest.rsplit_once('@').map_or(("", rest), |(u, r)| (u, r));
    let at = if userinfo.is_empty() { "" } else { "@" };
    let sep = if rest.contains('?') { '&' } else { '?' };
    // Port 1 refuses at once: the host behind it is down.
    let url = format!(
        "{scheme}://{userinfo}{at}127.0.0.1:1,{rest}{sep}target_session_attrs=read-write&connect_timeout=2"
    );
    let url = DatabaseUrl::parse(&url).expect("a postgres URL");
    assert!(
        url.redacted().contains("127.0.0.1:1,"),
        "{}",
        url.redacted()
    );
    let mut conn = url.connect().expect("the second host answers");
    conn.check_writable().expect("and takes writes");
}
