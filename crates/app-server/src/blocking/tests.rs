//! `Db::run` during a failover, on a real PostgreSQL (a schema of the test
//! cluster per test): a connection that fails before COMMIT is dropped and
//! the work runs once more elsewhere; after COMMIT was sent, or on a second
//! failure, the answer is 503 whatever the work made of the error.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::dsl::sql;
use diesel::sql_types::{BigInt, Bool, Integer, Text};
use diesel::{Connection, PgConnection, RunQueryDsl};
use domain::{build_pool, write_transaction, DatabaseUrl, DbConnection, PoolOptions, QueryError};
use test_support::TestDb;

use super::Db;
use crate::errors::ApiError;

struct Scratch {
    _db: TestDb,
    url: String,
}

impl Scratch {
    /// A schema with a table whose rows noted `slow` take half a second to
    /// COMMIT (a deferred trigger), long enough to lose the session meanwhile.
    fn new() -> Self {
        let db = TestDb::postgres();
        let url = db.url_string();
        let mut conn = PgConnection::establish(&url).expect("connect");
        conn.batch_execute(
            "CREATE TABLE items (id serial PRIMARY KEY, note text NOT NULL);
             CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN PERFORM pg_sleep(0.5); RETURN NULL; END $$;
             CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON items
               DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
               WHEN (NEW.note = 'slow') EXECUTE FUNCTION slow_commit();",
        )
        .expect("scratch schema");
        Self { _db: db, url }
    }

    /// A `Db` over `url` (this schema, or with more `-c` options appended).
    fn db_at(url: &str, statement_timeout: Option<Duration>) -> Db {
        let pool = build_pool(
            DatabaseUrl::parse(url).expect("a postgres URL"),
            &PoolOptions {
                max_size: 2,
                checkout_timeout: Duration::from_secs(5),
                statement_timeout,
            },
        );
        Db::new(
            pool,
            Duration::from_secs(5),
            crate::session_cache::SessionCache::disabled(),
        )
    }

    fn db(&self) -> Db {
        Self::db_at(&self.url, None)
    }

    fn count(&self, note: &str) -> i64 {
        let mut conn = PgConnection::establish(&self.url).expect("connect");
        diesel::select(sql::<BigInt>(&format!(
            "(SELECT count(*) FROM items WHERE note = '{note}')"
        )))
        .get_result(&mut conn)
        .expect("count")
    }
}

fn insert(conn: &mut DbConnection, note: &str) -> Result<usize, QueryError> {
    write_transaction(conn, |c| {
        diesel::sql_query("INSERT INTO items (note) VALUES ($1)")
            .bind::<Text, _>(note)
            .execute(c)
    })
}

fn backend_pid(conn: &mut DbConnection) -> i32 {
    let DbConnection::Pg(pg) = conn else {
        panic!("a PostgreSQL test got SQLite")
    };
    diesel::select(sql::<Integer>("pg_backend_pid()"))
        .get_result(pg)
        .expect("pid")
}

/// End a session from outside, as a primary going down does.
fn terminate(pid: i32) {
    let mut admin =
        PgConnection::establish(&test_support::postgres_admin_url()).expect("admin connection");
    let ok: bool = diesel::select(sql::<Bool>(&format!("pg_terminate_backend({pid}, 5000)")))
        .get_result(&mut admin)
        .expect("terminate");
    assert!(ok, "backend {pid} terminated");
}

fn calls() -> Arc<AtomicU32> {
    Arc::new(AtomicU32::new(0))
}

#[actix_web::test]
async fn a_session_ended_before_commit_runs_again_on_another_connection() {
    let s = Scratch::new();
    let db = s.db();
    let n = calls();
    let counter = n.clone();
    db.run(move |conn| {
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            terminate(backend_pid(conn));
        }
        insert(conn, "retried")
    })
    .await
    .expect("the second attempt stores it");
    assert_eq!(n.load(Ordering::SeqCst), 2);
    assert_eq!(s.count("retried"), 1, "stored once");
    // The dead session is gone from the pool: every later run gets a live one.
    for _ in 0..4 {
        let pid = db.run(|conn| Ok::<_, QueryError>(backend_pid(conn))).await;
        assert!(pid.is_ok_and(|p| p != 0));
    }
}

