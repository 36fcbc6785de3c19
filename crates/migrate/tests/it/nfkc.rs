//! The NFKC step of 2026-12-02-001201_nfkc_usernames (docs/API.md, "Coming
//! from Django"): rows written before it are normalized where their NFKC
//! form collides with nothing; the others stay, and `migrate` lists them.

use diesel::prelude::*;
use domain::migrations::{self, NFKC_USERNAMES};
use domain::schema::users;
use domain::{on_backend, DbConnection, User};
use test_support::users::{new_user, now_db};
use test_support::{backend_tests, Program, TestDb};

use crate::BIN;

/// The schema as it was before the NFKC migration.
fn migrated_before_nfkc(db: &TestDb) -> DbConnection {
    let mut conn = db.migrated();
    while let Some(name) = migrations::revert_last(&mut conn).unwrap() {
        if name == NFKC_USERNAMES {
            return conn;
        }
    }
    panic!("{NFKC_USERNAMES} is not a migration");
}

/// A row as an older version stored it, with no normalization.
fn insert_raw(conn: &mut DbConnection, username: &str) {
    let row = new_user(username, now_db());
    on_backend!(conn, |c| diesel::insert_into(users::table)
        .values(&row)
        .execute(c))
    .expect("row inserted");
}

fn usernames(conn: &mut DbConnection) -> Vec<String> {
    on_backend!(conn, |c| users::table
        .order(users::id.asc())
        .select(users::username)
        .load(c))
    .unwrap()
}

fn normalizes_usernames_that_collide_with_nothing(db: &TestDb) {
    let mut conn = migrated_before_nfkc(db);
    for name in ["file", "ﬁle", "Ａdmin", "ｂob", "ⓑob", "plain"] {
        insert_raw(&mut conn, name);
    }
    let dir = tempfile::tempdir().unwrap();
    let out = Program::new(BIN)
        .envs(&[("DATABASE_URL", &db.url_string())])
        .current_dir(dir.path())
        .output(None);
    assert!(out.success(), "{} {}", out.stdout, out.stderr);
    assert!(out.stdout.contains(&format!("applied {NFKC_USERNAMES}")));

    // Ａdmin had a free form; ﬁle's is taken; ｂob and ⓑob want the same one.
    assert_eq!(
        usernames(&mut conn),
        ["file", "ﬁle", "Admin", "ｂob", "ⓑob", "plain"]
    );
    let listed: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("username not normalized: "))
        .collect();
    assert_eq!(listed.len(), 3, "{}", out.stdout);
    for (line, (name, form)) in
        listed
            .iter()
            .zip([("ﬁle", "file"), ("ｂob", "bob"), ("ⓑob", "bob")])
    {
        assert!(line.contains(&format!("{name:?}")), "{line}");
        assert!(
            line.contains(&format!("NFKC form {form:?} is taken")),
            "{line}"
        );
    }
    assert_eq!(User::username_collisions(&mut conn).unwrap().len(), 3);

    // Listed again by the next run, until an operator renames them.
    let again = Program::new(BIN)
        .envs(&[("DATABASE_URL", &db.url_string())])
        .current_dir(dir.path())
        .output(None);
    assert!(
        again.stdout.contains("no pending migrations"),
        "{}",
        again.stdout
    );
    assert_eq!(
        again
            .stdout
            .lines()
            .filter(|l| l.starts_with("username not normalized: "))
            .count(),
        3
    );
}

backend_tests!(normalizes_usernames_that_collide_with_nothing);
