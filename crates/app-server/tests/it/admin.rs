//! User administration, through the real server on SQLite and on PostgreSQL.

use chrono::Utc;
use domain::time::to_db;
use domain::{NewUser, User};
use serde_json::json;
use test_support::jwt::{claims, forge};
use test_support::{assert_user_shape, backend_tests, Resp, TestDb, PASSWORD};

use crate::app;

/// Insert users straight into the database: hundreds of registrations through
/// bcrypt would only slow the test down.
fn insert_users(db: &TestDb, prefix: &str, n: usize) {
    let mut conn = db.migrated();
    let now = to_db(Utc::now());
    for i in 0..n {
        User::create(
            &mut conn,
            &NewUser {
                username: &format!("{prefix}{i}"),
                email: None,
                password_hash: "$2b$04$unusableunusableunusableunusableunusableunusableunusa",
                is_active: true,
                is_admin: false,
                date_joined: now,
                password_changed_at: now,
            },
        )
        .expect("insert user");
    }
}

/// The ids of a list page, every item checked to be a contract user.
#[track_caller]
fn ids(r: &Resp) -> Vec<i64> {
    assert_eq!(r.status, 200, "{}", r.text);
    let mut keys: Vec<&String> = r.body.as_object().expect("an object").keys().collect();
    keys.sort();
    assert_eq!(keys, ["count", "results"], "{}", r.text);
    assert!(r.body["count"].is_u64(), "count is a number: {}", r.text);
    r.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|u| {
            assert_user_shape(u);
            u["id"].as_i64().expect("id")
        })
        .collect()
}

fn list_is_paged_by_id(db: &TestDb) {
    let s = app().db(db).start();
    let (_, admin) = s.admin("root");
    insert_users(db, "user", 520);
    let total = 521;

    let r = s.get("/api/admin/users/", Some(&admin));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["count"], total);
    let first = ids(&r);
    assert_eq!(first.len(), 50, "limit defaults to 50");
    assert!(first.windows(2).all(|w| w[0] < w[1]), "ordered by id");
    assert_eq!(r.body["results"][0]["username"], "root");
    assert_eq!(r.body["results"][0]["is_admin"], true);
    assert_eq!(r.body["results"][1]["username"], "user0");
    assert!(!r.text.contains("$2b$"), "never a hash");

    let r = s.get("/api/admin/users/?limit=10&offset=5", Some(&admin));
    assert_eq!(ids(&r), first[5..15]);
    assert_eq!(r.body["count"], total, "count is the total, not the page");
    assert_eq!(
        ids(&s.get("/api/admin/users/?limit=100000", Some(&admin))).len(),
        500,
        "clamped to 500"
    );
    assert_eq!(
        ids(&s.get("/api/admin/users/?offset=520", Some(&admin))).len(),
        1
    );
    assert!(ids(&s.get("/api/admin/users/?offset=9999", Some(&admin))).is_empty());
    // the same without the trailing slash
    assert_eq!(
        ids(&s.get("/api/admin/users?limit=3", Some(&admin))),
        first[..3]
    );
}

fn list_refuses_bad_paging(db: &TestDb) {
    let s = app().db(db).start();
    let (_, admin) = s.admin("root");
    for (query, field) in [
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("offset=-3", "offset"),
        ("offset=x", "offset"),
        ("limit=1.5", "limit"),
    ] {
        s.get(&format!("/api/admin/users/?{query}"), Some(&admin))
            .assert_field_error(field);
    }
}

fn admin_routes_need_an_admin(db: &TestDb) {
    let s = app().db(db).start();
    let (id, user, _) = s.user("alice");
    s.get("/api/admin/users/", None)
        .assert_error(401, "not_authenticated");
    s.get("/api/admin/users/", Some("not-a-token"))
        .assert_token_not_valid();
    s.get("/api/admin/users/", Some(&user))
        .assert_error(403, "permission_denied");
    s.patch(
        &format!("/api/admin/users/{id}/"),
        &user,
        json!({"is_admin": true}),
    )
    .assert_error(403, "permission_denied");
    s.request(
        reqwest::Method::PATCH,
        &format!("/api/admin/users/{id}/"),
        None,
        Some(&json!({"is_admin": true})),
    )
    .assert_error(401, "not_authenticated");
    // still not an admin
    assert_eq!(s.get("/api/me/", Some(&user)).body["is_admin"], false);
}