#[actix_web::test]
async fn a_read_only_session_is_dropped_and_the_write_lands_on_a_writable_one() {
    let s = Scratch::new();
    let db = s.db();
    let n = calls();
    let counter = n.clone();
    let read_only_pid = Arc::new(AtomicU32::new(0));
    let seen = read_only_pid.clone();
    db.run(move |conn| {
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            // This session now behaves like one to a demoted primary.
            conn.batch_execute("SET default_transaction_read_only = on")?;
            seen.store(backend_pid(conn) as u32, Ordering::SeqCst);
        }
        insert(conn, "moved")
    })
    .await
    .expect("stored on the second attempt");
    assert_eq!(n.load(Ordering::SeqCst), 2);
    assert_eq!(s.count("moved"), 1);
    // The read-only session passes the pool's ping, yet never comes back.
    let bad = read_only_pid.load(Ordering::SeqCst) as i32;
    for _ in 0..6 {
        let pid = db
            .run(|conn| {
                conn.check_writable()?;
                Ok::<_, QueryError>(backend_pid(conn))
            })
            .await
            .expect("writable");
        assert_ne!(pid, bad);
    }
}

#[actix_web::test]
async fn a_session_lost_after_commit_was_sent_is_not_repeated() {
    let s = Scratch::new();
    let db = s.db();
    let n = calls();
    let counter = n.clone();
    let result = db
        .run(move |conn| {
            counter.fetch_add(1, Ordering::SeqCst);
            let pid = backend_pid(conn);
            let killer = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(150));
                terminate(pid);
            });
            let stored = insert(conn, "slow");
            let _ = killer.join();
            stored
        })
        .await;
    assert!(matches!(result, Err(ApiError::Unavailable)), "{result:?}");
    assert_eq!(n.load(Ordering::SeqCst), 1, "never sent twice");
}

#[actix_web::test]
async fn a_second_failure_is_503_whatever_the_work_made_of_it() {
    let s = Scratch::new();
    let db = s.db();
    let n = calls();
    let counter = n.clone();
    let result = db
        .run(move |conn| {
            counter.fetch_add(1, Ordering::SeqCst);
            terminate(backend_pid(conn));
            // Work that reads a failed lookup as "no such token" must still
            // not answer 401 for a token it could not check.
            match insert(conn, "lost") {
                Ok(_) => Ok(()),
                Err(_) => Err(ApiError::TokenNotValid("Token is invalid")),
            }
        })
        .await;
    assert!(matches!(result, Err(ApiError::Unavailable)), "{result:?}");
    assert_eq!(n.load(Ordering::SeqCst), 2, "one retry, no more");
    assert_eq!(s.count("lost"), 0);
}

#[actix_web::test]
async fn a_statement_timeout_is_503_without_a_retry() {
    let s = Scratch::new();
    let db = Scratch::db_at(&s.url, Some(Duration::from_millis(200)));
    let n = calls();
    let counter = n.clone();
    let result = db
        .run(move |conn| {
            counter.fetch_add(1, Ordering::SeqCst);
            conn.batch_execute("SELECT pg_sleep(1)")
        })
        .await;
    assert!(matches!(result, Err(ApiError::Unavailable)), "{result:?}");
    assert_eq!(
        n.load(Ordering::SeqCst),
        1,
        "the connection is fine: no retry"
    );
}

#[actix_web::test]
async fn a_read_only_server_is_not_ready_but_still_reads() {
    let s = Scratch::new();
    // Every session of this pool is read-only, as on a standby.
    let url = format!("{}%20-cdefault_transaction_read_only%3Don", s.url);
    let db = Scratch::db_at(&url, None);
    let n = calls();
    let counter = n.clone();
    let result = db
        .run(move |conn| {
            counter.fetch_add(1, Ordering::SeqCst);
            conn.check_writable()
        })
        .await;
    assert!(matches!(result, Err(ApiError::Unavailable)), "{result:?}");
    assert_eq!(n.load(Ordering::SeqCst), 2);
    let read = db.run(|conn| conn.check_alive()).await;
    assert!(read.is_ok(), "{read:?}");
}
