//! The CSRF check: a login from a foreign page, and every request that a
//! cookie feeds or authenticates and that changes something, refused with
//! 403 `csrf_failed` and without effect unless it comes from a trusted
//! origin with the double-submitted token.

use reqwest::Method;
use serde_json::json;
use test_support::{backend_tests, TestDb, PASSWORD};

use super::*;

const ORIGIN_FAILED: &str = "CSRF Failed: Origin checking failed.";
const TOKEN_FAILED: &str = "CSRF Failed: CSRF token missing or incorrect.";

#[track_caller]
fn assert_csrf_failed(r: &Resp, detail: &str) {
    r.assert_error(403, "csrf_failed");
    assert_eq!(r.body["detail"], detail, "{}", r.text);
    assert!(set_cookies(r).is_empty(), "{:?}", set_cookies(r));
}

fn a_foreign_page_cannot_log_in(db: &TestDb) {
    let s = cookie_server(db, "refresh", &[("AUTH_LOGIN_MAX_FAILURES", "3")]);
    s.register("vic", PASSWORD);
    for origin in [
        FOREIGN,
        "null",
        "https://app.example.com:8443",
        "http://app.example.com",
    ] {
        let (r, _) = page_login(&s, origin, "vic");
        assert_csrf_failed(&r, ORIGIN_FAILED);
    }
    let r = s.request_with_headers(
        Method::POST,
        "/api/token/",
        &[("referer", "https://evil.example.net/page")],
        Some(&json!({"username": "vic", "password": PASSWORD})),
    );
    assert_csrf_failed(&r, ORIGIN_FAILED);
    // Refused before the password: wrong ones are not counted, no session
    // was opened.
    for _ in 0..5 {
        let r = s.request_with_headers(
            Method::POST,
            "/api/token/",
            &[("origin", FOREIGN)],
            Some(&json!({"username": "vic", "password": "wrong password"})),
        );
        assert_csrf_failed(&r, ORIGIN_FAILED);
    }
    let (access, _) = s.login("vic", PASSWORD);
    let sessions = s.get("/api/sessions/", Some(&access));
    assert_eq!(
        sessions.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        sessions.text
    );
}

