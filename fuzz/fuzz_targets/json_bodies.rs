//! Request bodies: arbitrary bytes (up to the server's 4 KiB body limit) as
//! actix's JSON extractor would see them.
//!
//! - Bytes that are not JSON go through `json_error`, as the extractor's
//!   error handler does: a 400 `invalid` envelope.
//! - A JSON value goes to every request parser (login, refresh, verify,
//!   register, password change, user patch): each returns `Ok` or a 400
//!   `invalid` envelope with `fields`, and what it accepts obeys the
//!   contract's policies.
//! - The input as text also goes to the username, email and password policy
//!   functions, each checked against the rules of API.md.
//!
//! Nothing may panic.

#![no_main]

use actix_web::body::MessageBody;
use actix_web::error::JsonPayloadError;
use actix_web::test::TestRequest;
use actix_web::{HttpRequest, ResponseError};
use app_server::errors::ApiError;
use app_server::extract::body::json_error;
use app_server::requests::{
    LoginRequest, PasswordChangeRequest, RefreshRequest, RegisterRequest, UserPatch, VerifyRequest,
};
use auth::policy::{email_problems, password_problems, username_problems};
use auth::ExposeSecret;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

thread_local! {
    static REQUEST: HttpRequest = TestRequest::default().to_http_request();
}

fuzz_target!(|data: &[u8]| {
    match serde_json::from_slice::<Value>(data) {
        Ok(value) => parsers(value),
        Err(e) => {
            let error = REQUEST.with(|req| json_error(JsonPayloadError::Deserialize(e), req));
            let response = error.as_response_error().error_response();
            assert_eq!(response.status().as_u16(), 400);
            let envelope = envelope_of(response);
            assert_eq!(envelope["code"], "invalid");
        }
    }
    policies(&String::from_utf8_lossy(data));
});

/// The body of an error response, checked to be the contract's envelope.
fn envelope_of(response: actix_web::HttpResponse) -> Value {
    let Ok(bytes) = response.into_body().try_into_bytes() else {
        panic!("error body is not in memory");
    };
    let envelope: Value = serde_json::from_slice(&bytes).expect("error body is JSON");
    let object = envelope.as_object().expect("error body is an object");
    assert!(object["detail"].is_string(), "{envelope}");
    assert!(object["code"].is_string(), "{envelope}");
    if let Some(fields) = object.get("fields") {
        let fields = fields.as_object().expect("fields is an object");
        assert!(!fields.is_empty(), "empty fields: {envelope}");
        for messages in fields.values() {
            let messages = messages.as_array().expect("field messages are a list");
            assert!(!messages.is_empty(), "no message for a field: {envelope}");
            assert!(messages.iter().all(Value::is_string), "{envelope}");
        }
    }
    assert!(
        object
            .keys()
            .all(|k| ["detail", "code", "fields"].contains(&k.as_str())),
        "{envelope}"
    );
    envelope
}

/// A refusal must be a 400 `invalid` with per-field messages.
fn refused(what: &str, e: ApiError, value: &Value) {
    assert_eq!(e.code(), "invalid", "{what} on {value}");
    assert_eq!(e.status_code().as_u16(), 400, "{what} on {value}");
    let envelope = envelope_of(e.error_response());
    assert!(
        envelope.get("fields").is_some(),
        "{what}: no fields in {envelope}"
    );
}

fn str_field<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value.get(name).and_then(Value::as_str)
}

fn parsers(value: Value) {
    match LoginRequest::parse(value.clone()) {
        Ok(r) => {
            assert_eq!(Some(r.username.as_str()), str_field(&value, "username"));
            assert_eq!(
                Some(r.password.expose_secret()),
                str_field(&value, "password")
            );
            assert!(!r.username.is_empty() && !r.password.expose_secret().is_empty());
        }
        Err(e) => refused("login", e, &value),
    }
    match RefreshRequest::parse(value.clone()) {
        Ok(r) => {
            assert!(!r.refresh.is_empty());
            assert_eq!(Some(r.refresh.as_str()), str_field(&value, "refresh"));
        }
        Err(e) => refused("refresh", e, &value),
    }
    match VerifyRequest::parse(value.clone()) {
        Ok(r) => {
            assert!(!r.token.is_empty());
            assert_eq!(Some(r.token.as_str()), str_field(&value, "token"));
        }
        Err(e) => refused("verify", e, &value),
    }
    match RegisterRequest::parse(value.clone()) {
        Ok(r) => {
            assert!(username_problems(&r.username).is_empty(), "{value}");
            assert!(
                password_problems(r.password.expose_secret(), &r.username).is_empty(),
                "{value}"
            );
            if let Some(email) = &r.email {
                assert!(email_problems(email).is_empty(), "{value}");
            }
        }
        Err(e) => refused("register", e, &value),
    }
    // The account's own name, an empty one, and the body's (for "similar").
    let own = str_field(&value, "username").unwrap_or("alice").to_owned();
    for username in ["alice", "", own.as_str()] {
        match PasswordChangeRequest::parse(value.clone(), username) {
            Ok(r) => {
                let new = r.new_password.expose_secret();
                assert!(password_problems(new, username).is_empty(), "{value}");
                assert!(!r.old_password.expose_secret().is_empty());
            }
            Err(e) => refused("password change", e, &value),
        }
    }
    match UserPatch::parse(value.clone()) {
        Ok(r) => {
            assert_eq!(r.is_active, value.get("is_active").and_then(Value::as_bool));
            assert_eq!(r.is_admin, value.get("is_admin").and_then(Value::as_bool));
        }
        Err(e) => refused("user patch", e, &value),
    }
}

fn policies(text: &str) {
    // Usernames: 1 to 150 characters of letters, digits and @.+-_ (exactly).
    let valid_username = (1..=150).contains(&text.chars().count())
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || "@.+-_".contains(c));
    assert_eq!(
        username_problems(text).is_empty(),
        valid_username,
        "username {text:?}"
    );

    // Emails: at most 254 characters, one @ between non-empty parts, no
    // whitespace or control characters.
    if email_problems(text).is_empty() {
        assert!(text.chars().count() <= 254, "email {text:?}");
        assert_eq!(text.matches('@').count(), 1, "email {text:?}");
        assert!(
            !text.starts_with('@') && !text.ends_with('@'),
            "email {text:?}"
        );
        assert!(
            !text.chars().any(|c| c.is_whitespace() || c.is_control()),
            "email {text:?}"
        );
    }

    // Passwords, against the text itself and against each half as username.
    let mid = (0..=text.len() / 2)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let (a, b) = text.split_at(mid);
    for (password, username) in [(text, text), (a, b), (b, a), (text, "")] {
        if password_problems(password, username).is_empty() {
            assert!(password.chars().count() >= 8, "password {password:?}");
            assert!(password.len() <= 72, "password {password:?}");
            assert!(
                username.is_empty() || password.to_lowercase() != username.to_lowercase(),
                "password {password:?} equals username {username:?}"
            );
        }
    }
}
