//! Speaking to a [`Server`] as its clients do, and checking answers against
//! the contract of `docs/API.md`: the error envelope, the RFC 6750
//! challenge, the user object.

use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

use crate::server::Server;

/// The password of every user the helpers make.
pub const PASSWORD: &str = "correct horse battery staple";

/// The names of a JSON object's fields, sorted: what an answer's body has.
pub fn keys(body: &Value) -> Vec<String> {
    let mut keys: Vec<String> = body
        .as_object()
        .expect("a JSON object")
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// A response, read in full.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON, `Null` when it is not JSON.
    pub body: Value,
}

impl Server {
    pub fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let authorization = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = authorization
            .iter()
            .map(|a| ("authorization", a.as_str()))
            .collect();
        self.request_with_headers(method, path, &headers, body)
    }

    /// A request with any headers and, optionally, a JSON body.
    pub fn request_with_headers(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Resp {
        let mut req = self.client().request(method, self.url(path));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        Resp::from(req.send().expect("request reaches the server"))
    }

    /// A request with any headers and a raw body, sent as given (no
    /// content type unless `headers` has one).
    pub fn request_raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::blocking::Body>,
    ) -> Resp {
        let mut req = self.client().request(method, self.url(path)).body(body);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        Resp::from(req.send().expect("request reaches the server"))
    }

    pub fn post(&self, path: &str, body: Value) -> Resp {
        self.request(Method::POST, path, None, Some(&body))
    }

    pub fn post_auth(&self, path: &str, token: &str, body: Option<Value>) -> Resp {
        self.request(Method::POST, path, Some(token), body.as_ref())
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.request(Method::GET, path, token, None)
    }

    pub fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.request(Method::PATCH, path, Some(token), Some(&body))
    }

    /// POST a raw body with the given content type (or none).
    pub fn post_raw(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::blocking::Body>,
    ) -> Resp {
        let headers: Vec<(&str, &str)> = content_type
            .map(|ct| ("content-type", ct))
            .into_iter()
            .collect();
        self.request_raw(Method::POST, path, &headers, body)
    }

    pub fn register(&self, username: &str, password: &str) -> Value {
        let r = self.post(
            "/api/register/",
            json!({ "username": username, "password": password }),
        );
        assert_eq!(r.status, 201, "register {username}: {}", r.text);
        r.body
    }

    /// (access, refresh) of a new session.
    pub fn login(&self, username: &str, password: &str) -> (String, String) {
        let r = self.post(
            "/api/token/",
            json!({ "username": username, "password": password }),
        );
        assert_eq!(r.status, 200, "login {username}: {}", r.text);
        (r.str("access"), r.str("refresh"))
    }

    /// Register and log in: (id, access, refresh).
    pub fn user(&self, username: &str) -> (i64, String, String) {
        let id = self.register(username, PASSWORD)["id"]
            .as_i64()
            .expect("id");
        let (access, refresh) = self.login(username, PASSWORD);
        (id, access, refresh)
    }

    /// An admin made with the CLI, logged in: (id, access).
    pub fn admin(&self, username: &str) -> (i64, String) {
        let out = self.cli(
            &["create-user", username, "--admin"],
            Some(&format!("{PASSWORD}\n")),
        );
        assert!(out.success(), "create-user: {}", out.stderr);
        let (access, _) = self.login(username, PASSWORD);
        let id = self.get("/api/me/", Some(&access)).body["id"]
            .as_i64()
            .expect("id");
        (id, access)
    }

    /// An admin's `PATCH {"is_active": false}` of user `id`, answered 200.
    #[track_caller]
    pub fn deactivate(&self, admin_access: &str, id: i64) {
        let r = self.patch(
            &format!("/api/admin/users/{id}/"),
            admin_access,
            serde_json::json!({"is_active": false}),
        );
        assert_eq!(r.status, 200, "deactivating user {id}: {}", r.text);
    }
}

impl From<reqwest::blocking::Response> for Resp {
    fn from(r: reqwest::blocking::Response) -> Self {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            text,
            body,
        }
    }
}

impl Resp {
    pub fn str(&self, field: &str) -> String {
        self.body[field]
            .as_str()
            .unwrap_or_else(|| panic!("no string {field} in {}", self.text))
            .to_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The status, and the contract's envelope with this code.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> &Self {
        assert_eq!(self.status, status, "status of {}", self.text);
        assert_eq!(self.body["code"], code, "code of {}", self.text);
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "a human detail in {}",
            self.text
        );
        let keys: Vec<&String> = self.body.as_object().expect("an object").keys().collect();
        assert!(
            keys.iter()
                .all(|k| ["detail", "code", "fields"].contains(&k.as_str())),
            "envelope keys only: {keys:?}"
        );
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "JSON error body"
        );
        self
    }

    /// A 400 whose `fields` names `field`.
    #[track_caller]
    pub fn assert_field_error(&self, field: &str) -> &Self {
        self.assert_error(400, "invalid");
        let messages = self.body["fields"][field]
            .as_array()
            .unwrap_or_else(|| panic!("fields.{field} in {}", self.text));
        assert!(
            !messages.is_empty() && messages.iter().all(Value::is_string),
            "messages for {field}: {}",
            self.text
        );
        self
    }

    /// 401 `token_not_valid` with the RFC 6750 challenge.
    #[track_caller]
    pub fn assert_token_not_valid(&self) -> &Self {
        self.assert_error(401, "token_not_valid");
        let challenge = self.header("www-authenticate").unwrap_or_default();
        assert!(
            challenge.starts_with("Bearer realm=\"api\""),
            "challenge {challenge:?}"
        );
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "challenge {challenge:?}"
        );
        self
    }
}

/// The contract's user object: exactly these keys, the right types, no hash.
#[track_caller]
pub fn assert_user_shape(user: &Value) {
    let mut keys: Vec<&str> = user
        .as_object()
        .unwrap_or_else(|| panic!("a user is an object: {user}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "date_joined",
            "email",
            "email_verified",
            "id",
            "is_active",
            "is_admin",
            "last_login",
            "username"
        ]
    );
    assert!(user["id"].is_i64(), "id is an integer: {user}");
    assert!(user["username"].is_string(), "username is a string: {user}");
    assert!(user["email"].is_string() || user["email"].is_null());
    assert!(user["is_admin"].is_boolean() && user["is_active"].is_boolean());
    assert!(
        user["email_verified"].is_boolean(),
        "email_verified is a bool: {user}"
    );
    for field in ["date_joined", "last_login"] {
        match &user[field] {
            Value::Null if field == "last_login" => {}
            Value::String(s) => {
                chrono::DateTime::parse_from_rfc3339(s)
                    .unwrap_or_else(|e| panic!("{field} {s:?} is RFC 3339: {e}"));
            }
            other => panic!("{field} is an RFC 3339 string: {other}"),
        }
    }
    let text = user.to_string();
    assert!(
        !text.contains("$2b$") && !text.contains("password"),
        "no hash: {text}"
    );
}
