//! The operations part of docs/API.md through the real server: health and
//! readiness (with the database really cut off), JWKS and key rotation,
//! the OpenAPI document, Prometheus metrics, 405/404/413, the Authorization
//! header rules and draining on SIGTERM.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::Method;
use serde_json::{json, Value};
use test_support::jwt::{claims, header};
use test_support::keyfiles::{generate_key, KeyFiles};
use test_support::process::signal;
use test_support::{backend_tests, PgDatabase, Resp, Server, TestDb, PASSWORD};

use crate::app;

/// How long a 503 may take when AUTH_DB_TIMEOUT is 1 s: a correctness bound
/// (the request must not hang), not a performance target.
const UNAVAILABLE_WITHIN: Duration = Duration::from_secs(10);

fn timed(f: impl FnOnce() -> Resp) -> (Resp, Duration) {
    let started = Instant::now();
    let r = f();
    (r, started.elapsed())
}

// ---------------------------------------------------------------- health

fn healthz_and_readyz_answer_ok(db: &TestDb) {
    let s = app().db(db).start();
    let r = s.get("/healthz", None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"status": "ok"}));
    let r = s.get("/readyz", None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json")));
}

/// The database goes away under a running server (PostgreSQL refuses and
/// ends every connection to the server's own database) and comes back:
/// readiness and every route that needs the database answer 503
/// `unavailable` within the pool timeout, the process keeps running, and it
/// recovers by itself.
#[test]
fn postgres_outage_gives_503_unavailable_then_recovers_without_restart() {
    let pg = PgDatabase::create();
    let mut s = app()
        .database_url(&pg.url)
        .env("AUTH_DB_TIMEOUT", "1s")
        .start();
    let (_, access, refresh) = s.user("alice");
    assert_eq!(s.get("/readyz", None).status, 200);

    pg.allow_connections(false);

    let (r, took) = timed(|| s.get("/readyz", None));
    r.assert_error(503, "unavailable");
    assert!(took < UNAVAILABLE_WITHIN, "readyz took {took:?}");
    let (r, took) = timed(|| {
        s.post(
            "/api/token/",
            json!({"username": "alice", "password": PASSWORD}),
        )
    });
    r.assert_error(503, "unavailable");
    assert!(took < UNAVAILABLE_WITHIN, "login took {took:?}");
    let (r, took) = timed(|| s.post("/api/token/refresh/", json!({"refresh": refresh})));
    r.assert_error(503, "unavailable");
    assert!(took < UNAVAILABLE_WITHIN, "refresh took {took:?}");
    let (r, took) = timed(|| s.get("/api/me/", Some(&access)));
    r.assert_error(503, "unavailable");
    assert!(took < UNAVAILABLE_WITHIN, "me took {took:?}");
    // Liveness is not readiness: the process still runs, and an access token
    // is still checked statelessly where no user is loaded.
    assert_eq!(s.get("/healthz", None).status, 200);
    assert_eq!(
        s.post("/api/token/verify/", json!({"token": access}))
            .status,
        200
    );

    pg.allow_connections(true);

    s.wait_for_status("/readyz", 200, Duration::from_secs(15));
    let me = s.get("/api/me/", Some(&access));
    assert_eq!(me.status, 200, "{}", me.text);
    let r = s.post("/api/token/refresh/", json!({"refresh": refresh}));
    assert_eq!(r.status, 200, "the session survived the outage: {}", r.text);
    s.login("alice", PASSWORD);
}

