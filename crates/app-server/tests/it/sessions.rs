//! Sessions a user can see and end (`/api/sessions/`) and the admin's view of
//! them, through the real server on SQLite and on PostgreSQL.

use reqwest::Method;
use serde_json::{json, Value};
use test_support::jwt::claims;
use test_support::{backend_tests, Resp, Server, TestDb, PASSWORD};

use crate::app;

/// Log in with a `User-Agent` and an `X-Forwarded-For`: (access, refresh).
fn login_as(s: &Server, username: &str, agent: &str, forwarded_for: &str) -> (String, String) {
    let r = s.request_with_headers(
        Method::POST,
        "/api/token/",
        &[("user-agent", agent), ("x-forwarded-for", forwarded_for)],
        Some(&json!({ "username": username, "password": PASSWORD })),
    );
    assert_eq!(r.status, 200, "login {username}: {}", r.text);
    (r.str("access"), r.str("refresh"))
}

fn sid(token: &str) -> String {
    claims(token)["sid"].as_str().expect("sid").to_owned()
}

fn delete(s: &Server, path: &str, token: Option<&str>) -> Resp {
    s.request(Method::DELETE, path, token, None)
}

/// The listed sessions, each checked to have exactly the contract's fields.
#[track_caller]
fn sessions(r: &Resp) -> Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.text);
    let list = r.body.as_array().expect("a list").clone();
    for session in &list {
        let mut keys: Vec<&String> = session.as_object().expect("an object").keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "created_at",
                "current",
                "expires_at",
                "id",
                "ip",
                "last_refreshed_at",
                "user_agent"
            ],
            "{session}"
        );
    }
    list
}

fn ids(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|s| s["id"].as_str().expect("id").to_owned())
        .collect()
}

fn lists_the_callers_live_sessions(db: &TestDb) {
    // the peer (127.0.0.1) is a trusted proxy: its X-Forwarded-For is the client
    let s = app()
        .db(db)
        .env("AUTH_TRUSTED_PROXIES", "127.0.0.1")
        .start();
    s.register("alice", PASSWORD);
    let (_, bob, _) = s.user("bob");
    let long_agent = "é".repeat(300);
    let (first, _) = login_as(&s, "alice", &long_agent, "203.0.113.7");
    // SQLite keeps whole seconds: the second login is a later one
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (second, second_refresh) = login_as(&s, "alice", "Firefox/120", "2001:db8::1");
    let (logged_out, logged_out_refresh) = s.login("alice", PASSWORD);
    let r = s.post(
        "/api/token/blacklist/",
        json!({ "refresh": logged_out_refresh }),
    );
    assert_eq!(r.status, 200, "{}", r.text);

    let list = sessions(&s.get("/api/sessions/", Some(&second)));
    assert_eq!(
        ids(&list),
        [sid(&second), sid(&first)],
        "live sessions only, newest first; never another user's"
    );
    assert_eq!(list[0]["current"], true);
    assert_eq!(list[1]["current"], false);
    assert_eq!(list[0]["user_agent"], "Firefox/120");
    assert_eq!(list[0]["ip"], "2001:db8::1");
    assert_eq!(
        list[1]["user_agent"],
        "é".repeat(256),
        "cut to 256 characters, not bytes"
    );
    assert_eq!(list[1]["ip"], "203.0.113.7");
    assert_eq!(list[0]["last_refreshed_at"], Value::Null);
    for session in &list {
        let created = session["created_at"].as_str().expect("created_at");
        let expires = session["expires_at"].as_str().expect("expires_at");
        for t in [created, expires] {
            chrono::DateTime::parse_from_rfc3339(t).expect("RFC 3339");
            assert!(t.ends_with('Z'), "UTC: {t}");
        }
        assert!(created < expires);
    }

    // a refresh shows; the list seen from the other session marks that one
    let r = s.post("/api/token/refresh/", json!({ "refresh": second_refresh }));
    assert_eq!(r.status, 200, "{}", r.text);
    let list = sessions(&s.get("/api/sessions", Some(&first)));
    assert_eq!(ids(&list), [sid(&second), sid(&first)]);
    assert_eq!(list[0]["current"], false);
    assert_eq!(list[1]["current"], true);
    let refreshed = list[0]["last_refreshed_at"].as_str().expect("refreshed");
    chrono::DateTime::parse_from_rfc3339(refreshed).expect("RFC 3339");
    assert!(refreshed >= list[0]["created_at"].as_str().expect("created"));
    assert_eq!(list[1]["last_refreshed_at"], Value::Null);

    // without a User-Agent or X-Forwarded-For: the peer itself
    let list = sessions(&s.get("/api/sessions/", Some(&bob)));
    assert_eq!(ids(&list), [sid(&bob)]);
    assert_eq!(list[0]["ip"], "127.0.0.1");
    assert_eq!(list[0]["user_agent"], Value::Null);

    // a revoked token lists nothing
    s.get("/api/sessions/", Some(&logged_out))
        .assert_token_not_valid();
    s.get("/api/sessions/", None)
        .assert_error(401, "not_authenticated");
}

