//! Usernames in their NFKC form, as Django's `normalize_username` makes them
//! (docs/API.md, "Coming from Django"): registration, `create-user`, login
//! and the login throttle all see one name however it is spelled.

use serde_json::json;
use test_support::{backend_tests, TestDb, PASSWORD};

use crate::app;

fn registration_stores_the_nfkc_form(db: &TestDb) {
    let s = app().db(db).start();
    // The ligature ﬁ is "fi"; full-width Ａ is "A" (NFKC keeps case).
    assert_eq!(s.register("ﬁle", PASSWORD)["username"], "file");
    assert_eq!(s.register("Ａdmin", PASSWORD)["username"], "Admin");
    for taken in ["file", "ﬁle", "Admin", "Ａdmin"] {
        s.post(
            "/api/register/",
            json!({"username": taken, "password": PASSWORD}),
        )
        .assert_error(409, "username_taken");
    }
    // Case still counts, as in Django: "admin" is another name.
    assert_eq!(s.register("admin", PASSWORD)["username"], "admin");
}

fn create_user_stores_the_nfkc_form(db: &TestDb) {
    let s = app().db(db).start();
    let out = s.cli(&["create-user", "ﬁle"], Some(&format!("{PASSWORD}\n")));
    assert!(out.success(), "{}", out.stderr);
    s.post(
        "/api/register/",
        json!({"username": "file", "password": PASSWORD}),
    )
    .assert_error(409, "username_taken");
    let out = s.cli(&["create-user", "file"], Some(&format!("{PASSWORD}\n")));
    assert!(!out.success(), "the NFKC form is taken");
    assert!(out.stderr.contains("already exists"), "{}", out.stderr);
}

fn login_looks_up_the_nfkc_form(db: &TestDb) {
    let s = app().db(db).start();
    s.register("file", PASSWORD);
    for spelling in ["file", "ﬁle"] {
        let r = s.post(
            "/api/token/",
            json!({"username": spelling, "password": PASSWORD}),
        );
        assert_eq!(r.status, 200, "{spelling}: {}", r.text);
    }
}

/// Spelling a name in compatibility forms gets no extra attempts.
fn throttle_counts_by_the_nfkc_form(db: &TestDb) {
    let s = app().db(db).env("AUTH_LOGIN_MAX_FAILURES", "3").start();
    s.register("file", PASSWORD);
    for spelling in ["ﬁle", "file", "ﬁle"] {
        s.post(
            "/api/token/",
            json!({"username": spelling, "password": "wrong password!"}),
        )
        .assert_error(401, "no_active_account");
    }
    for spelling in ["file", "ﬁle"] {
        s.post(
            "/api/token/",
            json!({"username": spelling, "password": PASSWORD}),
        )
        .assert_error(429, "throttled");
    }
}

backend_tests!(
    registration_stores_the_nfkc_form,
    create_user_stores_the_nfkc_form,
    login_looks_up_the_nfkc_form,
    throttle_counts_by_the_nfkc_form,
);
