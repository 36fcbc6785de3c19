//! E-mail verification: the link sent at registration, the key, resends, and
//! mandatory verification at login.

use serde_json::json;
use test_support::smtp::SmtpSink;
use test_support::{backend_tests, TestDb};

use super::support::*;
use test_support::PASSWORD;

fn registration_sends_a_link_whose_key_verifies_once(db: &TestDb) {
    let sink = SmtpSink::start();
    let s = mail_server(db, &sink, &[]);
    let r = s.post(
        "/api/register/",
        json!({"username": "vera", "password": PASSWORD, "email": "vera@example.com"}),
    );
    assert_eq!(r.body["email_verified"], false, "{}", r.text);
    register(&s, "noaddress", None);
    let m = sink.wait_for(1, WAIT).remove(0);
    assert_eq!(m.to, ["vera@example.com"]);
    assert_eq!(
        m.header("Subject").as_deref(),
        Some("Confirm your e-mail address")
    );
    let key = verify_key(&m);
    let (access, _) = s.login("vera", PASSWORD);
    assert_eq!(
        s.get("/api/me/", Some(&access)).body["email_verified"],
        false
    );

    let mut tampered = key.clone();
    tampered.push('0');
    s.post("/api/register/verify-email/", json!({ "key": tampered }))
        .assert_field_error("key");
    s.post("/api/register/verify-email/", json!({ "key": "nonsense" }))
        .assert_field_error("key");
    s.post("/api/register/verify-email/", json!({}))
        .assert_field_error("key");
    let r = s.post("/api/register/verify-email/", json!({ "key": key }));
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({"detail": "ok"})),
        "{}",
        r.text
    );
    assert_eq!(
        s.get("/api/me/", Some(&access)).body["email_verified"],
        true
    );
    let again = s.post("/api/register/verify-email/", json!({ "key": key }));
    again.assert_field_error("key");
    assert_eq!(again.body["fields"]["key"], json!(["Invalid value"]));
    settle();
    assert_eq!(
        sink.messages().len(),
        1,
        "nothing for the user without an address"
    );
}

fn resend_answers_ok_always_and_mails_only_the_unverified(db: &TestDb) {
    let sink = SmtpSink::start();
    let s = mail_server(db, &sink, &[]);
    register(&s, "u1", Some("u1@example.com"));
    let first = sink.wait_for(1, WAIT).remove(0);
    for email in ["u1@example.com", "nobody@example.com"] {
        let r = s.post("/api/register/resend-email/", json!({ "email": email }));
        assert_eq!(
            (r.status, r.body.clone()),
            (200, json!({"detail": "ok"})),
            "{email}"
        );
    }
    let messages = sink.wait_for(2, WAIT);
    let second = &messages[1];
    assert_eq!(second.to, ["u1@example.com"]);
    assert_ne!(second.message_id(), first.message_id(), "a new message");
    // the newer key works too; then nothing is sent any more
    let r = s.post(
        "/api/register/verify-email/",
        json!({ "key": verify_key(second) }),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s.post(
        "/api/register/resend-email/",
        json!({ "email": "u1@example.com" }),
    );
    assert_eq!(r.body, json!({"detail": "ok"}));
    settle();
    assert_eq!(
        sink.messages().len(),
        2,
        "a verified address gets no more links"
    );
}

fn mandatory_verification_gates_login_after_the_password(db: &TestDb) {
    let sink = SmtpSink::start();
    let s = mail_server(db, &sink, &[("AUTH_EMAIL_VERIFICATION", "mandatory")]);
    s.post(
        "/api/register/",
        json!({"username": "m0", "password": PASSWORD}),
    )
    .assert_field_error("email");
    register(&s, "m", Some("m@example.com"));
    let r = s.post(
        "/api/token/",
        json!({"username": "m", "password": PASSWORD}),
    );
    r.assert_error(401, "email_not_verified");
    assert_eq!(r.body["detail"], "E-mail is not verified.");
    assert_eq!(
        r.header("www-authenticate").as_deref(),
        Some("Bearer realm=\"api\"")
    );
    // without the password nothing is told
    s.post(
        "/api/token/",
        json!({"username": "m", "password": "wrong password!"}),
    )
    .assert_error(401, "no_active_account");
    let key = verify_key(&sink.wait_for(1, WAIT)[0]);
    assert_eq!(
        s.post("/api/register/verify-email/", json!({ "key": key }))
            .status,
        200
    );
    s.login("m", PASSWORD);
    // an operator's address counts as verified
    let out = s.cli(
        &["create-user", "op", "--email", "op@example.com"],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(out.status.success(), "{}", out.stderr);
    s.login("op", PASSWORD);
    let metrics = s.get("/metrics", None).text;
    assert!(
        metrics.contains("auth_logins_total{outcome=\"email_not_verified\"} 1"),
        "{metrics}"
    );
}

backend_tests!(
    registration_sends_a_link_whose_key_verifies_once,
    resend_answers_ok_always_and_mails_only_the_unverified,
    mandatory_verification_gates_login_after_the_password,
);
