//! CORS: only for the listed origins, with credentials, never `*`.

use reqwest::Method;
use test_support::{backend_tests, TestDb, PASSWORD};

use super::*;

const LISTED: &str = "https://spa.example.org";

fn preflight(s: &Server, origin: &str) -> Resp {
    s.request_with_headers(
        Method::OPTIONS,
        "/api/token/refresh/",
        &[
            ("origin", origin),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "content-type,x-csrf-token",
            ),
        ],
        None,
    )
}

/// The answer lets a page of [`LISTED`] read it, with credentials.
#[track_caller]
fn assert_allowed(r: &Resp) {
    assert_eq!(
        r.header("access-control-allow-origin").as_deref(),
        Some(LISTED)
    );
    assert_eq!(
        r.header("access-control-allow-credentials").as_deref(),
        Some("true")
    );
}

fn only_listed_origins_get_cors_headers(db: &TestDb) {
    let s = app().db(db).env("AUTH_CORS_ORIGINS", LISTED).start();
    s.register("cors", PASSWORD);
    let r = preflight(&s, LISTED);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_allowed(&r);
    assert_eq!(r.header("access-control-max-age").as_deref(), Some("600"));
    let methods = r.header("access-control-allow-methods").expect("methods");
    for m in ["GET", "POST", "PATCH", "DELETE"] {
        assert!(methods.contains(m), "{methods}");
    }
    let headers = r
        .header("access-control-allow-headers")
        .expect("headers")
        .to_lowercase();
    for h in ["authorization", "content-type", "x-csrf-token"] {
        assert!(headers.contains(h), "{headers}");
    }
    let refused = preflight(&s, "https://other.example.org");
    refused.assert_error(400, "invalid");
    assert!(refused.header("access-control-allow-origin").is_none());

    let (access, _) = s.login("cors", PASSWORD);
    let bearer = format!("Bearer {access}");
    let r = s.request_with_headers(
        Method::GET,
        "/api/me/",
        &[("origin", LISTED), ("authorization", &bearer)],
        None,
    );
    assert_eq!(r.status, 200);
    assert_allowed(&r);
    assert_eq!(
        r.header("access-control-expose-headers").as_deref(),
        Some("retry-after")
    );
    assert!(
        r.header("vary").is_some_and(|v| v.contains("Origin")),
        "{:?}",
        r.headers
    );
    // Another origin is answered, with no CORS header: its browser keeps
    // the answer from the page.
    let r = s.request_with_headers(
        Method::GET,
        "/api/me/",
        &[
            ("origin", "https://other.example.org"),
            ("authorization", &bearer),
        ],
        None,
    );
    assert_eq!(r.status, 200);
    assert!(r.header("access-control-allow-origin").is_none());
    assert!(r.header("access-control-allow-credentials").is_none());
    assert!(!format!("{:?}", r.headers).contains('*'));
    // Errors carry them too, so a listed page can read its 401.
    let r = s.request_with_headers(Method::GET, "/api/me/", &[("origin", LISTED)], None);
    r.assert_error(401, "not_authenticated");
    assert_allowed(&r);
}

backend_tests!(only_listed_origins_get_cors_headers);
