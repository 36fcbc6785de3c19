//! The token endpoints of docs/API.md, row by row, through the real
//! server on SQLite and on PostgreSQL.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use reqwest::Method;
use serde_json::{json, Value};
use test_support::jwt::{b64url, claims, forge, header, now, secret_key, sign};
use test_support::{backend_tests, keys, Server, TestDb, PASSWORD};

use crate::app;

fn login_returns_a_pair_without_caching(db: &TestDb) {
    let s = app().db(db).start();
    s.register("alice", PASSWORD);
    let r = s.post(
        "/api/token/",
        json!({"username": "alice", "password": PASSWORD}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body), ["access", "refresh"]);
    assert!(r
        .header("cache-control")
        .is_some_and(|c| c.contains("no-store")));
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json")));
}

fn login_failures_look_the_same(db: &TestDb) {
    let s = app().db(db).start();
    s.register("alice", PASSWORD);
    let id = s.register("inactive", PASSWORD)["id"].as_i64().unwrap();
    let (_, admin) = s.admin("root");
    s.deactivate(&admin, id);

    let attempts = [
        ("alice", "wrong password!"),
        ("nobody", PASSWORD),
        ("inactive", PASSWORD),
    ];
    let bodies: Vec<Value> = attempts
        .iter()
        .map(|(u, p)| {
            let r = s.post("/api/token/", json!({"username": u, "password": p}));
            r.assert_error(401, "no_active_account");
            assert!(r
                .header("www-authenticate")
                .is_some_and(|c| c.starts_with("Bearer realm=\"api\"")));
            r.body
        })
        .collect();
    assert_eq!(
        bodies[0]["detail"],
        "No active account found with the given credentials"
    );
    assert!(
        bodies.iter().all(|b| *b == bodies[0]),
        "same body for all three: {bodies:?}"
    );
}

/// API.md: a failed login for an unknown or an inactive user has "the same
/// timing" as a wrong password. This is NOT a performance assertion (no
/// latency budget): it checks that every failure path spends a bcrypt check.
/// At cost 10 one check takes tens of milliseconds, while a path that skips
/// it answers in about a millisecond. Comparing the fastest of three tries of
/// each kind (noise only ever adds time) with a factor of 2 of slack is a
/// ratio that holds on any machine, fast or slow, loaded or idle.
fn failed_logins_spend_a_bcrypt_check_whoever_the_user(db: &TestDb) {
    let s = app().db(db).env("AUTH_BCRYPT_COST", "10").start();
    s.register("alice", PASSWORD);
    let id = s.register("inactive", PASSWORD)["id"].as_i64().unwrap();
    let (_, admin) = s.admin("root");
    s.deactivate(&admin, id);

    let attempts = [
        ("wrong password", "alice", "wrong password!"),
        ("unknown user", "nobody", PASSWORD),
        ("inactive user", "inactive", PASSWORD),
    ];
    let mut fastest = [Duration::MAX; 3];
    // Interleaved, so that any drift of the machine's speed hits all three.
    for _ in 0..3 {
        for (i, (_, username, password)) in attempts.iter().enumerate() {
            let started = Instant::now();
            let r = s.post(
                "/api/token/",
                json!({"username": username, "password": password}),
            );
            let took = started.elapsed();
            r.assert_error(401, "no_active_account");
            fastest[i] = fastest[i].min(took);
        }
    }
    let [wrong, unknown, inactive] = fastest;
    for (what, took) in [("unknown user", unknown), ("inactive user", inactive)] {
        assert!(
            took * 2 >= wrong,
            "a failed login for an {what} skips bcrypt: fastest {took:?}, \
             against {wrong:?} for a wrong password"
        );
    }
}