/// SQLite has no server to lose: open connections keep working whatever
/// happens to the file. Its honest equivalent of "the database does not
/// answer" is another process holding the write lock (a backup, a stuck
/// migration): writes then fail after the busy timeout and must be 503
/// `unavailable`, not 500, and the server recovers when the lock goes.
#[test]
fn sqlite_write_lock_held_elsewhere_gives_503_unavailable_then_recovers() {
    use diesel::connection::SimpleConnection;
    let db = TestDb::sqlite();
    let s = app().db(&db).start();
    let (_, _, refresh) = s.user("alice");

    let mut holder = db.connect();
    holder
        .batch_execute("BEGIN EXCLUSIVE")
        .expect("take the write lock");
    let (r, took) = timed(|| {
        s.post(
            "/api/token/",
            json!({"username": "alice", "password": PASSWORD}),
        )
    });
    r.assert_error(503, "unavailable");
    assert!(took < Duration::from_secs(20), "login took {took:?}");
    s.post("/api/token/refresh/", json!({"refresh": refresh}))
        .assert_error(503, "unavailable");
    holder.batch_execute("ROLLBACK").expect("release the lock");

    let r = s.post("/api/token/refresh/", json!({"refresh": refresh}));
    assert_eq!(r.status, 200, "{}", r.text);
    s.login("alice", PASSWORD);
}

/// A database error that is no outage (here: tables dropped from under a
/// running SQLite server) is 500 `internal` with nothing of the cause in the
/// answer; the cause goes to the log, and the server keeps serving.
#[test]
fn a_database_error_is_500_internal_and_leaks_no_details() {
    use diesel::connection::SimpleConnection;
    let db = TestDb::sqlite();
    let s = app().db(&db).start();
    let (_, access, refresh) = s.user("alice");
    db.connect()
        .batch_execute("DROP TABLE refresh_tokens; DROP TABLE sessions;")
        .expect("drop the session tables");

    let answers = [
        (
            "login",
            s.post(
                "/api/token/",
                json!({"username": "alice", "password": PASSWORD}),
            ),
        ),
        (
            "refresh",
            s.post("/api/token/refresh/", json!({"refresh": refresh})),
        ),
        ("me", s.get("/api/me/", Some(&access))),
    ];
    for (what, r) in &answers {
        r.assert_error(500, "internal");
        assert!(r.body.get("fields").is_none(), "{what}: {}", r.text);
        let text = r.text.to_lowercase();
        for leak in [
            "table",
            "sessions",
            "refresh_tokens",
            "sql",
            "no such",
            "select",
            "insert",
            "diesel",
            "query",
        ] {
            assert!(!text.contains(leak), "{what} leaks {leak:?}: {}", r.text);
        }
    }
    assert!(
        s.log().contains("no such table"),
        "the cause is logged:\n{}",
        s.log()
    );
    assert_eq!(s.get("/healthz", None).status, 200, "still serving");
}

// ---------------------------------------------------------------- JWKS

fn jwks(s: &Server) -> Value {
    let r = s.get("/.well-known/jwks.json", None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.header("cache-control")
            .is_some_and(|c| c.contains("public")),
        "cacheable: {:?}",
        r.header("cache-control")
    );
    assert!(r.header("content-type").is_some_and(|c| c.contains("json")));
    r.body
}

