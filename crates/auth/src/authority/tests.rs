//! The refresh decision is atomic in both modes, on both backends. During a
//! rolling change of AUTH_ROTATE_REFRESH_TOKENS one replica may rotate a
//! token while another, not rotating, refreshes the same token: the second
//! must not read the token as unused while the first has retired it and not
//! yet committed, and so hand out an access token for a token that is, by
//! the time it answers, reuse.

use std::sync::mpsc;
use std::thread::ScopedJoinHandle;
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::connection::SimpleConnection;
use diesel::RunQueryDsl;
use domain::time::to_db;
use domain::{write_transaction, DbConnection, NewUser, Session, SessionId, TokenId, User};
use test_support::{backend_tests, TestDb};

use crate::{Algorithm, Authority, KeySet, KeySource, TokenCodec, TokenError, TokenSettings};

fn authority(rotate_refresh_tokens: bool) -> Authority {
    let settings = TokenSettings {
        rotate_refresh_tokens,
        ..TokenSettings::default()
    };
    let secret = b"a test secret of at least 32 bytes, not a real one";
    let keys = KeySet::new(Algorithm::HS256, KeySource::Secret(secret)).expect("HMAC keys");
    Authority::new(TokenCodec::new(keys, &settings), settings)
}

fn add_user(conn: &mut DbConnection) -> User {
    let now = to_db(Utc::now());
    User::create(
        conn,
        &NewUser {
            username: "alice",
            email: None,
            password_hash: "not checked here",
            is_active: true,
            is_admin: false,
            date_joined: now,
            password_changed_at: now,
        },
    )
    .expect("create the user")
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Wait until `waiter` is blocked behind another transaction. PostgreSQL
/// shows it: the connection named `name` waits on a lock. SQLite's writers
/// queue on a mutex of this process, which nothing shows: give the thread
/// time to get there (if it has not, the test passes without having proved
/// anything, it cannot fail wrongly).
fn wait_until_blocked<T>(db: &TestDb, name: &str, waiter: &ScopedJoinHandle<'_, T>) {
    let DbConnection::Pg(mut pg) = db.connect() else {
        std::thread::sleep(Duration::from_millis(300));
        return;
    };
    let started = Instant::now();
    while !waiter.is_finished() {
        let waiting = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stat_activity \
             WHERE application_name = $1 AND wait_event_type = 'Lock'",
        )
        .bind::<diesel::sql_types::Text, _>(name)
        .get_result::<Count>(&mut pg)
        .expect("read pg_stat_activity");
        if waiting.n > 0 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the refresh neither waited for the rotation in flight nor finished"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn a_refresh_without_rotation_waits_for_a_rotation_in_flight_and_sees_the_reuse(db: &TestDb) {
    let mut conn = db.migrated();
    let user = add_user(&mut conn);
    let (rotating, keeping) = (authority(true), authority(false));
    let now = Utc::now();
    let first = rotating.login(&mut conn, &user, now).expect("login");
    let token = first.refresh.as_deref().expect("a refresh token");
    let rotating = &rotating;

    let (retired_tx, retired) = mpsc::channel();
    let (commit, commit_rx) = mpsc::channel();
    let name = format!("t{}", TokenId::random().0);
    let (rotated, refreshed) = std::thread::scope(|s| {
        let rotation = s.spawn(move || {
            let mut conn = db.connect();
            write_transaction(&mut conn, |c| {
                let pair = rotating.refresh(c, token, now)?;
                retired_tx.send(()).expect("the test waits");
                commit_rx.recv().expect("the test lets it commit");
                Ok::<_, TokenError>(pair)
            })
        });
        retired.recv().expect("the rotation retired the token");
        let mut conn = db.connect();
        if let DbConnection::Pg(pg) = &mut conn {
            pg.batch_execute(&format!("SET application_name = '{name}'"))
                .expect("name the connection");
        }
        let refresh = s.spawn(move || keeping.refresh(&mut conn, token, now));
        wait_until_blocked(db, &name, &refresh);
        commit.send(()).expect("the rotation waits");
        (
            rotation.join().expect("no panic"),
            refresh.join().expect("no panic"),
        )
    });

    let rotated = rotated.expect("the rotation commits");
    assert!(
        matches!(refreshed, Err(TokenError::Reused)),
        "the refresh saw the rotation's retirement: {:?}",
        refreshed.map(drop)
    );
    let successor = rotated.refresh.as_deref().expect("rotated");
    let sid = rotating.decode_any(successor).expect("a valid token").sid;
    let session = Session::find(&mut conn, &SessionId(sid))
        .expect("query")
        .expect("the family");
    assert_eq!(session.revoked_reason.as_deref(), Some("reuse_detected"));
}

backend_tests!(a_refresh_without_rotation_waits_for_a_rotation_in_flight_and_sees_the_reuse);