fn ending_a_session_revokes_it(db: &TestDb) {
    let s = app().db(db).start();
    s.register("alice", PASSWORD);
    let (_, bob, bob_refresh) = s.user("bob");
    let (laptop, laptop_refresh) = s.login("alice", PASSWORD);
    let (phone, _) = s.login("alice", PASSWORD);
    // the laptop's token passes through the session cache before it is ended
    assert_eq!(s.get("/api/me/", Some(&laptop)).status, 200);

    let path = format!("/api/sessions/{}/", sid(&laptop));
    let r = delete(&s, &path, Some(&phone));
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(r.text, "");
    s.get("/api/me/", Some(&laptop)).assert_token_not_valid();
    s.post("/api/token/refresh/", json!({ "refresh": laptop_refresh }))
        .assert_token_not_valid();
    assert_eq!(
        ids(&sessions(&s.get("/api/sessions/", Some(&phone)))),
        [sid(&phone)]
    );
    // ended already: the same answer (a proxy's resend), also without the
    // trailing slash
    assert_eq!(delete(&s, &path, Some(&phone)).status, 204);
    assert_eq!(
        delete(&s, path.trim_end_matches('/'), Some(&phone)).status,
        204
    );

    // another user's session is as unknown as one that never was, and lives on
    delete(&s, &format!("/api/sessions/{}/", sid(&bob)), Some(&phone))
        .assert_error(404, "not_found");
    assert_eq!(s.get("/api/me/", Some(&bob)).status, 200);
    let r = s.post("/api/token/refresh/", json!({ "refresh": bob_refresh }));
    assert_eq!(r.status, 200, "{}", r.text);
    for id in [
        "0123456789abcdef0123456789abcdef",
        "0123456789ABCDEF0123456789ABCDEF",
        "not-a-session",
        "%27%20OR%201=1",
        &"a".repeat(33),
    ] {
        delete(&s, &format!("/api/sessions/{id}/"), Some(&phone)).assert_error(404, "not_found");
    }
    delete(&s, &path, None).assert_error(401, "not_authenticated");
    s.post_auth(&path, &phone, None)
        .assert_error(405, "method_not_allowed");

    // a user may end the session they are using
    let own = format!("/api/sessions/{}/", sid(&phone));
    assert_eq!(delete(&s, &own, Some(&phone)).status, 204);
    s.get("/api/me/", Some(&phone)).assert_token_not_valid();
    s.get("/api/sessions/", Some(&phone))
        .assert_token_not_valid();
}

fn admins_see_and_end_any_users_sessions(db: &TestDb) {
    let s = app().db(db).start();
    let (_, admin) = s.admin("root");
    let (alice_id, alice, _) = s.user("alice");
    let (bob_id, bob, _) = s.user("bob");
    let list_path = format!("/api/admin/users/{alice_id}/sessions/");
    let end_path = format!("/api/admin/users/{alice_id}/sessions/{}/", sid(&alice));

    // admins only, as every admin route
    s.get(&list_path, Some(&bob))
        .assert_error(403, "permission_denied");
    delete(&s, &end_path, Some(&bob)).assert_error(403, "permission_denied");
    s.get(&list_path, None)
        .assert_error(401, "not_authenticated");
    delete(&s, &end_path, None).assert_error(401, "not_authenticated");

    let list = sessions(&s.get(&list_path, Some(&admin)));
    assert_eq!(ids(&list), [sid(&alice)]);
    assert_eq!(list[0]["current"], false, "not the admin's session");
    assert_eq!(list[0]["ip"], "127.0.0.1");
    let own = sessions(&s.get(
        &format!("/api/admin/users/{}/sessions/", admin_id(&s, &admin)),
        Some(&admin),
    ));
    assert_eq!(own[0]["current"], true, "the admin's own session");
    for user in ["999999", "x", "-1", "1.5"] {
        s.get(&format!("/api/admin/users/{user}/sessions/"), Some(&admin))
            .assert_error(404, "not_found");
        delete(
            &s,
            &format!("/api/admin/users/{user}/sessions/{}/", sid(&alice)),
            Some(&admin),
        )
        .assert_error(404, "not_found");
    }
    // bob's session under alice's id is not alice's
    delete(
        &s,
        &format!("/api/admin/users/{alice_id}/sessions/{}/", sid(&bob)),
        Some(&admin),
    )
    .assert_error(404, "not_found");
    delete(
        &s,
        &format!("/api/admin/users/{alice_id}/sessions/nope/"),
        Some(&admin),
    )
    .assert_error(404, "not_found");
    assert_eq!(s.get("/api/me/", Some(&bob)).status, 200);

    let r = delete(&s, &end_path, Some(&admin));
    assert_eq!(r.status, 204, "{}", r.text);
    s.get("/api/me/", Some(&alice)).assert_token_not_valid();
    assert!(sessions(&s.get(&list_path, Some(&admin))).is_empty());
    assert_eq!(
        delete(&s, &end_path, Some(&admin)).status,
        204,
        "idempotent"
    );
    assert_eq!(
        ids(&sessions(&s.get(
            &format!("/api/admin/users/{bob_id}/sessions/"),
            Some(&admin)
        ))),
        [sid(&bob)]
    );
}

fn admin_id(s: &Server, token: &str) -> i64 {
    s.get("/api/me/", Some(token)).body["id"]
        .as_i64()
        .expect("id")
}

backend_tests!(
    lists_the_callers_live_sessions,
    ending_a_session_revokes_it,
    admins_see_and_end_any_users_sessions,
);