fn login_validates_its_body(db: &TestDb) {
    let s = app().db(db).start();
    s.post("/api/token/", json!({"username": "alice"}))
        .assert_field_error("password");
    s.post("/api/token/", json!({"password": PASSWORD}))
        .assert_field_error("username");
    s.post("/api/token/", json!({"username": 5, "password": PASSWORD}))
        .assert_field_error("username");
    s.post("/api/token/", json!({"username": "a", "password": ["x"]}))
        .assert_field_error("password");
    s.post(
        "/api/token/",
        json!({"username": null, "password": PASSWORD}),
    )
    .assert_field_error("username");
    let both = s.post("/api/token/", json!({}));
    both.assert_field_error("username")
        .assert_field_error("password");
    s.post("/api/token/", json!([1, 2]))
        .assert_error(400, "invalid");
    s.post_raw("/api/token/", Some("application/json"), "{\"username\": ")
        .assert_error(400, "invalid");
    s.post_raw("/api/token/", Some("application/json"), "")
        .assert_error(400, "invalid");
    s.post_raw("/api/token/", Some("text/plain"), "{}")
        .assert_error(415, "unsupported_media_type");
    s.post_raw(
        "/api/token/",
        Some("application/x-www-form-urlencoded"),
        "username=a&password=b",
    )
    .assert_error(415, "unsupported_media_type");
    s.post_raw("/api/token/", None, "{}")
        .assert_error(415, "unsupported_media_type");
}

/// API.md conventions on every route that reads a body: malformed JSON, a
/// body that is not an object, a missing field and a field of the wrong type
/// get 400 `invalid` (with `fields` naming the field where there is one);
/// another content type, or none, gets 415 even when the body would be
/// good JSON, and nothing is done with it.
fn every_body_route_gives_400_for_bad_json_and_415_for_other_types(db: &TestDb) {
    let s = app().db(db).start();
    let (_, admin) = s.admin("root");
    let (alice_id, alice, alice_refresh) = s.user("alice");
    let new_password = "a brand new passphrase";

    struct Route {
        method: Method,
        path: String,
        token: Option<String>,
        /// A body that would succeed, sent with the wrong content types.
        good: Value,
        /// Fields that may not be missing.
        required: &'static [&'static str],
        /// Every field with the values of a wrong type for it.
        wrong_types: Vec<(&'static str, Vec<Value>)>,
    }
    let not_strings = || vec![json!(5), json!(true), json!(["x"]), json!({"a": "b"})];
    let not_bools = || vec![json!(1), json!("true"), json!(["x"]), json!(null)];
    let token_route = |path: &str, field: &'static str, value: &str| Route {
        method: Method::POST,
        path: path.to_owned(),
        token: None,
        good: json!({ field: value }),
        required: match field {
            "token" => &["token"],
            _ => &["refresh"],
        },
        wrong_types: vec![(field, not_strings())],
    };
    let routes = [
        Route {
            method: Method::POST,
            path: "/api/token/".to_owned(),
            token: None,
            good: json!({"username": "alice", "password": PASSWORD}),
            required: &["username", "password"],
            wrong_types: vec![("username", not_strings()), ("password", not_strings())],
        },
        token_route("/api/token/refresh/", "refresh", &alice_refresh),
        token_route("/api/token/verify/", "token", &alice),
        token_route("/api/token/blacklist/", "refresh", &alice_refresh),
        Route {
            method: Method::POST,
            path: "/api/register/".to_owned(),
            token: None,
            good: json!({"username": "newcomer", "password": PASSWORD}),
            required: &["username", "password"],
            wrong_types: vec![
                ("username", not_strings()),
                ("password", not_strings()),
                ("email", not_strings()),
            ],
        },
        Route {
            method: Method::POST,
            path: "/api/me/password/".to_owned(),
            token: Some(alice.clone()),
            good: json!({"old_password": PASSWORD, "new_password": new_password}),
            required: &["old_password", "new_password"],
            wrong_types: vec![
                ("old_password", not_strings()),
                ("new_password", not_strings()),
            ],
        },
        Route {
            method: Method::PATCH,
            path: format!("/api/admin/users/{alice_id}/"),
            token: Some(admin.clone()),
            good: json!({"is_active": false, "is_admin": true}),
            required: &[],
            wrong_types: vec![("is_active", not_bools()), ("is_admin", not_bools())],
        },
    ];

    for route in &routes {
        let what = format!("{} {}", route.method, route.path);
        let authorization = route.token.as_ref().map(|t| format!("Bearer {t}"));
        let send = |content_type: Option<&str>, body: Vec<u8>| {
            let mut headers: Vec<(&str, &str)> = Vec::new();
            if let Some(a) = &authorization {
                headers.push(("authorization", a));
            }
            if let Some(ct) = content_type {
                headers.push(("content-type", ct));
            }
            s.request_raw(route.method.clone(), &route.path, &headers, body)
        };
        let json_body = |v: &Value| send(Some("application/json"), v.to_string().into_bytes());

        // not JSON, or JSON that is not an object
        for raw in [
            "", "{", "{\"a\": ", "{nope}", "[1, 2]", "null", "42", "\"text\"",
        ] {
            let r = send(Some("application/json"), raw.as_bytes().to_vec());
            assert_eq!(r.status, 400, "{what} with {raw:?}: {}", r.text);
            r.assert_error(400, "invalid");
        }
        // each required field missing, alone and all at once
        for field in route.required {
            let mut body = route.good.clone();
            body.as_object_mut().unwrap().remove(*field);
            let r = json_body(&body);
            assert_eq!(r.status, 400, "{what} without {field}: {}", r.text);
            r.assert_field_error(field);
        }
        if !route.required.is_empty() {
            let r = json_body(&json!({}));
            for field in route.required {
                r.assert_field_error(field);
            }
        }
        // each field with a value of the wrong type, the others good
        for (field, values) in &route.wrong_types {
            for value in values {
                let mut body = route.good.clone();
                body[*field] = value.clone();
                let r = json_body(&body);
                assert_eq!(r.status, 400, "{what} with {field}={value}: {}", r.text);
                r.assert_field_error(field);
                let named: Vec<&String> = r.body["fields"].as_object().unwrap().keys().collect();
                assert_eq!(named, [field], "{what} with {field}={value}: {}", r.text);
            }
        }
        // other content types, or none: 415, whatever the body holds
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            None,
        ] {
            let r = send(content_type, route.good.to_string().into_bytes());
            assert_eq!(r.status, 415, "{what} as {content_type:?}: {}", r.text);
            r.assert_error(415, "unsupported_media_type");
        }
    }

    // Nothing refused above was acted on: alice's password, flags and
    // refresh token are as they were, and nobody registered.
    s.post(
        "/api/token/",
        json!({"username": "newcomer", "password": PASSWORD}),
    )
    .assert_error(401, "no_active_account");
    let me = s.get("/api/me/", Some(&alice));
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(
        (me.body["is_active"].clone(), me.body["is_admin"].clone()),
        (json!(true), json!(false))
    );
    s.login("alice", PASSWORD);
    let r = s.post("/api/token/refresh/", json!({"refresh": alice_refresh}));
    assert_eq!(r.status, 200, "never retired or blacklisted: {}", r.text);
}