fn jwks_kids(set: &Value) -> Vec<String> {
    set["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

/// HMAC keys are secret: nothing to publish, whichever HS algorithm signs.
#[test]
fn jwks_is_empty_for_hmac() {
    for alg in ["HS256", "HS384", "HS512"] {
        let db = TestDb::sqlite();
        let s = app().db(&db).env("AUTH_JWT_ALGORITHM", alg).start();
        assert_eq!(jwks(&s), json!({"keys": []}), "{alg}");
        let (_, access, _) = s.user("alice");
        let h = header(&access);
        assert_eq!(h["alg"], alg, "{h}");
        assert!(h.get("kid").is_none(), "no kid for HMAC: {h}");
        assert_eq!(s.get("/api/me/", Some(&access)).status, 200);
    }
}

const ASYMMETRIC: [(&str, Algorithm, &str); 3] = [
    ("RS256", Algorithm::RS256, "RSA"),
    ("ES256", Algorithm::ES256, "EC"),
    ("EdDSA", Algorithm::EdDSA, "OKP"),
];

/// Each asymmetric algorithm: the server signs with the configured key, its
/// tokens name the JWKS key by `kid`, and the public key in the JWKS really
/// verifies them, as a third party would check.
#[test]
fn jwks_publishes_the_signing_key_of_each_asymmetric_algorithm() {
    let keys = tempfile::tempdir().expect("temp dir");
    for (alg, algorithm, kty) in ASYMMETRIC {
        let key = generate_key(keys.path(), alg, alg);
        let db = TestDb::sqlite();
        let s = app()
            .db(&db)
            .envs(&[
                ("AUTH_JWT_ALGORITHM", alg),
                ("AUTH_JWT_PRIVATE_KEY_FILE", key.private.to_str().unwrap()),
            ])
            .start();
        let set = jwks(&s);
        let published = set["keys"].as_array().expect("keys");
        assert_eq!(published.len(), 1, "{alg}: {set}");
        let jwk = &published[0];
        assert_eq!(jwk["alg"], alg, "{jwk}");
        assert_eq!(jwk["use"], "sig", "{jwk}");
        assert_eq!(jwk["kty"], kty, "{jwk}");
        assert!(jwk["kid"].as_str().is_some_and(|k| !k.is_empty()), "{jwk}");
        assert!(jwk.get("d").is_none(), "no private part: {jwk}");

        let (_, access, refresh) = s.user("alice");
        for token in [&access, &refresh] {
            let h = header(token);
            assert_eq!(h["alg"], alg, "{h}");
            assert_eq!(h["typ"], "JWT", "{h}");
            assert_eq!(h["kid"], jwk["kid"], "{alg}: token kid is the JWKS kid");
        }
        let parsed: Jwk = serde_json::from_value(jwk.clone()).expect("a JWK");
        let mut validation = Validation::new(algorithm);
        validation.leeway = 0;
        let decoded = jsonwebtoken::decode::<Value>(
            &access,
            &DecodingKey::from_jwk(&parsed).expect("decoding key"),
            &validation,
        )
        .unwrap_or_else(|e| panic!("{alg}: the JWKS key verifies the token: {e}"));
        assert_eq!(decoded.claims["username"], "alice");
    }
}

/// Key rotation without logging anyone out, over two rotations: a server
/// that signs with the third key and lists the two earlier public keys in
/// AUTH_JWT_PUBLIC_KEY_FILES publishes all three in the JWKS and accepts
/// tokens signed by either earlier key. A key no longer listed is refused.
#[test]
fn key_rotation_keeps_old_tokens_valid_while_the_old_keys_are_listed() {
    let keys = tempfile::tempdir().expect("temp dir");
    for (alg, _, _) in ASYMMETRIC {
        let generations: Vec<KeyFiles> = (1..=3)
            .map(|g| generate_key(keys.path(), alg, &format!("{alg}-{g}")))
            .collect();
        let [first, second, third] = [&generations[0], &generations[1], &generations[2]];
        let db = TestDb::sqlite();
        let start = |signing: &KeyFiles, earlier: &[&KeyFiles]| {
            let path = |p: &Path| p.to_str().expect("UTF-8 path").to_owned();
            let private = path(&signing.private);
            let listed: Vec<String> = earlier.iter().map(|k| path(&k.public)).collect();
            let listed = listed.join(",");
            let mut env = vec![
                ("AUTH_JWT_ALGORITHM", alg),
                ("AUTH_JWT_PRIVATE_KEY_FILE", private.as_str()),
            ];
            if !earlier.is_empty() {
                env.push(("AUTH_JWT_PUBLIC_KEY_FILES", listed.as_str()));
            }
            app().db(&db).envs(&env).start()
        };
        let kid = |token: &str| header(token)["kid"].as_str().expect("kid").to_owned();

        // Generation 1 signs; generation 2 signs and still accepts 1.
        let (access1, refresh1) = {
            let s = start(first, &[]);
            let (_, access, refresh) = s.user("alice");
            (access, refresh)
        };
        let (access2, refresh2) = {
            let s = start(second, &[first]);
            assert_eq!(jwks_kids(&jwks(&s)).len(), 2, "{alg}");
            let me = s.get("/api/me/", Some(&access1));
            assert_eq!(me.status, 200, "{alg}: generation 1 token: {}", me.text);
            s.login("alice", PASSWORD)
        };
        let (kid1, kid2) = (kid(&access1), kid(&access2));
        assert_ne!(kid1, kid2, "{alg}");

        // Generation 3 signs and lists both earlier keys.
        let s = start(third, &[first, second]);
        let set = jwks(&s);
        let kids = jwks_kids(&set);
        assert_eq!(kids.len(), 3, "{alg}: all three keys published: {set}");
        for k in set["keys"].as_array().unwrap() {
            assert_eq!(k["alg"], alg);
            assert_eq!(k["use"], "sig");
        }
        for (generation, old_kid, access, refresh) in [
            (1, &kid1, &access1, &refresh1),
            (2, &kid2, &access2, &refresh2),
        ] {
            assert!(
                kids.contains(old_kid),
                "{alg}: kid {generation} listed: {set}"
            );
            let me = s.get("/api/me/", Some(access));
            assert_eq!(
                me.status, 200,
                "{alg}: generation {generation} access token: {}",
                me.text
            );
            let r = s.post("/api/token/verify/", json!({"token": access}));
            assert_eq!(r.status, 200, "{alg}: verify {generation}: {}", r.text);
            let r = s.post("/api/token/refresh/", json!({"refresh": refresh}));
            assert_eq!(
                r.status, 200,
                "{alg}: generation {generation} refresh token: {}",
                r.text
            );
            let new_kid = kid(&r.str("access"));
            assert_eq!(new_kid, kid(&r.str("refresh")));
            assert!(
                new_kid != kid1 && new_kid != kid2 && kids.contains(&new_kid),
                "{alg}: new tokens use the new key"
            );
        }
        drop(s);

        // The first key is retired: its tokens are refused, the second's not.
        let s = start(third, &[second]);
        assert_eq!(jwks_kids(&jwks(&s)).len(), 2);
        s.get("/api/me/", Some(&access1)).assert_token_not_valid();
        assert_eq!(s.get("/api/me/", Some(&access2)).status, 200, "{alg}");
        drop(s);

        // The rotation is over: no earlier key is accepted.
        let s = start(third, &[]);
        assert_eq!(jwks_kids(&jwks(&s)).len(), 1);
        s.get("/api/me/", Some(&access1)).assert_token_not_valid();
        s.get("/api/me/", Some(&access2)).assert_token_not_valid();
    }
}

// ---------------------------------------------------------------- OpenAPI

/// Every route of API.md, written with its trailing slash, and its method.
const API_ROUTES: [(&str, &str); 16] = [
    ("/api/token/", "post"),
    ("/api/token/refresh/", "post"),
    ("/api/token/sliding/", "post"),
    ("/api/token/sliding/refresh/", "post"),
    ("/api/token/verify/", "post"),
    ("/api/token/blacklist/", "post"),
    ("/api/register/", "post"),
    ("/api/me/", "get"),
    ("/api/me/password/", "post"),
    ("/api/logout/all/", "post"),
    ("/api/admin/users/", "get"),
    ("/api/admin/users/{id}/", "patch"),
    ("/api/password/reset/", "post"),
    ("/api/password/reset/confirm/", "post"),
    ("/api/register/verify-email/", "post"),
    ("/api/register/resend-email/", "post"),
];

const OPERATIONS_ROUTES: [(&str, &str); 5] = [
    ("/healthz", "get"),
    ("/readyz", "get"),
    ("/.well-known/jwks.json", "get"),
    ("/api/openapi.json", "get"),
    ("/metrics", "get"),
];

#[test]
fn openapi_documents_every_route_with_its_trailing_slash() {
    let db = TestDb::sqlite();
    // The account-recovery and sliding-token routes exist only while their
    // features are on.
    let s = app()
        .db(&db)
        .env("AUTH_SLIDING_TOKENS", "on")
        .env(
            "AUTH_PASSWORD_RESET_URL",
            "https://app.example.com/r/{uid}/{token}",
        )
        .env("AUTH_EMAIL_VERIFICATION", "optional")
        .env("AUTH_EMAIL_VERIFY_URL", "https://app.example.com/v/{key}")
        .start();
    let r = s.get("/api/openapi.json", None);
    assert_eq!(r.status, 200, "{}", r.text);
    let doc = r.body;
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "OpenAPI 3: {}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    for (path, method) in API_ROUTES.iter().chain(&OPERATIONS_ROUTES) {
        assert!(
            paths
                .get(*path)
                .and_then(|p| p.get(*method))
                .is_some_and(Value::is_object),
            "{method} {path} documented; paths: {:?}",
            paths.keys().collect::<Vec<_>>()
        );
    }
    for path in paths.keys().filter(|p| p.starts_with("/api/")) {
        assert!(
            path.ends_with('/') || path == "/api/openapi.json",
            "{path} written with its trailing slash"
        );
    }
    let parameters = paths["/api/admin/users/{id}/"]["patch"]["parameters"]
        .as_array()
        .expect("parameters");
    assert!(
        parameters
            .iter()
            .any(|p| p["name"] == "id" && p["in"] == "path" && p["required"] == true),
        "path parameter id: {parameters:?}"
    );

    // And the document describes the server that serves it: every
    // documented operation is routed (no 404, no 405).
    for (path, item) in paths {
        for method in item.as_object().expect("path item").keys() {
            let Ok(m) = Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue;
            };
            let url = path.replace("{id}", "1");
            let body = (m != Method::GET).then(|| json!({}));
            let r = s.request(m, &url, None, body.as_ref());
            assert!(
                r.status != 404 && r.status != 405,
                "{method} {url} is documented but answers {}: {}",
                r.status,
                r.text
            );
        }
    }
}

