//! The token endpoints of ../shared/API.md, row by row, through the real
//! server on SQLite and on PostgreSQL.

mod common;

use std::sync::{Arc, Barrier};

use common::{claims, forge, header, now, Resp, Server, PASSWORD, SECRET};
use jsonwebtoken::{Algorithm, Header};
use serde_json::{json, Value};
use test_support::{backend_tests, TestDb};

fn keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    keys
}

fn login_returns_a_pair_without_caching(db: &TestDb) {
    let s = Server::start(db);
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
    let s = Server::start(db);
    s.register("alice", PASSWORD);
    let id = s.register("inactive", PASSWORD)["id"].as_i64().unwrap();
    let (_, admin) = s.admin("root");
    assert_eq!(
        s.patch(
            &format!("/api/admin/users/{id}/"),
            &admin,
            json!({"is_active": false})
        )
        .status,
        200
    );

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

fn login_validates_its_body(db: &TestDb) {
    let s = Server::start(db);
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
    s.post_raw("/api/token/", Some("application/json"), b"{\"username\": ")
        .assert_error(400, "invalid");
    s.post_raw("/api/token/", Some("application/json"), b"")
        .assert_error(400, "invalid");
    s.post_raw("/api/token/", Some("text/plain"), b"{}")
        .assert_error(415, "unsupported_media_type");
    s.post_raw(
        "/api/token/",
        Some("application/x-www-form-urlencoded"),
        b"username=a&password=b",
    )
    .assert_error(415, "unsupported_media_type");
    s.post_raw("/api/token/", None, b"{}")
        .assert_error(415, "unsupported_media_type");
}

fn refresh_rotates_and_retires_the_old_token(db: &TestDb) {
    let s = Server::start(db);
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
    let s = Server::start(db);
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
    let s = Server::start(db);
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
    let s = Server::start(db);
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
    let s = Server::start(db);
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
    let s = Arc::new(Server::start(db));
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
        assert!(
            statuses.iter().filter(|s| **s == 200).count() <= 1,
            "at most one succeeds: {statuses:?}"
        );
    }
}

fn a_trusted_proxys_resend_of_a_refresh_is_not_reuse(db: &TestDb) {
    let refresh_as = |s: &Server, token: &str, rid: &str| {
        Resp::from(
            s.client()
                .post(s.url("/api/token/refresh/"))
                .header("X-Request-Id", rid)
                .json(&json!({ "refresh": token }))
                .send()
                .unwrap(),
        )
    };
    let rid = "581a370ee7d636ba444f0ca5557360d6";

    // from nginx (trusted): the same request id again gets the same successor
    let proxied = Server::start_with(db, &[("AUTH_TRUSTED_PROXIES", "127.0.0.1")]);
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
    let direct = Server::start(db);
    let (_, _, r1) = direct.user("bob");
    let r2 = refresh_as(&direct, &r1, rid).str("refresh");
    refresh_as(&direct, &r1, rid).assert_token_not_valid();
    direct
        .post("/api/token/refresh/", json!({"refresh": r2}))
        .assert_token_not_valid();
}

fn verify_accepts_both_types(db: &TestDb) {
    let s = Server::start(db);
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
    let s = Server::start(db);
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
    let s = Server::start_with(db, &[("AUTH_SESSION_LIFETIME", "3s")]);
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
    let s = Server::start_with(db, &[("AUTH_REFRESH_TOKEN_LIFETIME", "1h")]);
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
    let s = Server::start_with(db, &[("AUTH_ROTATE_REFRESH_TOKENS", "false")]);
    let (_, _, refresh) = s.user("alice");
    for _ in 0..3 {
        let r = s.post("/api/token/refresh/", json!({"refresh": refresh}));
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(keys(&r.body), ["access"]);
    }
    s.post("/api/token/blacklist/", json!({"refresh": refresh}));
    s.post("/api/token/refresh/", json!({"refresh": refresh}))
        .assert_token_not_valid();
}

fn tokens_carry_the_contract_claims(db: &TestDb) {
    let s = Server::start(db);
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
    let s = Server::start_with(
        db,
        &[
            ("AUTH_JWT_ISSUER", "https://auth.example"),
            ("AUTH_JWT_AUDIENCE", "shop"),
        ],
    );
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
    let s = Server::start_with(db, &[("AUTH_JWT_LEEWAY", "10")]);
    let (_, access, refresh) = s.user("alice");
    let base = claims(&access);
    let with = |k: &str, v: Value| {
        let mut c = base.clone();
        c[k] = v;
        c
    };
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&base)
    );
    let hs384 = common::forge_with(Header::new(Algorithm::HS384), &base, SECRET.as_bytes());
    let wrong_key = common::forge_with(
        Header::new(Algorithm::HS256),
        &base,
        b"another-secret-of-at-least-32-bytes!!",
    );
    let mut with_kid = Header::new(Algorithm::HS256);
    with_kid.kid = Some("some-key".to_owned());
    let kid = common::forge_with(with_kid, &base, SECRET.as_bytes());
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
    let s = Server::start_with(db, &[("AUTH_ACCESS_TOKEN_LIFETIME", "1s")]);
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

fn tokens_are_never_read_from_the_query_string(db: &TestDb) {
    let s = Server::start(db);
    let (_, access, refresh) = s.user("alice");
    s.get(&format!("/api/me/?access_token={access}"), None)
        .assert_error(401, "not_authenticated");
    s.get(&format!("/api/me/?token={access}"), None)
        .assert_error(401, "not_authenticated");
    s.post(&format!("/api/token/refresh/?refresh={refresh}"), json!({}))
        .assert_field_error("refresh");
    s.post(&format!("/api/token/verify/?token={access}"), json!({}))
        .assert_field_error("token");
}

fn paths_work_without_the_trailing_slash(db: &TestDb) {
    let s = Server::start(db);
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
}

backend_tests!(
    login_returns_a_pair_without_caching,
    login_failures_look_the_same,
    login_validates_its_body,
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
    tokens_are_never_read_from_the_query_string,
    paths_work_without_the_trailing_slash,
);