fn refresh_rotates_and_retires_the_old_token(db: &TestDb) {
    let s = app().db(db).start();
    let (_, _, r1) = s.user("alice");
    let r = s.post("/api/token/refresh/", json!({"refresh": r1}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body), ["access", "refresh"]);
    assert!(r
        .header("cache-control")
        .is_some_and(|c| c.contains("no-store")));
    let r2 = r.str("refresh");
    assert_ne!(r2, r1);
    assert_eq!(claims(&r2)["sid"], claims(&r1)["sid"], "same family");
    assert_eq!(claims(&r.str("access"))["sid"], claims(&r1)["sid"]);
    // single use: the old token is retired
    s.post("/api/token/refresh/", json!({"refresh": r1}))
        .assert_token_not_valid();
}

fn reuse_revokes_the_whole_family(db: &TestDb) {
    let s = app().db(db).start();
    let (_, _, r1) = s.user("alice");
    let r2 = s
        .post("/api/token/refresh/", json!({"refresh": r1}))
        .str("refresh");
    let access2 = s
        .post("/api/token/refresh/", json!({"refresh": r2}))
        .str("access");
    // r2 is now retired too; the newest is r3. Presenting r1 again is reuse.
    let r = s.post("/api/token/refresh/", json!({"refresh": r1}));
    r.assert_token_not_valid();
    // the family is gone: an access token of it no longer loads the user
    s.get("/api/me/", Some(&access2)).assert_token_not_valid();
    // a second login is a new family and works
    let (access, _) = s.login("alice", PASSWORD);
    assert_eq!(s.get("/api/me/", Some(&access)).status, 200);
}