// ---------------------------------------------------------------- metrics

#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The samples of the Prometheus text format: `name{k="v",...} value`.
fn parse_metrics(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name_and_labels, value) = line.rsplit_once(' ').expect("name and value");
        let value = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("a number in {line}")),
        };
        let (name, labels) = match name_and_labels.split_once('{') {
            None => (name_and_labels.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("closing brace");
                (name.to_owned(), parse_labels(body))
            }
        };
        samples.push(Sample {
            name,
            labels,
            value,
        });
    }
    samples
}

fn parse_labels(body: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut chars = body.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "quoted label value in {body}");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => value.push(chars.next().expect("escaped char")),
                '"' => break,
                c => value.push(c),
            }
        }
        labels.insert(key.trim().to_owned(), value);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    labels
}

struct Metrics(Vec<Sample>);

impl Metrics {
    fn read(s: &Server) -> (Self, String) {
        let r = s.get("/metrics", None);
        assert_eq!(r.status, 200, "{}", r.text);
        let ct = r.header("content-type").unwrap_or_default();
        assert!(ct.starts_with("text/plain"), "content type {ct}");
        (Self(parse_metrics(&r.text)), r.text)
    }

    /// The one sample of `name` whose labels include `labels`, if any.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<&Sample> = self
            .0
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect();
        assert!(
            found.len() <= 1,
            "{name} {labels:?} is ambiguous: {found:?}"
        );
        found.first().map(|s| s.value)
    }

    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
    }

    /// The sum of `name` over the samples whose `label` is not `except`.
    fn sum_except(&self, name: &str, label: &str, except: &str) -> f64 {
        self.0
            .iter()
            .filter(|s| s.name == name && s.labels.get(label).is_some_and(|v| v != except))
            .map(|s| s.value)
            .sum()
    }
}

