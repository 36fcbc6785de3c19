//! Login throttling by username and by client address, with the counters in
//! the database: they survive restarts and hold across replicas.

use reqwest::Method;
use serde_json::json;
use test_support::{backend_tests, Resp, Server, TestDb, PASSWORD};

use crate::app;

fn login(s: &Server, username: &str, password: &str, forwarded_for: Option<&str>) -> Resp {
    let headers: Vec<(&str, &str)> = forwarded_for
        .map(|xff| ("x-forwarded-for", xff))
        .into_iter()
        .collect();
    s.request_with_headers(
        Method::POST,
        "/api/token/",
        &headers,
        Some(&json!({"username": username, "password": password})),
    )
}

#[track_caller]
fn assert_throttled(r: &Resp) {
    r.assert_error(429, "throttled");
    let retry_after: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("whole seconds");
    assert!(
        (1..=15 * 60).contains(&retry_after),
        "within the 15-minute window: {retry_after}"
    );
}

fn username_is_throttled_after_max_failures(db: &TestDb) {
    let s = app().db(db).env("AUTH_LOGIN_MAX_FAILURES", "3").start();
    s.register("alice", PASSWORD);
    s.register("bob", PASSWORD);
    for _ in 0..3 {
        login(&s, "alice", "wrong password", None).assert_error(401, "no_active_account");
    }
    // the rest of the window: refused even with the right password
    assert_throttled(&login(&s, "alice", PASSWORD, None));
    assert_throttled(&login(&s, "alice", PASSWORD, None));
    // another username is not affected
    assert_eq!(login(&s, "bob", PASSWORD, None).status, 200);
}

fn malformed_and_refused_attempts_do_not_count(db: &TestDb) {
    let s = app().db(db).env("AUTH_LOGIN_MAX_FAILURES", "3").start();
    s.register("alice", PASSWORD);
    for _ in 0..5 {
        s.post("/api/token/", json!({"username": "alice"}))
            .assert_error(400, "invalid");
        s.post("/api/token/", json!({"username": "alice", "password": 42}))
            .assert_error(400, "invalid");
    }
    for _ in 0..2 {
        login(&s, "alice", "wrong password", None).assert_error(401, "no_active_account");
    }
    assert_eq!(
        login(&s, "alice", PASSWORD, None).status,
        200,
        "only two failures so far"
    );
    login(&s, "alice", "wrong password", None).assert_error(401, "no_active_account");
    assert_throttled(&login(&s, "alice", PASSWORD, None));
}

/// Refused (429) attempts are not failures: they add to neither counter.
/// The address counter (100) shows it. Two failures throttle alice; 98
/// more attempts of hers are refused. Had those counted, this address would
/// be at 100 and throttled for everyone; it is at 2, so 97 more failures
/// (99) leave bob free, and the 100th failure throttles him.
fn refused_attempts_do_not_count_as_failures(db: &TestDb) {
    let s = app().db(db).env("AUTH_LOGIN_MAX_FAILURES", "2").start();
    s.register("alice", PASSWORD);
    s.register("bob", PASSWORD);
    for _ in 0..2 {
        login(&s, "alice", "wrong password", None).assert_error(401, "no_active_account");
    }
    for i in 0..98 {
        let password = if i % 2 == 0 {
            PASSWORD
        } else {
            "wrong password"
        };
        assert_throttled(&login(&s, "alice", password, None));
    }
    assert_eq!(
        login(&s, "bob", PASSWORD, None).status,
        200,
        "98 refusals did not reach the address limit"
    );
    // 97 failures more, one per username (under the username limit of 2)
    for i in 0..97 {
        login(&s, &format!("guess{i}"), "wrong password", None)
            .assert_error(401, "no_active_account");
    }
    assert_eq!(
        login(&s, "bob", PASSWORD, None).status,
        200,
        "99 failures from this address: not yet throttled"
    );
    login(&s, "guess97", "wrong password", None).assert_error(401, "no_active_account");
    assert_throttled(&login(&s, "bob", PASSWORD, None));
    // alice is still throttled by her own window, which the refusals left as it was
    assert_throttled(&login(&s, "alice", PASSWORD, None));
}

