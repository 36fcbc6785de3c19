//! Sliding tokens (docs/API.md, "Sliding tokens"): `AUTH_SLIDING_TOKENS`
//! off, on and only; the token's claims; refresh keeping `jti`,
//! `refresh_exp` and `sid`; its two ends; and revocation by blacklist,
//! password change, global logout and deactivation. Through the real server
//! on SQLite and on PostgreSQL.

use std::time::Duration;

use domain::{Session, SessionId};
use serde_json::{json, Value};
use test_support::jwt::{claims, forge, now};
use test_support::{backend_tests, keys, Resp, Server, TestDb, PASSWORD};

use crate::app;

fn credentials(username: &str) -> Value {
    json!({"username": username, "password": PASSWORD})
}

/// A sliding token of a new session for `username` (registered here).
fn sliding_login(s: &Server, username: &str) -> String {
    s.register(username, PASSWORD);
    let r = s.post("/api/token/sliding/", credentials(username));
    assert_eq!(r.status, 200, "{}", r.text);
    r.str("token")
}

fn refresh(s: &Server, token: &str) -> Resp {
    s.post("/api/token/sliding/refresh/", json!({"token": token}))
}

fn claim(token: &str, name: &str) -> Value {
    claims(token)[name].clone()
}

fn int(token: &str, name: &str) -> i64 {
    claim(token, name)
        .as_i64()
        .unwrap_or_else(|| panic!("{name} in {}", claims(token)))
}

/// Bearer on a protected route, verify and refresh all accept the token.
#[track_caller]
fn assert_accepted(s: &Server, token: &str) {
    let r = s.get("/api/me/", Some(token));
    assert_eq!(r.status, 200, "Bearer: {}", r.text);
    let r = s.post("/api/token/verify/", json!({"token": token}));
    assert_eq!(r.status, 200, "verify: {}", r.text);
    let r = refresh(s, token);
    assert_eq!(r.status, 200, "refresh: {}", r.text);
}

/// Bearer, verify and refresh all refuse the token with `token_not_valid`.
#[track_caller]
fn assert_refused(s: &Server, token: &str) {
    s.get("/api/me/", Some(token)).assert_token_not_valid();
    s.post("/api/token/verify/", json!({"token": token}))
        .assert_error(401, "token_not_valid");
    refresh(s, token).assert_error(401, "token_not_valid");
}

fn on(db: &TestDb) -> Server {
    on_with(db, &[])
}

/// Sliding tokens `on`, with `more` settings.
fn on_with(db: &TestDb, more: &[(&str, &str)]) -> Server {
    app()
        .db(db)
        .env("AUTH_SLIDING_TOKENS", "on")
        .envs(more)
        .start()
}

fn off_routes_do_not_exist_and_sliding_tokens_are_refused(db: &TestDb) {
    let s = app().db(db).start();
    s.register("alice", PASSWORD);
    for path in [
        "/api/token/sliding/",
        "/api/token/sliding/refresh/",
        "/api/token/sliding",
    ] {
        s.post(path, credentials("alice"))
            .assert_error(404, "not_found");
        s.get(path, None).assert_error(404, "not_found");
    }
    let r = s.post("/api/token/", credentials("alice"));
    assert_eq!(keys(&r.body), ["access", "refresh"], "{}", r.text);

    // A token made while sliding tokens were on (signed with our key, of a
    // real session) is refused once they are off.
    let (access, _) = s.login("alice", PASSWORD);
    let mut sliding = claims(&access);
    sliding["token_type"] = json!("sliding");
    sliding["refresh_exp"] = json!(now() + 3600);
    let sliding = forge(&sliding);
    s.get("/api/me/", Some(&sliding)).assert_token_not_valid();
    let r = s.post("/api/token/verify/", json!({"token": sliding}));
    r.assert_error(401, "token_not_valid");
    assert_eq!(r.body["detail"], "Token has wrong type");
    s.post("/api/token/blacklist/", json!({"token": sliding}))
        .assert_error(401, "token_not_valid");
}

