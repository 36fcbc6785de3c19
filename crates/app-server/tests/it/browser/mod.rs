//! Browser apps (docs/API.md, "Browser apps"): cookie mode's cookies and
//! their exact attributes, the CSRF check, and CORS, over plain HTTP through
//! the real server on SQLite and on PostgreSQL. The same rules in a real
//! browser: tests/browser (scripts/browser-test.sh).

mod cookies;
mod cors;
mod csrf;
mod demo;

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{json, Value};
pub use test_support::keys;
use test_support::{Resp, Server, TestDb, PASSWORD};

use crate::app;

/// The page origin the servers below trust.
pub const ORIGIN: &str = "https://app.example.com";
pub const FOREIGN: &str = "https://evil.example.net";

/// A server in cookie `mode` trusting [`ORIGIN`], with `more` settings.
pub fn cookie_server(db: &TestDb, mode: &str, more: &[(&str, &str)]) -> Server {
    app()
        .db(db)
        .envs(&[("AUTH_COOKIE_MODE", mode), ("AUTH_TRUSTED_ORIGINS", ORIGIN)])
        .envs(more)
        .start()
}

/// Every `Set-Cookie` of an answer, as sent.
pub fn set_cookies(r: &Resp) -> Vec<String> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ASCII").to_owned())
        .collect()
}

/// The one `Set-Cookie` of `name`.
#[track_caller]
pub fn set_cookie(r: &Resp, name: &str) -> String {
    let found: Vec<String> = set_cookies(r)
        .into_iter()
        .filter(|c| c.starts_with(&format!("{name}=")))
        .collect();
    assert_eq!(found.len(), 1, "one {name} cookie: {:?}", set_cookies(r));
    found[0].clone()
}

/// What a browser keeps of the cookies it was sent (paths aside: each test
/// sends them where the browser would).
#[derive(Debug, Clone, Default)]
pub struct Jar(BTreeMap<String, String>);

impl Jar {
    pub fn take(&mut self, r: &Resp) {
        for cookie in set_cookies(r) {
            let pair = cookie.split(';').next().unwrap_or_default();
            let (name, value) = pair.split_once('=').expect("name=value");
            if cookie.contains("Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn without(&self, name: &str) -> Self {
        let mut jar = self.clone();
        jar.0.remove(name);
        jar
    }

    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn csrf(&self) -> String {
        self.get("csrftoken")
            .expect("a csrftoken cookie")
            .to_owned()
    }
}

/// A page of `origin` logging in: the answer, and the cookies it set.
pub fn page_login(s: &Server, origin: &str, username: &str) -> (Resp, Jar) {
    let r = s.request_with_headers(
        Method::POST,
        "/api/token/",
        &[("origin", origin)],
        Some(&json!({"username": username, "password": PASSWORD})),
    );
    let mut jar = Jar::default();
    jar.take(&r);
    (r, jar)
}

/// A registered user's page, signed in: its cookies.
#[track_caller]
pub fn signed_in(s: &Server, username: &str) -> Jar {
    s.register(username, PASSWORD);
    let (r, jar) = page_login(s, ORIGIN, username);
    assert_eq!(r.status, 200, "{}", r.text);
    jar
}

/// A request of the page: its cookies, an `Origin`, and the double
/// submitted CSRF token when `csrf` says so.
pub fn page_request(
    s: &Server,
    method: Method,
    path: &str,
    jar: &Jar,
    origin: Option<&str>,
    csrf: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let cookie = jar.header();
    let mut headers = vec![("cookie", cookie.as_str())];
    if let Some(origin) = origin {
        headers.push(("origin", origin));
    }
    if let Some(csrf) = csrf {
        headers.push(("x-csrf-token", csrf));
    }
    s.request_with_headers(method, path, &headers, body.as_ref())
}

/// The page's own request: trusted origin and the right CSRF token.
pub fn trusted(s: &Server, method: Method, path: &str, jar: &Jar, body: Option<Value>) -> Resp {
    page_request(s, method, path, jar, Some(ORIGIN), Some(&jar.csrf()), body)
}

/// The page's refresh: `{}` and its cookies, trusted origin, CSRF token.
pub fn page_refresh(s: &Server, jar: &Jar) -> Resp {
    trusted(s, Method::POST, "/api/token/refresh/", jar, Some(json!({})))
}

/// The page's logout, as [`page_refresh`].
pub fn page_logout(s: &Server, jar: &Jar) -> Resp {
    trusted(
        s,
        Method::POST,
        "/api/token/blacklist/",
        jar,
        Some(json!({})),
    )
}

/// A read of the page with its cookies only (a GET needs no CSRF token).
pub fn page_get(s: &Server, path: &str, jar: &Jar) -> Resp {
    page_request(s, Method::GET, path, jar, None, None, None)
}

/// A `Max-Age` of `cookie`, in seconds.
pub fn max_age(cookie: &str) -> i64 {
    cookie
        .split("; ")
        .find_map(|a| a.strip_prefix("Max-Age="))
        .expect("Max-Age")
        .parse()
        .expect("a number")
}
