//! The failover part of docs/API.md through the real server: its PostgreSQL
//! database is "demoted" under it (every session ended, every new one
//! read-only, as when Patroni turns the old primary into a standby), then
//! "promoted" back.

use std::time::Duration;

use serde_json::json;
use test_support::{PgDatabase, Resp, PASSWORD};

use crate::app;

fn demote(pg: &PgDatabase, read_only: bool) {
    let setting = if read_only {
        "SET default_transaction_read_only = on"
    } else {
        "RESET default_transaction_read_only"
    };
    pg.admin(&format!("ALTER DATABASE {} {setting}", pg.name));
    pg.admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{}' AND pid <> pg_backend_pid()",
        pg.name
    ));
}

fn assert_unavailable(r: &Resp, what: &str) {
    assert_eq!(r.status, 503, "{what}: {}", r.text);
    r.assert_error(503, "unavailable");
    assert!(
        r.header("retry-after")
            .is_some_and(|v| v.parse::<u32>().is_ok_and(|s| s > 0)),
        "{what}: Retry-After in seconds"
    );
}

#[test]
fn a_read_only_database_gives_503_never_401_and_nothing_is_lost() {
    let pg = PgDatabase::create();
    let mut s = app()
        .database_url(&pg.url)
        .env("AUTH_DB_TIMEOUT", "2s")
        .start();
    let (_, access, refresh) = s.user("alice");
    s.register("bob", PASSWORD);

    demote(&pg, true);

    assert_unavailable(&s.get("/readyz", None), "readyz");
    // What needs no database keeps answering.
    assert_eq!(s.get("/healthz", None).status, 200);
    assert_eq!(s.get("/.well-known/jwks.json", None).status, 200);
    let r = s.post("/api/token/verify/", json!({"token": access}));
    assert_eq!(r.status, 200, "verify on an access token: {}", r.text);
    // Reads still work on a read-only server.
    let r = s.get("/api/me/", Some(&access));
    assert_eq!(r.status, 200, "{}", r.text);
    // Writes cannot: 503, never a 401 for a valid token.
    let r = s.post("/api/token/refresh/", json!({"refresh": refresh}));
    assert_unavailable(&r, "refresh");
    let r = s.post(
        "/api/token/",
        json!({"username": "alice", "password": PASSWORD}),
    );
    assert_unavailable(&r, "login");
    // Throttling fails closed: a wrong password whose failure cannot be
    // counted is refused with 503, not answered 401 uncounted.
    let r = s.post(
        "/api/token/",
        json!({"username": "bob", "password": "not the password"}),
    );
    assert_unavailable(&r, "login with a wrong password");
    let r = s.post(
        "/api/register/",
        json!({"username": "carol", "password": PASSWORD}),
    );
    assert_unavailable(&r, "register");

    demote(&pg, false);

    s.wait_for_status("/readyz", 200, Duration::from_secs(15));
    // The refresh that got 503 retired nothing: the same token rotates now,
    // and the family was not taken for reuse.
    let r = s.post("/api/token/refresh/", json!({"refresh": refresh}));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s.post("/api/token/refresh/", json!({"refresh": r.str("refresh")}));
    assert_eq!(r.status, 200, "{}", r.text);
    s.login("alice", PASSWORD);
    // No failure was counted for bob while nothing could be written.
    s.login("bob", PASSWORD);
    s.register("carol", PASSWORD);
    assert!(
        s.log()
            .contains("running the request again on another connection"),
        "the retry is logged"
    );
}

/// Sessions ended under a running server (a primary restarting): the pool
/// drops them and no request fails.
#[test]
fn sessions_ended_between_requests_fail_no_request() {
    let pg = PgDatabase::create();
    let s = app()
        .database_url(&pg.url)
        .env("AUTH_DB_TIMEOUT", "2s")
        .start();
    let (_, access, mut refresh) = s.user("alice");
    for round in 0..3 {
        demote(&pg, false);
        let r = s.get("/api/me/", Some(&access));
        assert_eq!(r.status, 200, "round {round}: {}", r.text);
        let r = s.post("/api/token/refresh/", json!({"refresh": refresh}));
        assert_eq!(r.status, 200, "round {round}: {}", r.text);
        refresh = r.str("refresh");
        assert_eq!(s.get("/readyz", None).status, 200);
    }
}