fn reuse_at_blacklist_revokes_the_family(db: &TestDb) {
    let s = app().db(db).start();
    let (_, _, r1) = s.user("alice");
    let r2 = s
        .post("/api/token/refresh/", json!({"refresh": r1}))
        .str("refresh");
    s.post("/api/token/blacklist/", json!({"refresh": r1}))
        .assert_token_not_valid();
    s.post("/api/token/refresh/", json!({"refresh": r2}))
        .assert_token_not_valid();
}

fn verify_of_a_retired_token_only_answers_401(db: &TestDb) {
    let s = app().db(db).start();
    let (_, _, r1) = s.user("alice");
    let r2 = s
        .post("/api/token/refresh/", json!({"refresh": r1}))
        .str("refresh");
    s.post("/api/token/verify/", json!({"token": r1}))
        .assert_token_not_valid();
    // verify revoked nothing: the newest token still refreshes
    assert_eq!(
        s.post("/api/token/refresh/", json!({"refresh": r2})).status,
        200
    );
}

fn newest_token_dies_with_its_family(db: &TestDb) {
    let s = app().db(db).start();
    let (_, _, r1) = s.user("alice");
    let r2 = s
        .post("/api/token/refresh/", json!({"refresh": r1}))
        .str("refresh");
    s.post("/api/token/refresh/", json!({"refresh": r1}))
        .assert_token_not_valid();
    s.post("/api/token/refresh/", json!({"refresh": r2}))
        .assert_token_not_valid();
    s.post("/api/token/verify/", json!({"token": r2}))
        .assert_token_not_valid();
}

fn concurrent_refreshes_at_most_one_succeeds(db: &TestDb) {
    let s = Arc::new(app().db(db).start());
    for round in 0..3 {
        let (_, _, r) = s.user(&format!("racer{round}"));
        let n = 8;
        let barrier = Arc::new(Barrier::new(n));
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let (s, r, barrier) = (Arc::clone(&s), r.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    s.post("/api/token/refresh/", json!({"refresh": r})).status
                })
            })
            .collect();
        let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 401),
            "{statuses:?}"
        );
        // at most one succeeds (the contract), and a valid token is not
        // lost to the race: exactly one
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "exactly one succeeds: {statuses:?}"
        );
    }
}

fn a_trusted_proxys_resend_of_a_refresh_is_not_reuse(db: &TestDb) {
    let refresh_as = |s: &Server, token: &str, rid: &str| {
        s.request_with_headers(
            Method::POST,
            "/api/token/refresh/",
            &[("X-Request-Id", rid)],
            Some(&json!({ "refresh": token })),
        )
    };
    let rid = "581a370ee7d636ba444f0ca5557360d6";

    // from nginx (trusted): the same request id again gets the same successor
    let proxied = app()
        .db(db)
        .env("AUTH_TRUSTED_PROXIES", "127.0.0.1")
        .start();
    let (_, _, r1) = proxied.user("alice");
    let lost = refresh_as(&proxied, &r1, rid);
    assert_eq!(lost.status, 200, "{}", lost.text);
    let resent = refresh_as(&proxied, &r1, rid);
    assert_eq!(resent.status, 200, "{}", resent.text);
    let r2 = resent.str("refresh");
    assert_eq!(claims(&r2)["jti"], claims(&lost.str("refresh"))["jti"]);
    assert_eq!(
        proxied.get("/api/me/", Some(&resent.str("access"))).status,
        200
    );
    // another request with the retired token is reuse, and ends the family
    refresh_as(&proxied, &r1, "another-request").assert_token_not_valid();
    proxied
        .post("/api/token/refresh/", json!({"refresh": r2}))
        .assert_token_not_valid();

    // from anyone else the header means nothing: a replay is reuse
    let direct = app().db(db).start();
    let (_, _, r1) = direct.user("bob");
    let r2 = refresh_as(&direct, &r1, rid).str("refresh");
    refresh_as(&direct, &r1, rid).assert_token_not_valid();
    direct
        .post("/api/token/refresh/", json!({"refresh": r2}))
        .assert_token_not_valid();
}

