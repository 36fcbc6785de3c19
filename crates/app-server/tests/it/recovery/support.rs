//! A server with both mail features on, sending to a sink; reading links
//! out of the delivered messages.

use std::time::Duration;

use serde_json::json;
use test_support::smtp::{Delivered, SmtpSink};
use test_support::TestDb;

use test_support::{Resp, Server, PASSWORD};

pub const RESET_URL: &str = "https://app.example.com/reset/{uid}/{token}";
pub const VERIFY_URL: &str = "https://app.example.com/verify/{key}";
pub const WAIT: Duration = Duration::from_secs(30);

pub fn mail_env(url: &str) -> Vec<(&str, &str)> {
    vec![
        ("AUTH_PASSWORD_RESET_URL", RESET_URL),
        ("AUTH_EMAIL_VERIFICATION", "optional"),
        ("AUTH_EMAIL_VERIFY_URL", VERIFY_URL),
        ("AUTH_SMTP_URL", url),
        ("AUTH_MAIL_FROM", "Auth <auth@example.com>"),
    ]
}

/// A server with password reset and optional verification on, mailing to `sink`.
pub fn mail_server(db: &TestDb, sink: &SmtpSink, extra: &[(&str, &str)]) -> Server {
    let url = sink.url();
    let mut env = mail_env(&url);
    env.extend_from_slice(extra);
    crate::app().db(db).envs(&env).start()
}

pub fn register(s: &Server, username: &str, email: Option<&str>) -> i64 {
    let r = s.post(
        "/api/register/",
        json!({"username": username, "password": PASSWORD, "email": email}),
    );
    assert_eq!(r.status, 201, "register {username}: {}", r.text);
    r.body["id"].as_i64().expect("id")
}

pub fn request_reset(s: &Server, email: &str) -> Resp {
    s.post("/api/password/reset/", json!({ "email": email }))
}

/// (uid, token) of the reset link in a message.
pub fn reset_parts(m: &Delivered) -> (String, String) {
    let link = m
        .link("https://app.example.com/reset/")
        .unwrap_or_else(|| panic!("a reset link in {}", m.data));
    let rest = link.trim_start_matches("https://app.example.com/reset/");
    let (uid, token) = rest.split_once('/').expect("uid/token");
    (uid.to_owned(), token.to_owned())
}

pub fn verify_key(m: &Delivered) -> String {
    let link = m
        .link("https://app.example.com/verify/")
        .unwrap_or_else(|| panic!("a verification link in {}", m.data));
    link.trim_start_matches("https://app.example.com/verify/")
        .to_owned()
}

pub fn confirm(s: &Server, uid: &str, token: &str, p1: &str, p2: &str) -> Resp {
    s.post(
        "/api/password/reset/confirm/",
        json!({"uid": uid, "token": token, "new_password1": p1, "new_password2": p2}),
    )
}

/// The messages to `address`.
pub fn to(messages: &[Delivered], address: &str) -> Vec<Delivered> {
    messages
        .iter()
        .filter(|m| m.to.iter().any(|t| t == address))
        .cloned()
        .collect()
}

/// Give the sender time to pick up anything more (it polls every 2 s).
pub fn settle() {
    std::thread::sleep(Duration::from_millis(2500));
}

/// Wait for the `n`th message with `subject` to `address` (1-based); returns it.
pub fn wait_message(sink: &SmtpSink, address: &str, subject: &str, n: usize) -> Delivered {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let mine: Vec<Delivered> = to(&sink.messages(), address)
            .into_iter()
            .filter(|m| m.header("Subject").as_deref() == Some(subject))
            .collect();
        if mine.len() >= n {
            return mine[n - 1].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no message {n} {subject:?} to {address} in {WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `n`th reset link's (uid, token) sent to `address`.
pub fn reset_link(sink: &SmtpSink, address: &str) -> (String, String) {
    reset_parts(&wait_message(sink, address, "Password reset", 1))
}