fn on_issues_a_sliding_token_with_its_claims_beside_pairs(db: &TestDb) {
    let s = on(db);
    let id = s.register("alice", PASSWORD)["id"].as_i64().unwrap();
    let pair = s.post("/api/token/", credentials("alice"));
    assert_eq!(keys(&pair.body), ["access", "refresh"], "{}", pair.text);

    let r = s.post("/api/token/sliding/", credentials("alice"));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body), ["token"]);
    assert!(r
        .header("cache-control")
        .is_some_and(|c| c.contains("no-store")));
    let token = r.str("token");
    let c = claims(&token);
    assert_eq!(
        keys(&c),
        [
            "admin",
            "exp",
            "iat",
            "jti",
            "refresh_exp",
            "sid",
            "sub",
            "token_type",
            "user_id",
            "username"
        ]
    );
    assert_eq!(c["token_type"], "sliding");
    assert_eq!(c["sub"], id.to_string());
    assert_eq!(c["user_id"], id.to_string());
    assert_eq!(c["username"], "alice");
    assert_eq!(c["admin"], false);
    let iat = int(&token, "iat");
    assert!((iat - now()).abs() <= 5, "iat is now: {c}");
    assert_eq!(int(&token, "exp"), iat + 300, "5 minutes");
    assert_eq!(int(&token, "refresh_exp"), iat + 86_400, "a day from login");
    assert!(c["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert_ne!(
        c["sid"],
        claim(&pair.str("access"), "sid"),
        "its own session"
    );

    assert_accepted(&s, &token);
    let me = s.get("/api/me/", Some(&token));
    assert_eq!(me.body["username"], "alice");
    assert!(me.body["last_login"].is_string(), "a login: {}", me.text);
    // A refresh token is no sliding token, nor the reverse.
    let r = refresh(&s, &pair.str("refresh"));
    r.assert_error(401, "token_not_valid");
    assert_eq!(r.body["detail"], "Token has wrong type");
    s.post("/api/token/refresh/", json!({"refresh": token}))
        .assert_error(401, "token_not_valid");
}

fn the_lifetimes_are_configured(db: &TestDb) {
    let s = on_with(
        db,
        &[
            ("AUTH_SLIDING_TOKEN_LIFETIME", "2m"),
            ("AUTH_SLIDING_TOKEN_REFRESH_LIFETIME", "3h"),
        ],
    );
    let token = sliding_login(&s, "alice");
    let iat = int(&token, "iat");
    assert_eq!(int(&token, "exp"), iat + 120);
    assert_eq!(int(&token, "refresh_exp"), iat + 3 * 3600);
}

fn sliding_login_fails_as_login_does(db: &TestDb) {
    let s = on_with(db, &[("AUTH_LOGIN_MAX_FAILURES", "3")]);
    s.register("alice", PASSWORD);
    let id = s.register("inactive", PASSWORD)["id"].as_i64().unwrap();
    let (_, admin) = s.admin("root");
    s.deactivate(&admin, id);

    let pair_answer = s.post(
        "/api/token/",
        json!({"username": "alice", "password": "wrong password!"}),
    );
    pair_answer.assert_error(401, "no_active_account");
    for (username, password) in [("nobody", PASSWORD), ("inactive", PASSWORD)] {
        let r = s.post(
            "/api/token/sliding/",
            json!({"username": username, "password": password}),
        );
        r.assert_error(401, "no_active_account");
        assert_eq!(r.body, pair_answer.body, "the same body as /api/token/");
    }
    s.post("/api/token/sliding/", json!({"username": "alice"}))
        .assert_field_error("password");

    // One throttle: failures on either route count together.
    for _ in 0..2 {
        s.post(
            "/api/token/sliding/",
            json!({"username": "alice", "password": "wrong password!"}),
        )
        .assert_error(401, "no_active_account");
    }
    let r = s.post("/api/token/sliding/", credentials("alice"));
    r.assert_error(429, "throttled");
    assert!(r.header("retry-after").is_some());
    s.post("/api/token/", credentials("alice"))
        .assert_error(429, "throttled");
}