fn verify_accepts_both_types(db: &TestDb) {
    let s = app().db(db).start();
    let (_, access, refresh) = s.user("alice");
    for token in [&access, &refresh] {
        let r = s.post("/api/token/verify/", json!({"token": token}));
        assert_eq!((r.status, r.body.clone()), (200, json!({})), "{}", r.text);
    }
    s.post("/api/token/verify/", json!({"token": "not.a.token"}))
        .assert_token_not_valid();
    s.post("/api/token/verify/", json!({"token": ""}))
        .assert_field_error("token");
    s.post("/api/token/verify/", json!({}))
        .assert_field_error("token");
}

fn blacklist_revokes_the_family(db: &TestDb) {
    let s = app().db(db).start();
    let (_, access, refresh) = s.user("alice");
    let r = s.post("/api/token/blacklist/", json!({"refresh": refresh}));
    assert_eq!((r.status, r.body.clone()), (200, json!({})), "{}", r.text);
    s.post("/api/token/refresh/", json!({"refresh": refresh}))
        .assert_token_not_valid();
    s.post("/api/token/blacklist/", json!({"refresh": refresh}))
        .assert_token_not_valid();
    s.post("/api/token/verify/", json!({"token": refresh}))
        .assert_token_not_valid();
    s.get("/api/me/", Some(&access)).assert_token_not_valid();
    // verify stays stateless for access tokens
    assert_eq!(
        s.post("/api/token/verify/", json!({"token": access}))
            .status,
        200
    );
    // an access token is not a refresh token
    let (access, _) = s.login("alice", PASSWORD);
    s.post("/api/token/blacklist/", json!({"refresh": access}))
        .assert_token_not_valid();
    s.post("/api/token/blacklist/", json!({}))
        .assert_field_error("refresh");
}

fn session_lifetime_is_absolute(db: &TestDb) {
    let s = app().db(db).env("AUTH_SESSION_LIFETIME", "3s").start();
    let (_, access, r1) = s.user("alice");
    let login_iat = claims(&r1)["iat"].as_i64().unwrap();
    assert!(
        claims(&r1)["exp"].as_i64().unwrap() <= login_iat + 3,
        "refresh exp capped at the session"
    );
    assert!(
        claims(&access)["exp"].as_i64().unwrap() <= login_iat + 3,
        "access exp capped at the session"
    );
    let r2 = s
        .post("/api/token/refresh/", json!({"refresh": r1}))
        .str("refresh");
    assert!(
        claims(&r2)["exp"].as_i64().unwrap() <= login_iat + 3,
        "a rotated token is capped too"
    );
    std::thread::sleep(std::time::Duration::from_millis(4100));
    s.post("/api/token/refresh/", json!({"refresh": r2}))
        .assert_token_not_valid();
}

fn rotated_tokens_get_a_fresh_lifetime(db: &TestDb) {
    let s = app()
        .db(db)
        .env("AUTH_REFRESH_TOKEN_LIFETIME", "1h")
        .start();
    let (_, _, r1) = s.user("alice");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let r2 = s
        .post("/api/token/refresh/", json!({"refresh": r1}))
        .str("refresh");
    let (c1, c2) = (claims(&r1), claims(&r2));
    assert_eq!(
        c1["exp"].as_i64().unwrap() - c1["iat"].as_i64().unwrap(),
        3600
    );
    assert_eq!(
        c2["exp"].as_i64().unwrap() - c2["iat"].as_i64().unwrap(),
        3600
    );
    assert!(c2["exp"].as_i64() > c1["exp"].as_i64());
}

