//! Password reset: the request, the message, the confirmation, and every
//! refusal of the contract.

use reqwest::Method;
use serde_json::{json, Value};
use test_support::smtp::SmtpSink;
use test_support::{backend_tests, TestDb};

use super::support::*;
use test_support::PASSWORD;

const NEW: &str = "a brand new passphrase";

fn a_reset_works_end_to_end_and_ends_every_session(db: &TestDb) {
    let sink = SmtpSink::start();
    let s = mail_server(db, &sink, &[]);
    register(&s, "alice", Some("alice@example.com"));
    let (access, refresh) = s.login("alice", PASSWORD);
    let r = request_reset(&s, "Alice@Example.com");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"detail": "Password reset e-mail has been sent."})
    );
    let m = wait_message(&sink, "alice@example.com", "Password reset", 1);
    assert_eq!(m.to, ["alice@example.com"]);
    assert_eq!(m.from, "auth@example.com");
    assert_eq!(m.header("Subject").as_deref(), Some("Password reset"));
    assert!(m
        .header("Content-Type")
        .unwrap_or_default()
        .starts_with("multipart/alternative"));
    assert!(m.data.contains("text/plain") && m.data.contains("text/html"));
    assert!(
        m.message_id().ends_with("@example.com>"),
        "{}",
        m.message_id()
    );
    let (uid, token) = reset_parts(&m);
    assert!(!s.log().contains(&token), "the token is never logged");

    let r = confirm(&s, &uid, &token, NEW, NEW);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"detail": "Password has been reset with the new password."})
    );
    s.post(
        "/api/token/",
        json!({"username": "alice", "password": PASSWORD}),
    )
    .assert_error(401, "no_active_account");
    s.login("alice", NEW);
    s.post("/api/token/refresh/", json!({ "refresh": refresh }))
        .assert_token_not_valid();
    s.get("/api/me/", Some(&access)).assert_token_not_valid();
    // single use
    confirm(
        &s,
        &uid,
        &token,
        "yet another passphrase",
        "yet another passphrase",
    )
    .assert_field_error("token");
    assert_eq!(
        confirm(&s, &uid, &token, "x", "y").body["fields"]["token"],
        json!(["Invalid value"])
    );
}

fn known_and_unknown_addresses_get_the_same_answer_and_work(db: &TestDb) {
    let sink = SmtpSink::start();
    let s = mail_server(db, &sink, &[]);
    register(&s, "known", Some("known@example.com"));
    let id = register(&s, "gone", Some("gone@example.com"));
    let (_, admin) = s.admin("root");
    s.deactivate(&admin, id);
    let mut answers = Vec::new();
    for email in [
        "known@example.com",
        "nobody@example.com",
        "gone@example.com",
    ] {
        let r = request_reset(&s, email);
        let mut headers: Vec<(String, String)> = r
            .headers
            .iter()
            .filter(|(k, _)| *k != "date")
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        headers.sort();
        answers.push((r.status, r.text.clone(), headers));
    }
    assert_eq!(answers[0], answers[1], "known and unknown");
    assert_eq!(answers[0], answers[2], "known and inactive");
    // the same database work: one outbox row per request either way
    let rows: Vec<_> = domain::outbox::all(&mut db.connect())
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == "password_reset")
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows.iter().filter(|r| r.user_id.is_none()).count(), 2);
    wait_message(&sink, "known@example.com", "Password reset", 1);
    settle();
    let resets: Vec<_> = sink
        .messages()
        .into_iter()
        .filter(|m| m.header("Subject").as_deref() == Some("Password reset"))
        .collect();
    assert_eq!(
        resets.len(),
        1,
        "only the known, active user gets a reset mail"
    );
    assert_eq!(resets[0].to, ["known@example.com"]);
}