fn refresh_keeps_jti_refresh_exp_and_sid(db: &TestDb) {
    let s = on(db);
    let first = sliding_login(&s, "alice");
    // iat and exp are whole seconds: let one pass.
    std::thread::sleep(Duration::from_millis(1100));
    let r = refresh(&s, &first);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body), ["token"]);
    assert!(r
        .header("cache-control")
        .is_some_and(|c| c.contains("no-store")));
    let second = r.str("token");
    for kept in ["jti", "refresh_exp", "sid", "sub", "user_id", "username"] {
        assert_eq!(claim(&second, kept), claim(&first, kept), "{kept} kept");
    }
    assert_eq!(claim(&second, "token_type"), "sliding");
    assert!(int(&second, "iat") > int(&first, "iat"), "a new iat");
    assert_eq!(int(&second, "exp"), int(&second, "iat") + 300, "a new exp");
    // A refresh retires nothing: both copies work, and refresh again.
    assert_accepted(&s, &first);
    assert_accepted(&s, &second);
    // The body is {"token"}.
    refresh(&s, "").assert_field_error("token");
    s.post("/api/token/sliding/refresh/", json!({"refresh": second}))
        .assert_field_error("token");
}

fn an_expired_sliding_token_is_not_refreshed(db: &TestDb) {
    let s = on_with(db, &[("AUTH_SLIDING_TOKEN_LIFETIME", "1s")]);
    let token = sliding_login(&s, "alice");
    // exp is whole seconds, accepted until the end of that second.
    std::thread::sleep(Duration::from_millis(2100));
    let r = refresh(&s, &token);
    r.assert_error(401, "token_not_valid");
    assert_eq!(r.body["detail"], "Token is expired");
    assert_refused(&s, &token);
}

fn nothing_is_refreshed_past_refresh_exp(db: &TestDb) {
    let s = on_with(db, &[("AUTH_SLIDING_TOKEN_REFRESH_LIFETIME", "2s")]);
    let token = sliding_login(&s, "alice");
    // exp is capped at refresh_exp, the session's end
    assert_eq!(int(&token, "exp"), int(&token, "refresh_exp"));
    assert_eq!(int(&token, "refresh_exp"), int(&token, "iat") + 2);
    assert_accepted(&s, &token);
    std::thread::sleep(Duration::from_millis(3100));
    assert_refused(&s, &token);

    // A token whose exp outlives its refresh_exp (as simplejwt can make
    // them): refused by refresh for its refresh_exp alone.
    let s = on(db);
    let live = sliding_login(&s, "bob");
    let mut c = claims(&live);
    c["refresh_exp"] = json!(now() - 1);
    let past = forge(&c);
    let r = refresh(&s, &past);
    r.assert_error(401, "token_not_valid");
    assert_eq!(r.body["detail"], "Token 'refresh_exp' claim has expired");
    let mut c = claims(&live);
    c.as_object_mut().unwrap().remove("refresh_exp");
    refresh(&s, &forge(&c)).assert_error(401, "token_not_valid");
}

