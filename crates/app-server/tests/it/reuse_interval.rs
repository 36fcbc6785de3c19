//! The refresh reuse interval (`AUTH_REFRESH_REUSE_INTERVAL`): two tabs
//! refreshing with the same token, through the real server on SQLite and on
//! PostgreSQL.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use serde_json::json;
use test_support::jwt::claims;
use test_support::{backend_tests, Server, TestDb};

use crate::app;

/// A server whose AUTH_REFRESH_REUSE_INTERVAL is `interval`.
fn with_interval(db: &TestDb, interval: &str) -> Server {
    app()
        .db(db)
        .env("AUTH_REFRESH_REUSE_INTERVAL", interval)
        .start()
}

fn refresh(s: &Server, token: &str) -> test_support::Resp {
    s.post("/api/token/refresh/", json!({ "refresh": token }))
}

#[track_caller]
fn refreshed(s: &Server, token: &str) -> (String, String) {
    let r = refresh(s, token);
    assert_eq!(r.status, 200, "{}", r.text);
    (r.str("access"), r.str("refresh"))
}

/// `retired` presented again was taken as reuse: refused, and its family
/// ended (the newest access and refresh tokens are refused too).
#[track_caller]
fn assert_reuse(s: &Server, retired: &str, access: &str, newest: &str) {
    refresh(s, retired).assert_token_not_valid();
    s.get("/api/me/", Some(access)).assert_token_not_valid();
    refresh(s, newest).assert_token_not_valid();
}

fn within_the_interval_the_retired_token_gets_the_same_successor(db: &TestDb) {
    let s = with_interval(db, "30s");
    let (_, _, r0) = s.user("alice");
    let (a1, r1) = refreshed(&s, &r0);
    // the second tab, with the token the first one just retired
    let (a1b, r1b) = refreshed(&s, &r0);
    assert_eq!(r1b, r1, "the same successor, byte for byte (HS256)");
    assert_ne!(
        claims(&a1b)["jti"],
        claims(&a1)["jti"],
        "a fresh access token"
    );
    assert_eq!(claims(&a1b)["sid"], claims(&r0)["sid"]);
    for access in [&a1, &a1b] {
        assert_eq!(s.get("/api/me/", Some(access)).status, 200);
    }
    // the successor works once it is used, and then the retired token is reuse
    let (a2, r2) = refreshed(&s, &r1);
    assert_reuse(&s, &r0, &a2, &r2);
}

fn a_used_successor_makes_it_reuse(db: &TestDb) {
    let s = with_interval(db, "30s");
    let (_, _, r0) = s.user("alice");
    let (_, r1) = refreshed(&s, &r0);
    let (a2, r2) = refreshed(&s, &r1);
    // r1 was used: presenting r0 again is reuse, and ends the family
    assert_reuse(&s, &r0, &a2, &r2);
    // and so is r1 itself within its own interval, now that the family is revoked
    refresh(&s, &r1).assert_token_not_valid();
}

fn outside_the_interval_it_is_reuse(db: &TestDb) {
    let s = with_interval(db, "1s");
    let (_, _, r0) = s.user("alice");
    let (a1, r1) = refreshed(&s, &r0);
    // past the interval (a wait, never a bound: only "later" matters)
    std::thread::sleep(Duration::from_millis(2100));
    assert_reuse(&s, &r0, &a1, &r1);
}

fn by_default_a_retired_token_is_reuse_at_once(db: &TestDb) {
    let s = app().db(db).start();
    let (_, _, r0) = s.user("alice");
    let (a1, r1) = refreshed(&s, &r0);
    assert_reuse(&s, &r0, &a1, &r1);
}

fn a_revoked_family_gets_nothing_within_the_interval(db: &TestDb) {
    let s = with_interval(db, "30s");
    let (_, _, r0) = s.user("alice");
    let (_, r1) = refreshed(&s, &r0);
    // logging out with the successor ends the family; the retired token
    // then buys nothing
    let r = s.post("/api/token/blacklist/", json!({ "refresh": r1 }));
    assert_eq!(r.status, 200, "{}", r.text);
    refresh(&s, &r0).assert_token_not_valid();
}

fn logging_out_with_the_retired_token_is_reuse_within_the_interval(db: &TestDb) {
    let s = with_interval(db, "30s");
    let (_, _, r0) = s.user("alice");
    let (a1, r1) = refreshed(&s, &r0);
    // logging out is never taken for a second tab
    s.post("/api/token/blacklist/", json!({ "refresh": r0 }))
        .assert_token_not_valid();
    s.get("/api/me/", Some(&a1)).assert_token_not_valid();
    refresh(&s, &r1).assert_token_not_valid();
    refresh(&s, &r0).assert_token_not_valid();
}

fn a_proxys_resend_is_answered_whatever_the_interval(db: &TestDb) {
    let s = app()
        .db(db)
        .env("AUTH_REFRESH_REUSE_INTERVAL", "1s")
        .env("AUTH_TRUSTED_PROXIES", "127.0.0.1")
        .start();
    let as_request = |token: &str, rid: &str| {
        s.request_with_headers(
            reqwest::Method::POST,
            "/api/token/refresh/",
            &[("X-Request-Id", rid)],
            Some(&json!({ "refresh": token })),
        )
    };
    let (_, _, r0) = s.user("alice");
    let lost = as_request(&r0, "request-1");
    assert_eq!(lost.status, 200, "{}", lost.text);
    // past the interval, within the proxy's resend window
    std::thread::sleep(Duration::from_millis(2100));
    let resent = as_request(&r0, "request-1");
    assert_eq!(resent.status, 200, "{}", resent.text);
    assert_eq!(resent.str("refresh"), lost.str("refresh"));
    // another request with it, past the interval, is reuse
    as_request(&r0, "request-2").assert_token_not_valid();
    refresh(&s, &lost.str("refresh")).assert_token_not_valid();
}

fn tabs_refreshing_together_all_stay_signed_in(db: &TestDb) {
    let s = Arc::new(with_interval(db, "30s"));
    for round in 0..3 {
        let (_, _, r0) = s.user(&format!("tabs{round}"));
        let n = 6;
        let barrier = Arc::new(Barrier::new(n));
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let (s, r0, barrier) = (Arc::clone(&s), r0.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    let r = refresh(&s, &r0);
                    (r.status, r.body["refresh"].as_str().map(str::to_owned))
                })
            })
            .collect();
        let answers: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(answers.iter().all(|(st, _)| *st == 200), "{answers:?}");
        let successor = answers[0].1.clone().expect("a refresh token");
        assert!(
            answers
                .iter()
                .all(|(_, r)| r.as_deref() == Some(&successor)),
            "one successor for every tab: {answers:?}"
        );
        refreshed(&s, &successor);
    }
}

backend_tests!(
    within_the_interval_the_retired_token_gets_the_same_successor,
    a_used_successor_makes_it_reuse,
    outside_the_interval_it_is_reuse,
    by_default_a_retired_token_is_reuse_at_once,
    a_revoked_family_gets_nothing_within_the_interval,
    logging_out_with_the_retired_token_is_reuse_within_the_interval,
    a_proxys_resend_is_answered_whatever_the_interval,
    tabs_refreshing_together_all_stay_signed_in,
);