fn without_rotation_the_refresh_token_stays(db: &TestDb) {
    let s = app()
        .db(db)
        .env("AUTH_ROTATE_REFRESH_TOKENS", "false")
        .start();
    let (_, _, refresh) = s.user("alice");
    for _ in 0..3 {
        let r = s.post("/api/token/refresh/", json!({"refresh": refresh}));
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(keys(&r.body), ["access"]);
        assert!(
            r.header("cache-control")
                .is_some_and(|c| c.contains("no-store")),
            "an access-only response carries a token too: {:?}",
            r.header("cache-control")
        );
        assert_eq!(s.get("/api/me/", Some(&r.str("access"))).status, 200);
    }
    let r = s.post("/api/token/blacklist/", json!({"refresh": refresh}));
    assert_eq!((r.status, r.body.clone()), (200, json!({})), "{}", r.text);
    s.post("/api/token/refresh/", json!({"refresh": refresh}))
        .assert_token_not_valid();
}

fn tokens_carry_the_contract_claims(db: &TestDb) {
    let s = app().db(db).start();
    let (id, access, refresh) = s.user("alice");
    let (a, r) = (claims(&access), claims(&refresh));
    assert_eq!(
        keys(&a),
        [
            "admin",
            "exp",
            "iat",
            "jti",
            "sid",
            "sub",
            "token_type",
            "user_id",
            "username"
        ]
    );
    assert_eq!(
        keys(&r),
        ["exp", "iat", "jti", "sid", "sub", "token_type", "user_id"]
    );
    assert_eq!(a["token_type"], "access");
    assert_eq!(r["token_type"], "refresh");
    for c in [&a, &r] {
        assert_eq!(c["sub"], id.to_string(), "sub is the id as a string");
        assert_eq!(c["user_id"], id.to_string());
        assert!(c["jti"].as_str().is_some_and(|j| j.len() == 32));
    }
    assert_eq!(a["username"], "alice");
    assert_eq!(a["admin"], false);
    assert_eq!(a["sid"], r["sid"]);
    assert_ne!(a["jti"], r["jti"]);
    assert_eq!(
        a["exp"].as_i64().unwrap() - a["iat"].as_i64().unwrap(),
        300,
        "5m default"
    );
    assert_eq!(
        r["exp"].as_i64().unwrap() - r["iat"].as_i64().unwrap(),
        86_400,
        "1d default"
    );
    assert_eq!(header(&access), json!({"alg": "HS256", "typ": "JWT"}));
}

fn issuer_and_audience_when_configured(db: &TestDb) {
    let s = app()
        .db(db)
        .envs(&[
            ("AUTH_JWT_ISSUER", "https://auth.example"),
            ("AUTH_JWT_AUDIENCE", "shop"),
        ])
        .start();
    let (id, access, refresh) = s.user("alice");
    for t in [&access, &refresh] {
        assert_eq!(claims(t)["iss"], "https://auth.example");
        assert_eq!(claims(t)["aud"], "shop");
    }
    let base = claims(&access);
    let with = |k: &str, v: Value| {
        let mut c = base.clone();
        c[k] = v;
        forge(&c)
    };
    let without = |k: &str| {
        let mut c = base.clone();
        c.as_object_mut().unwrap().remove(k);
        forge(&c)
    };
    assert_eq!(
        s.get(
            "/api/me/",
            Some(&with("iss", json!("https://auth.example")))
        )
        .status,
        200,
        "forging works"
    );
    for token in [
        with("iss", json!("https://evil.example")),
        without("iss"),
        with("aud", json!("other")),
        without("aud"),
    ] {
        s.get("/api/me/", Some(&token)).assert_token_not_valid();
        s.post("/api/token/verify/", json!({"token": token}))
            .assert_token_not_valid();
    }
    assert_eq!(id, base["sub"].as_str().unwrap().parse::<i64>().unwrap());
}