fn blacklist_revokes_the_session_and_every_copy(db: &TestDb) {
    let s = on(db);
    let first = sliding_login(&s, "alice");
    let copy = refresh(&s, &first).str("token");
    let other = s
        .post("/api/token/sliding/", credentials("alice"))
        .str("token");

    let r = s.post("/api/token/blacklist/", json!({"token": copy}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({}));
    assert_refused(&s, &first);
    assert_refused(&s, &copy);
    s.post("/api/token/blacklist/", json!({"token": first}))
        .assert_error(401, "token_not_valid");
    // another login of the same user is another session
    assert_accepted(&s, &other);
    // an access token is not taken as {"token"}, nor a sliding one as {"refresh"}
    let (access, refresh_token) = s.login("alice", PASSWORD);
    s.post("/api/token/blacklist/", json!({"token": access}))
        .assert_error(401, "token_not_valid");
    s.post("/api/token/blacklist/", json!({"refresh": other}))
        .assert_error(401, "token_not_valid");
    let r = s.post("/api/token/blacklist/", json!({"refresh": refresh_token}));
    assert_eq!(r.status, 200, "pairs log out as before: {}", r.text);
    s.post("/api/token/blacklist/", json!({}))
        .assert_field_error("refresh");
}

fn password_change_logout_all_and_deactivation_revoke_sliding_sessions(db: &TestDb) {
    let s = on(db);
    let token = sliding_login(&s, "alice");
    let r = s.post_auth(
        "/api/me/password/",
        &token,
        Some(json!({"old_password": PASSWORD, "new_password": "another horse, another battery"})),
    );
    assert_eq!(r.status, 204, "{}", r.text);
    assert_refused(&s, &token);

    let token = sliding_login(&s, "bob");
    let second = s
        .post("/api/token/sliding/", credentials("bob"))
        .str("token");
    let r = s.post_auth("/api/logout/all/", &token, None);
    assert_eq!(r.status, 204, "{}", r.text);
    assert_refused(&s, &token);
    assert_refused(&s, &second);

    let token = sliding_login(&s, "carol");
    let id = s.get("/api/me/", Some(&token)).body["id"].as_i64().unwrap();
    let (_, admin) = s.admin("root");
    s.deactivate(&admin, id);
    assert_refused(&s, &token);
}

fn a_sliding_admin_token_opens_admin_routes(db: &TestDb) {
    let s = on(db);
    let (_, _) = s.admin("root");
    let token = s
        .post("/api/token/sliding/", credentials("root"))
        .str("token");
    assert_eq!(claim(&token, "admin"), true);
    let r = s.get("/api/admin/users/", Some(&token));
    assert_eq!(r.status, 200, "{}", r.text);
}

fn only_makes_the_pair_routes_sliding(db: &TestDb) {
    let s = app().db(db).env("AUTH_SLIDING_TOKENS", "only").start();
    s.register("alice", PASSWORD);
    let r = s.post("/api/token/", credentials("alice"));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body), ["token"], "no pair");
    assert!(r
        .header("cache-control")
        .is_some_and(|c| c.contains("no-store")));
    let token = r.str("token");
    assert_eq!(claim(&token, "token_type"), "sliding");
    assert_eq!(s.get("/api/me/", Some(&token)).status, 200);

    std::thread::sleep(Duration::from_millis(1100));
    let r = s.post("/api/token/refresh/", json!({"token": token}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body), ["token"]);
    let next = r.str("token");
    assert_eq!(claim(&next, "jti"), claim(&token, "jti"));
    assert!(int(&next, "iat") > int(&token, "iat"));
    s.post("/api/token/refresh/", json!({"refresh": next}))
        .assert_field_error("token");
    s.post(
        "/api/token/",
        json!({"username": "alice", "password": "wrong password!"}),
    )
    .assert_error(401, "no_active_account");

    // The routes of `on` are served too.
    let r = s.post("/api/token/sliding/", credentials("alice"));
    assert_eq!(keys(&r.body), ["token"], "{}", r.text);
    assert_eq!(refresh(&s, &next).status, 200);
    let r = s.post("/api/token/blacklist/", json!({"token": next}));
    assert_eq!(r.status, 200, "{}", r.text);
    s.post("/api/token/refresh/", json!({"token": token}))
        .assert_error(401, "token_not_valid");
}

