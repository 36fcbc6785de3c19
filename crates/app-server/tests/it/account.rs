//! Registration and the current user's account, through the real server on
//! SQLite and on PostgreSQL.

use reqwest::Method;
use serde_json::{json, Value};
use test_support::{assert_user_shape, backend_tests, Server, TestDb, PASSWORD};

use crate::app;

fn register_returns_the_new_user(db: &TestDb) {
    let s = app().db(db).start();
    let r = s.post(
        "/api/register/",
        json!({"username": "alice", "password": PASSWORD}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_user_shape(&r.body);
    assert_eq!(r.body["username"], "alice");
    assert_eq!(r.body["email"], Value::Null);
    assert_eq!(
        (r.body["is_active"].clone(), r.body["is_admin"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(r.body["last_login"], Value::Null);

    let r = s.post(
        "/api/register/",
        json!({"username": "bob", "password": PASSWORD, "email": "bob@example.com"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["email"], "bob@example.com");
    // email is not unique
    let r = s.post(
        "/api/register/",
        json!({"username": "bob2", "password": PASSWORD, "email": "bob@example.com"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.body["id"].as_i64() > Some(1));
}

fn register_refuses_taken_usernames(db: &TestDb) {
    let s = app().db(db).start();
    s.register("alice", PASSWORD);
    s.post(
        "/api/register/",
        json!({"username": "alice", "password": "another fine password"}),
    )
    .assert_error(409, "username_taken");
    // compared case-sensitively, as Django does
    assert_eq!(
        s.post(
            "/api/register/",
            json!({"username": "Alice", "password": PASSWORD})
        )
        .status,
        201
    );
    s.post(
        "/api/token/",
        json!({"username": "ALICE", "password": PASSWORD}),
    )
    .assert_error(401, "no_active_account");
}

/// nginx resends a registration whose replica died after committing it, with
/// the same X-Request-Id: from a trusted proxy that same request gets the user
/// it made; any other request for the username is refused as taken.
fn a_trusted_proxys_resend_of_a_registration_gets_the_same_user(db: &TestDb) {
    let rid = "0d9c2e7a4b1f4e8f9a6b3c5d7e9f1a2b";
    let register_as = |s: &Server, username: &str, rid: &str| {
        s.request_with_headers(
            Method::POST,
            "/api/register/",
            &[("X-Request-Id", rid)],
            Some(&json!({"username": username, "password": PASSWORD})),
        )
    };

    let proxied = app()
        .db(db)
        .env("AUTH_TRUSTED_PROXIES", "127.0.0.1")
        .start();
    let first = register_as(&proxied, "alice", rid);
    assert_eq!(first.status, 201, "{}", first.text);
    let resent = register_as(&proxied, "alice", rid);
    assert_eq!(resent.status, 201, "{}", resent.text);
    assert_eq!(resent.body, first.body, "the same user, as first answered");
    register_as(&proxied, "alice", "another-request").assert_error(409, "username_taken");
    proxied
        .post(
            "/api/register/",
            json!({"username": "alice", "password": PASSWORD}),
        )
        .assert_error(409, "username_taken");

    // from anyone else the header means nothing
    let direct = app().db(db).start();
    assert_eq!(register_as(&direct, "carol", rid).status, 201);
    register_as(&direct, "carol", rid).assert_error(409, "username_taken");
}

fn register_applies_the_password_policy(db: &TestDb) {
    let s = app().db(db).start();
    let refused = |username: &str, password: &str| {
        let r = s.post(
            "/api/register/",
            json!({"username": username, "password": password}),
        );
        r.assert_field_error("password");
        r.body["fields"]["password"].to_string()
    };
    assert!(refused("u1", "Zq9!xT2").contains("short"), "7 characters");
    assert!(refused("u1", &"x".repeat(73)).contains("long"), "73 bytes");
    assert!(
        refused("u1", &"€".repeat(25)).contains("long"),
        "25 characters but 75 bytes"
    );
    assert!(
        refused("longusername", "LongUserName").contains("similar"),
        "equal to the username"
    );
    for common in ["password", "12345678", "qwertyuiop", "Password1"] {
        assert!(
            refused("u1", common).contains("common"),
            "{common} is common"
        );
    }
    for (i, ok) in ["Zq9!xT2#", &"ab".repeat(36), "éééééééé", "correct horse"]
        .iter()
        .enumerate()
    {
        let r = s.post(
            "/api/register/",
            json!({"username": format!("ok{i}"), "password": ok}),
        );
        assert_eq!(r.status, 201, "{ok:?} is allowed: {}", r.text);
    }
}

fn register_validates_username_and_email(db: &TestDb) {
    let s = app().db(db).start();
    for bad in [
        "",
        "with space",
        "semi;colon",
        "tab\tname",
        &"u".repeat(151),
    ] {
        s.post(
            "/api/register/",
            json!({"username": bad, "password": PASSWORD}),
        )
        .assert_field_error("username");
    }
    for (i, good) in ["Zoë", "用户", "a.b+c-d_e@f", &"u".repeat(150)]
        .iter()
        .enumerate()
    {
        let r = s.post(
            "/api/register/",
            json!({"username": good, "password": format!("{PASSWORD} {i}")}),
        );
        assert_eq!(r.status, 201, "{good:?}: {}", r.text);
    }
    // 254 characters is the longest email accepted (255 is refused below)
    let longest = format!("{}@b.c", "a".repeat(250));
    assert_eq!(longest.chars().count(), 254);
    let r = s.post(
        "/api/register/",
        json!({"username": "longmail", "password": PASSWORD, "email": longest}),
    );
    assert_eq!(r.status, 201, "a 254-character email: {}", r.text);
    assert_eq!(r.body["email"], longest.as_str(), "stored whole");
    for bad in [
        "no-at",
        "two@@example.com",
        "a@b@c",
        "@example.com",
        "a@",
        &format!("{}@b.c", "a".repeat(251)),
    ] {
        s.post(
            "/api/register/",
            json!({"username": "eve", "password": PASSWORD, "email": bad}),
        )
        .assert_field_error("email");
    }
    s.post(
        "/api/register/",
        json!({"username": "eve", "password": PASSWORD, "email": 5}),
    )
    .assert_field_error("email");
    s.post("/api/register/", json!({"username": "eve"}))
        .assert_field_error("password");
    s.post("/api/register/", json!({"password": PASSWORD}))
        .assert_field_error("username");
    s.post(
        "/api/register/",
        json!({"username": ["eve"], "password": PASSWORD}),
    )
    .assert_field_error("username");
    s.post_raw("/api/register/", Some("text/plain"), "{}")
        .assert_error(415, "unsupported_media_type");
    s.post_raw("/api/register/", Some("application/json"), "{nope")
        .assert_error(400, "invalid");
}

fn registration_can_be_turned_off(db: &TestDb) {
    let s = app().db(db).env("AUTH_ALLOW_REGISTRATION", "false").start();
    s.post(
        "/api/register/",
        json!({"username": "alice", "password": PASSWORD}),
    )
    .assert_error(403, "permission_denied");
    // the CLI still creates users
    let (_, access) = s.admin("root");
    assert_eq!(s.get("/api/me/", Some(&access)).status, 200);
}

fn me_returns_the_current_user(db: &TestDb) {
    let s = app().db(db).start();
    let (id, access, _) = s.user("alice");
    let r = s.get("/api/me/", Some(&access));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_user_shape(&r.body);
    assert_eq!(
        (r.body["id"].as_i64(), r.body["username"].as_str()),
        (Some(id), Some("alice"))
    );
    let r = s.get("/api/me/", None);
    r.assert_error(401, "not_authenticated");
    assert_eq!(
        r.header("www-authenticate").as_deref(),
        Some("Bearer realm=\"api\"")
    );
}

fn logins_update_last_login(db: &TestDb) {
    let s = app().db(db).start();
    s.register("alice", PASSWORD);
    let (access, _) = s.login("alice", PASSWORD);
    let first = s.get("/api/me/", Some(&access)).body["last_login"]
        .as_str()
        .expect("set by the login")
        .to_owned();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (access, _) = s.login("alice", PASSWORD);
    let second = s.get("/api/me/", Some(&access)).body["last_login"]
        .as_str()
        .unwrap()
        .to_owned();
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap();
    assert!(parse(&second) > parse(&first), "{first} then {second}");
    // a failed login changes nothing
    s.post(
        "/api/token/",
        json!({"username": "alice", "password": "wrong password"}),
    );
    assert_eq!(s.get("/api/me/", Some(&access)).body["last_login"], second);
}

fn password_change_revokes_every_session(db: &TestDb) {
    let s = app().db(db).start();
    let (_, access1, refresh1) = s.user("alice");
    let (access2, refresh2) = s.login("alice", PASSWORD);
    let (_, bob_access, _) = s.user("bob");
    let new = "a brand new passphrase";
    let r = s.post_auth(
        "/api/me/password/",
        &access1,
        Some(json!({"old_password": PASSWORD, "new_password": new})),
    );
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.text.is_empty());
    for refresh in [&refresh1, &refresh2] {
        s.post("/api/token/refresh/", json!({"refresh": refresh}))
            .assert_token_not_valid();
    }
    for access in [&access1, &access2] {
        s.get("/api/me/", Some(access)).assert_token_not_valid();
    }
    assert_eq!(
        s.get("/api/me/", Some(&bob_access)).status,
        200,
        "other users keep their sessions"
    );
    s.post(
        "/api/token/",
        json!({"username": "alice", "password": PASSWORD}),
    )
    .assert_error(401, "no_active_account");
    let (access, _) = s.login("alice", new);
    assert_eq!(s.get("/api/me/", Some(&access)).status, 200);
}

fn password_change_checks_both_passwords(db: &TestDb) {
    let s = app().db(db).start();
    let (_, access, _) = s.user("alice");
    let change = |body: Value| s.post_auth("/api/me/password/", &access, Some(body));
    change(json!({"old_password": "not my password", "new_password": "a brand new passphrase"}))
        .assert_field_error("old_password");
    change(json!({"old_password": PASSWORD, "new_password": "short"}))
        .assert_field_error("new_password");
    change(json!({"old_password": PASSWORD, "new_password": "password"}))
        .assert_field_error("new_password");
    change(json!({"old_password": PASSWORD, "new_password": "alice"}))
        .assert_field_error("new_password");
    change(json!({"old_password": PASSWORD, "new_password": "x".repeat(73)}))
        .assert_field_error("new_password");
    change(json!({"old_password": PASSWORD})).assert_field_error("new_password");
    change(json!({"new_password": "a brand new passphrase"})).assert_field_error("old_password");
    // nothing above changed anything
    assert_eq!(s.get("/api/me/", Some(&access)).status, 200);
    s.login("alice", PASSWORD);
    s.request(
        reqwest::Method::POST,
        "/api/me/password/",
        None,
        Some(&json!({"old_password": PASSWORD, "new_password": "x y z w v u"})),
    )
    .assert_error(401, "not_authenticated");
}

fn logout_all_revokes_every_session(db: &TestDb) {
    let s = app().db(db).start();
    let (_, access1, refresh1) = s.user("alice");
    let (access2, refresh2) = s.login("alice", PASSWORD);
    let r = s.post_auth("/api/logout/all/", &access1, None);
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.text.is_empty(), "a 204 has no body: {:?}", r.text);
    for refresh in [&refresh1, &refresh2] {
        s.post("/api/token/refresh/", json!({"refresh": refresh}))
            .assert_token_not_valid();
    }
    s.get("/api/me/", Some(&access2)).assert_token_not_valid();
    s.post_auth("/api/logout/all/", &access2, None)
        .assert_token_not_valid();
    s.request(reqwest::Method::POST, "/api/logout/all/", None, None)
        .assert_error(401, "not_authenticated");
    // logging in again starts afresh
    let (access, _) = s.login("alice", PASSWORD);
    assert_eq!(s.get("/api/me/", Some(&access)).status, 200);
}

backend_tests!(
    register_returns_the_new_user,
    register_refuses_taken_usernames,
    a_trusted_proxys_resend_of_a_registration_gets_the_same_user,
    register_applies_the_password_policy,
    register_validates_username_and_email,
    registration_can_be_turned_off,
    me_returns_the_current_user,
    logins_update_last_login,
    password_change_revokes_every_session,
    password_change_checks_both_passwords,
    logout_all_revokes_every_session,
);