fn every_rejection_of_the_contract(db: &TestDb) {
    let s = app().db(db).env("AUTH_JWT_LEEWAY", "10").start();
    let (_, access, refresh) = s.user("alice");
    let base = claims(&access);
    let with = |k: &str, v: Value| {
        let mut c = base.clone();
        c[k] = v;
        c
    };
    let b64 = |v: &Value| b64url(v.to_string());
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&base)
    );
    let hs384 = sign(&Header::new(Algorithm::HS384), &base, &secret_key());
    let wrong_key = sign(
        &Header::new(Algorithm::HS256),
        &base,
        &EncodingKey::from_secret(b"another-secret-of-at-least-32-bytes!!"),
    );
    let mut with_kid = Header::new(Algorithm::HS256);
    with_kid.kid = Some("some-key".to_owned());
    let kid = sign(&with_kid, &base, &secret_key());
    let mut tampered = access.clone();
    tampered.insert(access.len() / 2, 'x');
    let missing_exp = {
        let mut c = base.clone();
        c.as_object_mut().unwrap().remove("exp");
        forge(&c)
    };
    let rejected = [
        ("alg none", none),
        ("another algorithm", hs384),
        ("bad signature", wrong_key),
        ("unknown kid", kid),
        ("tampered", tampered),
        (
            "expired beyond leeway",
            forge(&with("exp", json!(now() - 11))),
        ),
        (
            "not yet valid beyond leeway",
            forge(&with("nbf", json!(now() + 30))),
        ),
        ("missing exp", missing_exp),
        ("refresh as access", refresh.clone()),
        ("garbage", "abc".to_owned()),
    ];
    for (why, token) in &rejected {
        let r = s.get("/api/me/", Some(token));
        assert_eq!(r.status, 401, "{why}: {}", r.text);
        r.assert_token_not_valid();
        if *why != "refresh as access" {
            s.post("/api/token/verify/", json!({"token": token}))
                .assert_token_not_valid();
        }
    }
    // within the leeway both time checks pass
    assert_eq!(
        s.get("/api/me/", Some(&forge(&with("exp", json!(now() - 5)))))
            .status,
        200
    );
    assert_eq!(
        s.get("/api/me/", Some(&forge(&with("nbf", json!(now() + 5)))))
            .status,
        200
    );
    // an access token is not a refresh token
    s.post("/api/token/refresh/", json!({"refresh": access}))
        .assert_token_not_valid();
}

fn expired_access_tokens_are_refused(db: &TestDb) {
    let s = app().db(db).env("AUTH_ACCESS_TOKEN_LIFETIME", "1s").start();
    let (_, access, refresh) = s.user("alice");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    s.get("/api/me/", Some(&access)).assert_token_not_valid();
    s.post("/api/token/verify/", json!({"token": access}))
        .assert_token_not_valid();
    let fresh = s
        .post("/api/token/refresh/", json!({"refresh": refresh}))
        .str("access");
    assert_eq!(s.get("/api/me/", Some(&fresh)).status, 200);
}