fn bad_uid_token_of_another_user_tampered_or_after_a_login_are_refused(db: &TestDb) {
    let sink = SmtpSink::start();
    let s = mail_server(db, &sink, &[]);
    let a = register(&s, "a", Some("a@example.com"));
    register(&s, "b", Some("b@example.com"));
    request_reset(&s, "a@example.com");
    let (uid_a, token_a) = reset_link(&sink, "a@example.com");
    request_reset(&s, "b@example.com");
    let (uid_b, token_b) = reset_link(&sink, "b@example.com");
    assert_ne!(uid_a, uid_b);
    confirm(&s, &uid_b, &token_a, NEW, NEW).assert_field_error("token");
    confirm(&s, &uid_a, &token_b, NEW, NEW).assert_field_error("token");
    let mut tampered = token_a.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
    confirm(&s, &uid_a, &String::from_utf8(tampered).unwrap(), NEW, NEW)
        .assert_field_error("token");
    confirm(&s, &uid_a, "garbage", NEW, NEW).assert_field_error("token");
    for uid in ["", "!!", "OTk5OTk", "bm90LWEtbnVtYmVy"] {
        confirm(&s, uid, &token_a, NEW, NEW).assert_field_error("uid");
    }
    assert_eq!(uid_a, base64_id(a));
    // Django's rule: a login since the request makes the link useless.
    s.login("b", PASSWORD);
    confirm(&s, &uid_b, &token_b, NEW, NEW).assert_field_error("token");
    // the good one still works
    assert_eq!(confirm(&s, &uid_a, &token_a, NEW, NEW).status, 200);
}

fn a_link_stops_working_when_the_user_is_deactivated(db: &TestDb) {
    let sink = SmtpSink::start();
    let s = mail_server(db, &sink, &[]);
    let id = register(&s, "e", Some("e@example.com"));
    request_reset(&s, "e@example.com");
    let (uid, token) = reset_link(&sink, "e@example.com");
    let (_, admin) = s.admin("root");
    s.deactivate(&admin, id);
    confirm(&s, &uid, &token, NEW, NEW).assert_field_error("token");
}

fn base64_id(id: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.to_string())
}

fn an_expired_link_is_refused(db: &TestDb) {
    let sink = SmtpSink::start();
    let s = mail_server(db, &sink, &[("AUTH_PASSWORD_RESET_TIMEOUT", "1s")]);
    register(&s, "a", Some("a@example.com"));
    request_reset(&s, "a@example.com");
    let (uid, token) = reset_link(&sink, "a@example.com");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    confirm(&s, &uid, &token, NEW, NEW).assert_field_error("token");
}

fn the_password_policy_applies_to_the_new_password(db: &TestDb) {
    let sink = SmtpSink::start();
    let s = mail_server(db, &sink, &[]);
    register(&s, "carol", Some("c@example.com"));
    request_reset(&s, "c@example.com");
    let (uid, token) = reset_link(&sink, "c@example.com");
    let r = confirm(&s, &uid, &token, NEW, "something else entirely");
    r.assert_field_error("new_password2");
    assert_eq!(
        r.body["fields"]["new_password2"],
        json!(["The two password fields didn’t match."])
    );
    for (bad, says) in [
        ("password", "too common"),
        ("short", "too short"),
        (&"x".repeat(73) as &str, "too long"),
        ("Carol", "similar"),
    ] {
        let r = confirm(&s, &uid, &token, bad, bad);
        r.assert_field_error("new_password2");
        assert!(r.text.contains(says), "{bad}: {}", r.text);
    }
    // refusals leave the link usable
    assert_eq!(confirm(&s, &uid, &token, NEW, NEW).status, 200);
}

fn bodies_are_checked_field_by_field(db: &TestDb) {
    let sink = SmtpSink::start();
    let s = mail_server(db, &sink, &[]);
    let r = s.post("/api/password/reset/confirm/", json!({}));
    for field in ["uid", "token", "new_password1", "new_password2"] {
        r.assert_field_error(field);
    }
    s.post("/api/password/reset/", json!({}))
        .assert_field_error("email");
    s.post("/api/password/reset/", json!({"email": "not-an-address"}))
        .assert_field_error("email");
    s.post("/api/password/reset/", json!({"email": 7}))
        .assert_field_error("email");
    s.post("/api/password/reset/", json!([1]))
        .assert_error(400, "invalid");
    s.post_raw("/api/password/reset/", Some("text/plain"), "x")
        .assert_error(415, "unsupported_media_type");
    s.request(Method::GET, "/api/password/reset/", None, None)
        .assert_error(405, "method_not_allowed");
    assert_eq!(
        s.post("/api/password/reset", json!({"email": "a@b.c"}))
            .status,
        200,
        "no slash"
    );
}