/// Without AUTH_LOGIN_MAX_FAILURES the contract's default of 10 holds: ten
/// failures get 401, the eleventh attempt 429, even with the right password.
fn the_default_limit_is_10_failures(db: &TestDb) {
    let s = app().db(db).start();
    assert!(
        !s.env().iter().any(|(k, _)| k == "AUTH_LOGIN_MAX_FAILURES"),
        "the default is under test"
    );
    s.register("alice", PASSWORD);
    for i in 0..10 {
        let r = login(&s, "alice", "wrong password", None);
        assert_eq!(r.status, 401, "failure {}: {}", i + 1, r.text);
        r.assert_error(401, "no_active_account");
    }
    assert_throttled(&login(&s, "alice", PASSWORD, None));
    assert_throttled(&login(&s, "alice", "wrong password", None));
}

fn counters_survive_restarts_and_hold_across_replicas(db: &TestDb) {
    let mut a = app().db(db).env("AUTH_LOGIN_MAX_FAILURES", "2").start();
    let b = app().db(db).env("AUTH_LOGIN_MAX_FAILURES", "2").start();
    a.register("alice", PASSWORD);
    login(&a, "alice", "wrong password", None).assert_error(401, "no_active_account");
    login(&b, "alice", "wrong password", None).assert_error(401, "no_active_account");
    assert_throttled(&login(&a, "alice", PASSWORD, None));
    assert_throttled(&login(&b, "alice", PASSWORD, None));
    a.restart();
    assert_throttled(&login(&a, "alice", PASSWORD, None));
}

fn one_address_is_throttled_after_100_failures(db: &TestDb) {
    // a high per-username limit, so only the address counter can trip
    let s = app().db(db).env("AUTH_LOGIN_MAX_FAILURES", "1000").start();
    s.register("alice", PASSWORD);
    for i in 0..100 {
        login(&s, &format!("guess{}", i % 7), "wrong password", None)
            .assert_error(401, "no_active_account");
    }
    assert_throttled(&login(&s, "alice", PASSWORD, None));
}

fn forwarded_for_is_believed_only_from_trusted_proxies(db: &TestDb) {
    let proxied = app()
        .db(db)
        .envs(&[
            ("AUTH_LOGIN_MAX_FAILURES", "1000"),
            ("AUTH_TRUSTED_PROXIES", "127.0.0.1"),
        ])
        .start();
    proxied.register("alice", PASSWORD);
    for i in 0..100 {
        login(
            &proxied,
            &format!("guess{i}"),
            "wrong password",
            Some("198.51.100.7"),
        )
        .assert_error(401, "no_active_account");
    }
    assert_throttled(&login(&proxied, "alice", PASSWORD, Some("198.51.100.7")));
    // another client behind the same proxy is not
    assert_eq!(
        login(&proxied, "alice", PASSWORD, Some("203.0.113.9")).status,
        200
    );
    // a forged left-most hop does not escape: nginx appends the real peer
    assert_throttled(&login(
        &proxied,
        "alice",
        PASSWORD,
        Some("1.2.3.4, 198.51.100.7"),
    ));

    // without a trusted proxy the header is ignored: every attempt is the peer's
    let direct = app().db(db).env("AUTH_LOGIN_MAX_FAILURES", "1000").start();
    for i in 0..100 {
        login(
            &direct,
            &format!("other{i}"),
            "wrong password",
            Some(&format!("10.0.{}.{}", i / 250, i % 250)),
        )
        .assert_error(401, "no_active_account");
    }
    assert_throttled(&login(&direct, "alice", PASSWORD, Some("203.0.113.9")));
}

backend_tests!(
    username_is_throttled_after_max_failures,
    malformed_and_refused_attempts_do_not_count,
    refused_attempts_do_not_count_as_failures,
    the_default_limit_is_10_failures,
    counters_survive_restarts_and_hold_across_replicas,
    one_address_is_throttled_after_100_failures,
    forwarded_for_is_believed_only_from_trusted_proxies,
);