#[test]
fn metrics_count_requests_latencies_and_auth_outcomes() {
    let db = TestDb::sqlite();
    let s = app().db(&db).start();
    let (before, _) = Metrics::read(&s);
    assert_eq!(
        before.get("auth_refresh_reuse_detected_total", &[]),
        Some(0.0)
    );

    s.register("alice", PASSWORD);
    let (_, r1) = s.login("alice", PASSWORD);
    s.post(
        "/api/token/",
        json!({"username": "alice", "password": "not the password"}),
    )
    .assert_error(401, "no_active_account");
    let r = s.post("/api/token/refresh/", json!({"refresh": r1}));
    assert_eq!(r.status, 200, "{}", r.text);
    // r1 is retired: presenting it again is reuse
    s.post("/api/token/refresh/", json!({"refresh": r1}))
        .assert_token_not_valid();
    // unknown paths must not become label values (unbounded cardinality)
    s.get("/no-such-path-7f3a", None)
        .assert_error(404, "not_found");

    let (m, text) = Metrics::read(&s);
    let requests = |route: &str, method: &str, status: &str| {
        m.get(
            "http_requests_total",
            &[("route", route), ("method", method), ("status", status)],
        )
        .unwrap_or(0.0)
    };
    assert_eq!(requests("/api/token/", "POST", "200"), 1.0, "{text}");
    assert_eq!(requests("/api/token/", "POST", "401"), 1.0, "{text}");
    assert_eq!(requests("/api/register/", "POST", "201"), 1.0, "{text}");
    assert_eq!(requests("/api/token/refresh/", "POST", "200"), 1.0);
    assert_eq!(requests("/api/token/refresh/", "POST", "401"), 1.0);
    assert!(
        !text.contains("no-such-path-7f3a"),
        "unknown paths stay out of the labels"
    );

    assert!(text.contains("# TYPE http_requests_total counter"));
    assert!(text.contains("# TYPE http_request_duration_seconds histogram"));
    let login = [("route", "/api/token/"), ("method", "POST")];
    assert_eq!(m.value("http_request_duration_seconds_count", &login), 2.0);
    assert!(m.value("http_request_duration_seconds_sum", &login) > 0.0);
    let buckets: Vec<&Sample> =
        m.0.iter()
            .filter(|s| {
                s.name == "http_request_duration_seconds_bucket"
                    && login
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect();
    assert!(buckets.len() > 2, "buckets: {buckets:?}");
    let inf = buckets
        .iter()
        .find(|b| b.labels["le"] == "+Inf")
        .expect("+Inf bucket");
    assert_eq!(inf.value, 2.0);
    let mut by_bound: Vec<(f64, f64)> = buckets
        .iter()
        .map(|b| {
            let le = match b.labels["le"].as_str() {
                "+Inf" => f64::INFINITY,
                v => v.parse().expect("bucket bound"),
            };
            (le, b.value)
        })
        .collect();
    by_bound.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(
        by_bound.windows(2).all(|w| w[0].1 <= w[1].1),
        "cumulative buckets: {by_bound:?}"
    );

    assert_eq!(m.value("auth_logins_total", &[("outcome", "success")]), 1.0);
    assert_eq!(
        m.sum_except("auth_logins_total", "outcome", "success"),
        1.0,
        "one failed login: {text}"
    );
    assert_eq!(
        m.value("auth_refreshes_total", &[("outcome", "success")]),
        1.0
    );
    assert_eq!(
        m.sum_except("auth_refreshes_total", "outcome", "success"),
        1.0,
        "one refused refresh: {text}"
    );
    assert_eq!(m.value("auth_refresh_reuse_detected_total", &[]), 1.0);
}

/// The bare path and the slashed one are one route, one series, labelled as
/// the contract writes the path (`/api/openapi.json` has no slash at all).
#[test]
fn metrics_count_both_spellings_of_a_path_under_the_contracts_route() {
    let db = TestDb::sqlite();
    let s = app().db(&db).start();
    s.post("/api/token", json!({})).assert_error(400, "invalid");
    s.post("/api/token/", json!({}))
        .assert_error(400, "invalid");
    assert_eq!(s.get("/api/openapi.json", None).status, 200);
    let (m, text) = Metrics::read(&s);
    let requests = |route: &str, method: &str, status: &str| {
        m.value(
            "http_requests_total",
            &[("route", route), ("method", method), ("status", status)],
        )
    };
    assert_eq!(requests("/api/token/", "POST", "400"), 2.0, "{text}");
    assert_eq!(requests("/api/openapi.json", "GET", "200"), 1.0, "{text}");
    assert!(!text.contains("/api/openapi.json/"), "{text}");
}

// ---------------------------------------------------------------- 404/405/413

#[test]
fn other_methods_get_405_before_authentication() {
    let db = TestDb::sqlite();
    let s = app().db(&db).start();
    let cases = [
        (Method::DELETE, "/api/me/"),
        (Method::DELETE, "/api/me"),
        (Method::POST, "/api/me/"),
        (Method::PUT, "/api/token/"),
        (Method::GET, "/api/token/"),
        (Method::GET, "/api/token/refresh/"),
        (Method::GET, "/api/token/verify/"),
        (Method::DELETE, "/api/token/blacklist/"),
        (Method::GET, "/api/register/"),
        (Method::GET, "/api/me/password/"),
        (Method::GET, "/api/logout/all/"),
        (Method::POST, "/api/admin/users/"),
        (Method::GET, "/api/admin/users/1/"),
        (Method::DELETE, "/api/admin/users/1/"),
        (Method::POST, "/healthz"),
        (Method::DELETE, "/.well-known/jwks.json"),
        (Method::POST, "/metrics"),
    ];
    for (method, path) in cases {
        // no credentials, and bad credentials: 405 either way, never 401
        for token in [None, Some("not.a.token")] {
            let r = s.request(method.clone(), path, token, None);
            assert_eq!(r.status, 405, "{method} {path} ({token:?}): {}", r.text);
            r.assert_error(405, "method_not_allowed");
            // RFC 9110 §15.5.6: a 405 lists the methods the route does allow
            let allow = r.header("allow").unwrap_or_default();
            assert!(
                ["GET", "POST", "PATCH"].contains(&allow.as_str()) && allow != method.as_str(),
                "Allow of {method} {path}: {allow:?}"
            );
        }
    }
}

#[test]
fn unknown_paths_get_404_in_the_envelope() {
    let db = TestDb::sqlite();
    let s = app().db(&db).start();
    for (method, path) in [
        (Method::GET, "/nope"),
        (Method::GET, "/"),
        (Method::GET, "/api/"),
        (Method::POST, "/api/token/extra/"),
        (Method::GET, "/api/admin/users/1/extra/"),
        (Method::DELETE, "/api/nothing/"),
    ] {
        let r = s.request(method.clone(), path, None, None);
        assert_eq!(r.status, 404, "{method} {path}: {}", r.text);
        r.assert_error(404, "not_found");
    }
}

#[test]
fn oversize_json_bodies_get_413() {
    let db = TestDb::sqlite();
    let s = app().db(&db).start();
    let big = serde_json::to_vec(&json!({
        "username": "a".repeat(64 * 1024),
        "password": PASSWORD,
    }))
    .expect("JSON");
    for path in ["/api/token/", "/api/register/", "/api/token/refresh/"] {
        // with a Content-Length
        s.post_raw(path, Some("application/json"), big.clone())
            .assert_error(413, "payload_too_large");
        // chunked, without a Content-Length: the limit holds while reading
        let chunked = reqwest::blocking::Body::new(std::io::Cursor::new(big.clone()));
        s.post_raw(path, Some("application/json"), chunked)
            .assert_error(413, "payload_too_large");
    }
}

// ---------------------------------------------------------------- Authorization

fn me_with_authorization(s: &Server, value: &str) -> Resp {
    s.request_with_headers(Method::GET, "/api/me/", &[("authorization", value)], None)
}

#[test]
fn authorization_header_rules_on_protected_routes() {
    let db = TestDb::sqlite();
    let s = app().db(&db).start();
    let (_, access, refresh) = s.user("alice");

    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let r = me_with_authorization(&s, &format!("{scheme} {access}"));
        assert_eq!(r.status, 200, "scheme {scheme}: {}", r.text);
    }

    // Another scheme is no credentials: a plain challenge, no error=
    for value in ["Basic YWxpY2U6cGFzc3dvcmQ=", "Token abc", "Token"] {
        let r = me_with_authorization(&s, value);
        r.assert_error(401, "not_authenticated");
        assert_eq!(
            r.header("www-authenticate").as_deref(),
            Some("Bearer realm=\"api\""),
            "{value}"
        );
    }
    let r = s.get("/api/me/", None);
    r.assert_error(401, "not_authenticated");
    assert_eq!(
        r.header("www-authenticate").as_deref(),
        Some("Bearer realm=\"api\"")
    );

    for value in [
        "Bearer",
        "Bearer ",
        "Bearer a b",
        &format!("Bearer {access} x"),
    ] {
        let r = me_with_authorization(&s, value);
        r.assert_error(401, "bad_authorization_header");
        assert!(
            r.header("www-authenticate")
                .is_some_and(|c| c.starts_with("Bearer realm=\"api\"")),
            "{value}: {:?}",
            r.header("www-authenticate")
        );
    }

    // A token was given but rejected: error="invalid_token"
    me_with_authorization(&s, "Bearer abc.def.ghi").assert_token_not_valid();
    s.get("/api/me/", Some(&refresh)).assert_token_not_valid();

    // Every protected route challenges the same way.
    for (method, path) in [
        (Method::POST, "/api/me/password/"),
        (Method::POST, "/api/logout/all/"),
        (Method::GET, "/api/admin/users/"),
        (Method::PATCH, "/api/admin/users/1/"),
    ] {
        let body = (method != Method::GET).then(|| json!({}));
        let r = s.request(method.clone(), path, None, body.as_ref());
        r.assert_error(401, "not_authenticated");
        assert_eq!(
            r.header("www-authenticate").as_deref(),
            Some("Bearer realm=\"api\""),
            "{method} {path}"
        );
        let r = s.request(method.clone(), path, Some("abc.def.ghi"), body.as_ref());
        r.assert_token_not_valid();
    }
}

// ---------------------------------------------------------------- SIGTERM

/// In-flight requests finish with their real answer after SIGTERM, and the
/// process exits 0. bcrypt at cost 12 makes each login take a few hundred
/// milliseconds, so the logins are certainly in flight when the signal lands.
fn sigterm_drains_in_flight_requests_and_exits_0(db: &TestDb) {
    const LOGINS: usize = 4;
    let mut s = app().db(db).env("AUTH_BCRYPT_COST", "12").start();
    s.register("alice", PASSWORD);
    let url = s.url("/api/token/");
    let start = std::sync::Arc::new(std::sync::Barrier::new(LOGINS + 1));
    let threads: Vec<_> = (0..LOGINS)
        .map(|_| {
            let (url, start) = (url.clone(), start.clone());
            let health = url.replace("/api/token/", "/healthz");
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .no_proxy()
                    .timeout(Duration::from_secs(60))
                    .build()
                    .expect("client");
                // Open the connection first, so the login rides on a
                // connection the server has accepted before the signal.
                assert_eq!(client.get(&health).send().expect("healthz").status(), 200);
                start.wait();
                let r = client
                    .post(&url)
                    .json(&json!({"username": "alice", "password": PASSWORD}))
                    .send()
                    .map(Resp::from);
                (r, Instant::now())
            })
        })
        .collect();
    start.wait();
    std::thread::sleep(Duration::from_millis(100));
    let signalled = Instant::now();
    signal(s.pid(), "TERM");
    for t in threads {
        let (r, finished) = t.join().expect("login thread");
        let r = r.unwrap_or_else(|e| panic!("in-flight login was cut off: {e}"));
        assert_eq!(r.status, 200, "in-flight login: {}", r.text);
        assert!(
            claims(&r.str("access"))["username"] == "alice",
            "a real token"
        );
        assert!(
            finished > signalled,
            "the login was still in flight at SIGTERM (else nothing was drained)"
        );
    }
    let status = s.wait_exit();
    assert_eq!(status.code(), Some(0), "exit status {status}\n{}", s.log());
}

backend_tests!(
    healthz_and_readyz_answer_ok,
    sigterm_drains_in_flight_requests_and_exits_0,
);