fn a_user_whose_hash_could_not_be_imported_gets_a_password(db: &TestDb) {
    let sink = SmtpSink::start();
    let s = mail_server(db, &sink, &[]);
    let at = domain::time::to_db(chrono::Utc::now());
    domain::User::create(
        &mut db.connect(),
        &domain::NewUser {
            username: "imported",
            email: Some("imported@example.com"),
            password_hash: "!unusable-django-password",
            is_active: true,
            is_admin: false,
            date_joined: at,
            password_changed_at: at,
        },
    )
    .unwrap();
    request_reset(&s, "imported@example.com");
    let (uid, token) = reset_link(&sink, "imported@example.com");
    assert_eq!(confirm(&s, &uid, &token, NEW, NEW).status, 200);
    s.login("imported", NEW);
}

fn concurrent_confirmations_with_one_token_let_one_through(db: &TestDb) {
    let sink = SmtpSink::start();
    let s = mail_server(db, &sink, &[]);
    register(&s, "d", Some("d@example.com"));
    request_reset(&s, "d@example.com");
    let (uid, token) = reset_link(&sink, "d@example.com");
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let (s, uid, token) = (&s, &uid, &token);
                scope.spawn(move || {
                    let p = format!("{NEW} number {i}");
                    confirm(s, uid, token, &p, &p).status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|&&st| st == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|&st| st == 200 || st == 400),
        "{statuses:?}"
    );
}

fn requests_are_throttled_per_address_and_per_client(db: &TestDb) {
    let sink = SmtpSink::start();
    let s = mail_server(db, &sink, &[]);
    for _ in 0..5 {
        assert_eq!(request_reset(&s, "flood@example.com").status, 200);
    }
    let r = request_reset(&s, "FLOOD@example.com");
    r.assert_error(429, "throttled");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((3500..=3600).contains(&retry), "{retry}");
    // the client: 20 an hour, 5 used (the refused one did not count)
    for i in 0..15 {
        assert_eq!(
            request_reset(&s, &format!("n{i}@example.com")).status,
            200,
            "{i}"
        );
    }
    request_reset(&s, "fresh@example.com").assert_error(429, "throttled");
    // resends are counted apart
    assert_eq!(
        s.post(
            "/api/register/resend-email/",
            json!({"email": "fresh@example.com"})
        )
        .status,
        200
    );
}

fn the_routes_are_404_while_the_features_are_off(db: &TestDb) {
    let s = crate::app().db(db).start();
    for path in [
        "/api/password/reset/",
        "/api/password/reset/confirm/",
        "/api/register/verify-email/",
        "/api/register/resend-email/",
    ] {
        s.post(path, json!({"email": "a@example.com"}))
            .assert_error(404, "not_found");
        s.request(Method::GET, path, None, None)
            .assert_error(404, "not_found");
    }
    let r = s.post(
        "/api/register/",
        json!({"username": "u", "password": PASSWORD, "email": "u@example.com"}),
    );
    assert_eq!(r.body["email_verified"], Value::Bool(false));
    assert!(
        domain::outbox::all(&mut db.connect()).unwrap().is_empty(),
        "no mail queued"
    );
}

backend_tests!(
    a_reset_works_end_to_end_and_ends_every_session,
    known_and_unknown_addresses_get_the_same_answer_and_work,
    bad_uid_token_of_another_user_tampered_or_after_a_login_are_refused,
    an_expired_link_is_refused,
    a_link_stops_working_when_the_user_is_deactivated,
    the_password_policy_applies_to_the_new_password,
    bodies_are_checked_field_by_field,
    a_user_whose_hash_could_not_be_imported_gets_a_password,
    concurrent_confirmations_with_one_token_let_one_through,
    requests_are_throttled_per_address_and_per_client,
    the_routes_are_404_while_the_features_are_off,
);