fn patch_updates_flags(db: &TestDb) {
    let s = app().db(db).start();
    let (_, admin) = s.admin("root");
    let (id, _, _) = s.user("alice");
    let r = s.patch(
        &format!("/api/admin/users/{id}/"),
        &admin,
        json!({"is_admin": true}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_user_shape(&r.body);
    assert_eq!(r.body["username"], "alice");
    assert_eq!(
        (
            r.body["id"].as_i64(),
            r.body["is_admin"].as_bool(),
            r.body["is_active"].as_bool()
        ),
        (Some(id), Some(true), Some(true))
    );
    let (alice, _) = s.login("alice", PASSWORD);
    assert_eq!(
        s.get("/api/admin/users/", Some(&alice)).status,
        200,
        "alice is an admin now"
    );
    let r = s.patch(&format!("/api/admin/users/{id}"), &admin, json!({}));
    assert_user_shape(&r.body);
    assert_eq!(
        (r.status, r.body["is_admin"].as_bool()),
        (200, Some(true)),
        "an empty patch changes nothing"
    );
    s.patch(
        &format!("/api/admin/users/{id}/"),
        &admin,
        json!({"is_admin": "yes"}),
    )
    .assert_field_error("is_admin");
    s.patch(
        &format!("/api/admin/users/{id}/"),
        &admin,
        json!({"is_active": 1}),
    )
    .assert_field_error("is_active");
    s.patch(&format!("/api/admin/users/{id}/"), &admin, json!([true]))
        .assert_error(400, "invalid");
    s.patch(
        "/api/admin/users/999999/",
        &admin,
        json!({"is_admin": false}),
    )
    .assert_error(404, "not_found");
    s.patch("/api/admin/users/abc/", &admin, json!({"is_admin": false}))
        .assert_error(404, "not_found");
}

fn deactivation_revokes_every_session(db: &TestDb) {
    let s = app().db(db).start();
    let (_, admin) = s.admin("root");
    let (id, access, refresh) = s.user("alice");
    let r = s.patch(
        &format!("/api/admin/users/{id}/"),
        &admin,
        json!({"is_active": false}),
    );
    assert_eq!(
        (r.status, r.body["is_active"].as_bool()),
        (200, Some(false)),
        "{}",
        r.text
    );
    assert_user_shape(&r.body);
    s.get("/api/me/", Some(&access)).assert_token_not_valid();
    s.post("/api/token/refresh/", json!({"refresh": refresh}))
        .assert_token_not_valid();
    s.post(
        "/api/token/",
        json!({"username": "alice", "password": PASSWORD}),
    )
    .assert_error(401, "no_active_account");
    // reactivated: may log in again, the old sessions stay revoked
    s.patch(
        &format!("/api/admin/users/{id}/"),
        &admin,
        json!({"is_active": true}),
    );
    s.post("/api/token/refresh/", json!({"refresh": refresh}))
        .assert_token_not_valid();
    let (access, _) = s.login("alice", PASSWORD);
    assert_eq!(s.get("/api/me/", Some(&access)).status, 200);
}

fn admin_rights_come_from_the_database(db: &TestDb) {
    let s = app().db(db).start();
    let (_, root) = s.admin("root");
    let (deputy_id, deputy) = s.admin("deputy");
    assert_eq!(claims(&deputy)["admin"], true);
    assert_eq!(s.get("/api/admin/users/", Some(&deputy)).status, 200);
    s.patch(
        &format!("/api/admin/users/{deputy_id}/"),
        &root,
        json!({"is_admin": false}),
    );
    // the token still says admin, the database does not
    s.get("/api/admin/users/", Some(&deputy))
        .assert_error(403, "permission_denied");
    // and a user whose token claims admin without being one gets nowhere
    let (_, alice, _) = s.user("alice");
    let mut forged = claims(&alice);
    forged["admin"] = json!(true);
    s.get("/api/admin/users/", Some(&forge(&forged)))
        .assert_error(403, "permission_denied");
}

/// Admin routes load the user, so an admin's access token whose session was
/// revoked (here: the admin logged that session out) is refused there too,
/// while the admin's other sessions keep working.
fn a_revoked_session_is_refused_on_admin_routes(db: &TestDb) {
    let s = app().db(db).start();
    let (_, other_session) = s.admin("root");
    let (id, _, _) = s.user("alice");
    let (access, refresh) = s.login("root", PASSWORD);
    let users = "/api/admin/users/";
    let alice = format!("/api/admin/users/{id}/");
    assert_eq!(s.get(users, Some(&access)).status, 200, "works before");

    let r = s.post("/api/token/blacklist/", json!({"refresh": refresh}));
    assert_eq!((r.status, r.body.clone()), (200, json!({})), "{}", r.text);

    s.get(users, Some(&access)).assert_token_not_valid();
    s.get(&format!("{users}?limit=1"), Some(&access))
        .assert_token_not_valid();
    s.patch(&alice, &access, json!({"is_active": false}))
        .assert_token_not_valid();
    // the refused PATCH changed nothing; the admin's other session works
    let r = s.get(users, Some(&other_session));
    assert_eq!(r.status, 200, "{}", r.text);
    let alice_row = r.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|u| u["id"] == id)
        .cloned()
        .expect("alice listed");
    assert_eq!(alice_row["is_active"], true);
    let r = s.patch(&alice, &other_session, json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
}

backend_tests!(
    list_is_paged_by_id,
    list_refuses_bad_paging,
    admin_routes_need_an_admin,
    patch_updates_flags,
    deactivation_revokes_every_session,
    admin_rights_come_from_the_database,
    a_revoked_session_is_refused_on_admin_routes,
);