fn cookie_fed_token_routes_need_origin_and_token(db: &TestDb) {
    let s = cookie_server(db, "refresh", &[]);
    let jar = signed_in(&s, "pat");
    let csrf = jar.csrf();
    for path in ["/api/token/refresh/", "/api/token/blacklist/"] {
        for (origin, token, detail) in [
            (None, Some(csrf.as_str()), ORIGIN_FAILED),
            (Some(FOREIGN), Some(csrf.as_str()), ORIGIN_FAILED),
            (Some("null"), Some(csrf.as_str()), ORIGIN_FAILED),
            (Some(ORIGIN), None, TOKEN_FAILED),
            (Some(ORIGIN), Some("not-the-token"), TOKEN_FAILED),
            (Some(ORIGIN), Some(""), TOKEN_FAILED),
        ] {
            let r = page_request(&s, Method::POST, path, &jar, origin, token, Some(json!({})));
            assert_csrf_failed(&r, detail);
        }
        // Without the csrftoken cookie the header matches nothing.
        let r = page_request(
            &s,
            Method::POST,
            path,
            &jar.without("csrftoken"),
            Some(ORIGIN),
            Some(&csrf),
            Some(json!({})),
        );
        assert_csrf_failed(&r, TOKEN_FAILED);
        // A foreign page is refused even when the browser sent no cookie.
        let r = page_request(
            &s,
            Method::POST,
            path,
            &Jar::default(),
            Some(FOREIGN),
            None,
            Some(json!({})),
        );
        assert_csrf_failed(&r, ORIGIN_FAILED);
    }
    // Nothing changed: the refresh cookie is still the live one.
    let r = page_refresh(&s, &jar);
    assert_eq!(r.status, 200, "{}", r.text);
    // The Referer stands in for a missing Origin.
    let mut jar = jar.clone();
    jar.take(&r);
    let cookie = jar.header();
    let csrf = jar.csrf();
    let r = s.request_with_headers(
        Method::POST,
        "/api/token/refresh/",
        &[
            ("cookie", &cookie),
            ("x-csrf-token", &csrf),
            ("referer", "https://app.example.com/app/"),
        ],
        Some(&json!({})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
}

fn unsafe_methods_with_the_access_cookie_need_the_check(db: &TestDb) {
    let s = cookie_server(db, "both", &[]);
    s.cli(
        &["create-user", "boss", "--admin"],
        Some(&format!("{PASSWORD}\n")),
    );
    let (_, admin) = page_login(&s, ORIGIN, "boss");
    let jar = signed_in(&s, "emp");
    let me = page_get(&s, "/api/me/", &jar);
    let id = me.body["id"].as_i64().expect("id");
    let sessions = page_get(&s, "/api/sessions/", &jar);
    let sid = sessions.body[0]["id"].as_str().expect("sid").to_owned();
    let password = json!({"old_password": PASSWORD, "new_password": "a brand new passphrase"});
    let attempts = [
        (Method::POST, "/api/logout/all/".to_owned(), None, &jar),
        (
            Method::POST,
            "/api/me/password/".to_owned(),
            Some(password.clone()),
            &jar,
        ),
        (Method::DELETE, format!("/api/sessions/{sid}/"), None, &jar),
        (
            Method::PATCH,
            format!("/api/admin/users/{id}/"),
            Some(json!({"is_active": false})),
            &admin,
        ),
        (
            Method::DELETE,
            format!("/api/admin/users/{id}/sessions/{sid}/"),
            None,
            &admin,
        ),
    ];
    for (method, path, body, jar) in &attempts {
        let foreign = page_request(
            &s,
            method.clone(),
            path,
            jar,
            Some(FOREIGN),
            Some(&jar.csrf()),
            body.clone(),
        );
        assert_csrf_failed(&foreign, ORIGIN_FAILED);
        let tokenless = page_request(
            &s,
            method.clone(),
            path,
            jar,
            Some(ORIGIN),
            None,
            body.clone(),
        );
        assert_csrf_failed(&tokenless, TOKEN_FAILED);
    }
    // Nothing changed: still signed in, active, with the same password.
    let me = page_get(&s, "/api/me/", &jar);
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["is_active"], true);
    s.login("emp", PASSWORD);
    // The page itself passes.
    let patch = trusted(
        &s,
        Method::PATCH,
        &format!("/api/admin/users/{id}/"),
        &admin,
        Some(json!({"is_admin": true})),
    );
    assert_eq!(patch.status, 200, "{}", patch.text);
    let end = trusted(
        &s,
        Method::DELETE,
        &format!("/api/sessions/{sid}/"),
        &jar,
        None,
    );
    assert_eq!(end.status, 204, "{}", end.text);
    page_get(&s, "/api/me/", &jar).assert_token_not_valid();
}

fn bearer_requests_are_not_affected(db: &TestDb) {
    let s = cookie_server(db, "both", &[]);
    s.register("api", PASSWORD);
    let (access, refresh) = s.login("api", PASSWORD);
    // A foreign Origin on a Bearer or body-token request changes nothing.
    let r = s.request_with_headers(
        Method::POST,
        "/api/token/refresh/",
        &[("origin", FOREIGN)],
        Some(&json!({"refresh": refresh})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let bearer = format!("Bearer {access}");
    let r = s.request_with_headers(
        Method::POST,
        "/api/logout/all/",
        &[("origin", FOREIGN), ("authorization", &bearer)],
        None,
    );
    assert_eq!(r.status, 204, "{}", r.text);
}

backend_tests!(
    a_foreign_page_cannot_log_in,
    cookie_fed_token_routes_need_origin_and_token,
    unsafe_methods_with_the_access_cookie_need_the_check,
    bearer_requests_are_not_affected,
);