fn flush_keeps_a_sliding_session_until_its_refresh_exp(db: &TestDb) {
    let s = on_with(db, &[("AUTH_SLIDING_TOKEN_REFRESH_LIFETIME", "2s")]);
    let token = sliding_login(&s, "alice");
    let sid = SessionId(claim(&token, "sid").as_str().unwrap().to_owned());
    let mut conn = db.connect();
    let out = s.cli(&["flush-expired-tokens"], None);
    assert!(out.status.success(), "flush: {}", out.stderr);
    assert!(
        Session::find(&mut conn, &sid).unwrap().is_some(),
        "kept before its refresh_exp"
    );
    std::thread::sleep(Duration::from_millis(3100));
    let out = s.cli(&["flush-expired-tokens"], None);
    assert!(out.status.success(), "flush: {}", out.stderr);
    assert!(
        Session::find(&mut conn, &sid).unwrap().is_none(),
        "deleted after its refresh_exp"
    );
}

/// The value of one series of /metrics, by its exact name and labels.
fn series(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn sliding_logins_and_refreshes_are_counted(db: &TestDb) {
    let s = on(db);
    let token = sliding_login(&s, "alice");
    assert_eq!(refresh(&s, &token).status, 200);
    refresh(&s, "not.a.token").assert_error(401, "token_not_valid");
    s.post(
        "/api/token/sliding/",
        json!({"username": "alice", "password": "wrong password!"}),
    )
    .assert_error(401, "no_active_account");
    let text = s.get("/metrics", None).text;
    let count = |series_name: &str| series(&text, series_name);
    assert_eq!(
        count("auth_logins_total{outcome=\"success\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(
        count("auth_logins_total{outcome=\"invalid_credentials\"}"),
        1.0
    );
    assert_eq!(count("auth_refreshes_total{outcome=\"success\"}"), 1.0);
    assert_eq!(count("auth_refreshes_total{outcome=\"invalid\"}"), 1.0);
}

/// A sliding login records its client as a pair's does; its session is
/// listed, and a sliding refresh writes nothing (`last_refreshed_at` stays
/// null).
fn a_sliding_session_is_listed_with_its_client(db: &TestDb) {
    let s = on(db);
    s.register("alice", PASSWORD);
    let r = s.request_with_headers(
        reqwest::Method::POST,
        "/api/token/sliding/",
        &[("user-agent", "Sliding/1.0")],
        Some(&credentials("alice")),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.str("token");
    let next = refresh(&s, &token);
    assert_eq!(next.status, 200, "{}", next.text);
    let r = s.get("/api/sessions/", Some(&next.str("token")));
    assert_eq!(r.status, 200, "{}", r.text);
    let list = r.body.as_array().expect("a list");
    assert_eq!(list.len(), 1, "{}", r.text);
    assert_eq!(list[0]["id"], claim(&token, "sid"));
    assert_eq!(list[0]["user_agent"], "Sliding/1.0");
    assert_eq!(list[0]["ip"], "127.0.0.1");
    assert_eq!(list[0]["current"], true);
    assert!(list[0]["last_refreshed_at"].is_null(), "{}", r.text);
}

backend_tests!(
    a_sliding_session_is_listed_with_its_client,
    off_routes_do_not_exist_and_sliding_tokens_are_refused,
    on_issues_a_sliding_token_with_its_claims_beside_pairs,
    the_lifetimes_are_configured,
    sliding_login_fails_as_login_does,
    refresh_keeps_jti_refresh_exp_and_sid,
    an_expired_sliding_token_is_not_refreshed,
    nothing_is_refreshed_past_refresh_exp,
    blacklist_revokes_the_session_and_every_copy,
    password_change_logout_all_and_deactivation_revoke_sliding_sessions,
    a_sliding_admin_token_opens_admin_routes,
    only_makes_the_pair_routes_sliding,
    flush_keeps_a_sliding_session_until_its_refresh_exp,
    sliding_logins_and_refreshes_are_counted,
);
