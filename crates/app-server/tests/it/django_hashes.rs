//! Logging in with the password hashes Django wrote (docs/API.md, "Django
//! password hashes"): each accepted format logs in once, is replaced by
//! bcrypt at our cost, and the next login checks that bcrypt hash. The
//! hashes are the fixtures that Django's own hashers made
//! (crates/django-hashes/tests/fixtures, tests/django/make_hash_vectors.py).

use domain::{NewUser, User};
use serde_json::{json, Value};
use test_support::users::{new_user, now_db};
use test_support::{backend_tests, Server, TestDb};

use crate::app;

/// The fixture's vectors of `format`.
fn vectors(format: &str) -> Vec<(String, String)> {
    let json = include_str!("../../../django-hashes/tests/fixtures/django_hashes.json");
    let all: Value = serde_json::from_str(json).expect("fixture");
    let found: Vec<(String, String)> = all["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .filter(|v| v["format"] == format)
        .map(|v| {
            let field = |k: &str| v[k].as_str().expect("string").to_owned();
            (field("password"), field("encoded"))
        })
        .collect();
    assert!(!found.is_empty(), "no {format} vector");
    found
}

fn insert(db: &TestDb, username: &str, hash: &str) -> User {
    User::create(
        &mut db.migrated(),
        &NewUser {
            password_hash: hash,
            ..new_user(username, now_db())
        },
    )
    .expect("user inserted")
}

fn stored_hash(db: &TestDb, user: &User) -> String {
    User::find(&mut db.connect(), user.id)
        .expect("query")
        .expect("user")
        .password_hash
}

fn login(s: &Server, username: &str, password: &str) -> u16 {
    let r = s.post(
        "/api/token/",
        json!({"username": username, "password": password}),
    );
    if r.status != 200 {
        r.assert_error(401, "no_active_account");
    }
    r.status
}

fn every_django_format_logs_in_and_becomes_bcrypt(db: &TestDb) {
    let s = app().db(db).start();
    for format in [
        "pbkdf2_sha256",
        "pbkdf2_sha1",
        "argon2id",
        "argon2i",
        "bcrypt_sha256",
        "bcrypt",
        "scrypt",
    ] {
        let (password, hash) = vectors(format).swap_remove(0);
        let user = insert(db, format, &hash);

        assert_eq!(login(&s, format, &format!("{password}!")), 401, "{format}");
        assert_eq!(
            stored_hash(db, &user),
            hash,
            "{format}: a failure changes nothing"
        );

        assert_eq!(login(&s, format, &password), 200, "{format}");
        let upgraded = stored_hash(db, &user);
        // bcrypt at the server's cost (4 in tests), no longer Django's.
        assert!(upgraded.starts_with("$2b$04$"), "{format}: {upgraded}");
        assert_eq!(login(&s, format, &password), 200, "{format}: with bcrypt");
        assert_eq!(stored_hash(db, &user), upgraded, "{format}: bcrypt stays");
        let after = User::find(&mut db.connect(), user.id).unwrap().unwrap();
        assert_eq!(
            after.password_changed_at, user.password_changed_at,
            "{format}: not a password change"
        );
    }
}

/// Over 72 bytes: verified by the Django hash that takes it, which stays
/// (bcrypt would cut the password); plain bcrypt keeps the 72-byte rule.
fn long_passwords_keep_their_django_hash(db: &TestDb) {
    let s = app().db(db).start();
    for format in ["pbkdf2_sha256", "argon2id", "bcrypt_sha256", "scrypt"] {
        let (password, hash) = vectors(format)
            .into_iter()
            .find(|(p, _)| p.len() > 72)
            .expect("a long vector");
        let user = insert(db, format, &hash);
        assert_eq!(login(&s, format, &password), 200, "{format}");
        assert_eq!(login(&s, format, &password), 200, "{format}: again");
        assert_eq!(stored_hash(db, &user), hash, "{format}: kept");
    }
    let (password, hash) = vectors("bcrypt").swap_remove(0);
    let long = format!("{password}{}", "x".repeat(72));
    let user = insert(db, "plain-bcrypt", &hash);
    assert_eq!(login(&s, "plain-bcrypt", &long), 401);
    assert_eq!(stored_hash(db, &user), hash);
}

/// Django's unusable password (`!`) and its legacy formats never match.
fn unusable_and_legacy_hashes_never_log_in(db: &TestDb) {
    let s = app().db(db).start();
    let (password, pbkdf2) = vectors("pbkdf2_sha256").swap_remove(0);
    let (md5_password, md5) = vectors("md5").swap_remove(0);
    insert(db, "unusable", &format!("!{pbkdf2}"));
    insert(db, "legacy", &md5);
    insert(db, "unsalted", "5f4dcc3b5aa765d61d8327deb882cf99");
    assert_eq!(login(&s, "unusable", &password), 401);
    assert_eq!(login(&s, "legacy", &md5_password), 401);
    assert_eq!(login(&s, "unsalted", "password"), 401);
}

backend_tests!(
    every_django_format_logs_in_and_becomes_bcrypt,
    long_passwords_keep_their_django_hash,
    unusable_and_legacy_hashes_never_log_in,
);