/// A refresh token past its `exp` but within AUTH_JWT_LEEWAY is still
/// accepted, by verify and by refresh alike: its record must not end sooner
/// than the token does.
fn a_refresh_token_within_the_leeway_still_refreshes(db: &TestDb) {
    let s = app()
        .db(db)
        .envs(&[
            ("AUTH_REFRESH_TOKEN_LIFETIME", "1s"),
            ("AUTH_JWT_LEEWAY", "3"),
        ])
        .start();
    let (_, _, refresh) = s.user("alice");
    let exp = claims(&refresh)["exp"].as_i64().expect("exp");
    // past exp by the wall clock, well inside the leeway
    while now() <= exp + 1 {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let r = s.post("/api/token/verify/", json!({"token": refresh}));
    assert_eq!(r.status, 200, "verify within the leeway: {}", r.text);
    let r = s.post("/api/token/refresh/", json!({"refresh": refresh}));
    assert_eq!(r.status, 200, "refresh within the leeway: {}", r.text);
    let successor = r.str("refresh");
    assert_eq!(
        s.post("/api/token/verify/", json!({"token": successor}))
            .status,
        200
    );
}

fn tokens_are_never_read_from_the_query_string(db: &TestDb) {
    let s = app().db(db).start();
    let (_, access, refresh) = s.user("alice");
    for query in ["access_token", "token", "access"] {
        s.get(&format!("/api/me/?{query}={access}"), None)
            .assert_error(401, "not_authenticated");
    }
    s.post(&format!("/api/token/refresh/?refresh={refresh}"), json!({}))
        .assert_field_error("refresh");
    s.post(&format!("/api/token/verify/?token={access}"), json!({}))
        .assert_field_error("token");
}

fn paths_work_without_the_trailing_slash(db: &TestDb) {
    let s = app().db(db).start();
    s.post(
        "/api/register",
        json!({"username": "alice", "password": PASSWORD}),
    );
    let r = s.post(
        "/api/token",
        json!({"username": "alice", "password": PASSWORD}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let (access, refresh) = (r.str("access"), r.str("refresh"));
    assert_eq!(
        s.post("/api/token/verify", json!({"token": access})).status,
        200
    );
    let refresh = s
        .post("/api/token/refresh", json!({"refresh": refresh}))
        .str("refresh");
    assert_eq!(s.get("/api/me", Some(&access)).status, 200);
    assert_eq!(
        s.post("/api/token/blacklist", json!({"refresh": refresh}))
            .status,
        200
    );
    let new = "a brand new passphrase";
    let (access, _) = s.login("alice", PASSWORD);
    let r = s.post_auth(
        "/api/me/password",
        &access,
        Some(json!({"old_password": PASSWORD, "new_password": new})),
    );
    assert_eq!(r.status, 204, "{}", r.text);
    let (access, _) = s.login("alice", new);
    let r = s.post_auth("/api/logout/all", &access, None);
    assert_eq!(r.status, 204, "{}", r.text);
    s.get("/api/me", Some(&access)).assert_token_not_valid();
}

/// AUTH_JWT_SECRET is used as its literal UTF-8 bytes, never decoded, even
/// when it happens to be valid base64 (of 32 bytes or more, so that a
/// decoded key would be a plausible key too).
#[test]
fn a_base64_secret_is_used_as_its_literal_bytes() {
    use base64::Engine;
    let decoded = b"thirty-three bytes of HMAC key!!!";
    let secret = base64::engine::general_purpose::STANDARD.encode(decoded);
    assert!(decoded.len() >= 32 && secret.len() >= 32, "{secret}");
    let db = TestDb::sqlite();
    let s = app().db(&db).env("AUTH_JWT_SECRET", &secret).start();
    let (_, access, refresh) = s.user("alice");

    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_aud = false;
    validation.leeway = 0;
    for token in [&access, &refresh] {
        jsonwebtoken::decode::<Value>(
            token,
            &DecodingKey::from_secret(secret.as_bytes()),
            &validation,
        )
        .expect("signed with the secret's literal bytes");
        assert!(
            jsonwebtoken::decode::<Value>(token, &DecodingKey::from_secret(decoded), &validation)
                .is_err(),
            "not with its base64 decoding"
        );
    }
    // and the server accepts what the literal bytes sign, not the decoding
    let c = claims(&access);
    let literal = sign(
        &Header::new(Algorithm::HS256),
        &c,
        &EncodingKey::from_secret(secret.as_bytes()),
    );
    assert_eq!(s.get("/api/me/", Some(&literal)).status, 200);
    let decoded_signed = sign(
        &Header::new(Algorithm::HS256),
        &c,
        &EncodingKey::from_secret(decoded),
    );
    s.get("/api/me/", Some(&decoded_signed))
        .assert_token_not_valid();
}

backend_tests!(
    login_returns_a_pair_without_caching,
    login_failures_look_the_same,
    failed_logins_spend_a_bcrypt_check_whoever_the_user,
    login_validates_its_body,
    every_body_route_gives_400_for_bad_json_and_415_for_other_types,
    refresh_rotates_and_retires_the_old_token,
    reuse_revokes_the_whole_family,
    reuse_at_blacklist_revokes_the_family,
    verify_of_a_retired_token_only_answers_401,
    newest_token_dies_with_its_family,
    concurrent_refreshes_at_most_one_succeeds,
    a_trusted_proxys_resend_of_a_refresh_is_not_reuse,
    verify_accepts_both_types,
    blacklist_revokes_the_family,
    session_lifetime_is_absolute,
    rotated_tokens_get_a_fresh_lifetime,
    without_rotation_the_refresh_token_stays,
    tokens_carry_the_contract_claims,
    issuer_and_audience_when_configured,
    every_rejection_of_the_contract,
    expired_access_tokens_are_refused,
    a_refresh_token_within_the_leeway_still_refreshes,
    tokens_are_never_read_from_the_query_string,
    paths_work_without_the_trailing_slash,
);
