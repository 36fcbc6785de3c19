//! `app-server import-django-users` (docs/API.md, "Coming from Django"):
//! from a `dumpdata auth.user` file or standard input, or straight from a
//! Django database, all or nothing, on both backends.

use diesel::connection::SimpleConnection;
use domain::{User, UserId};
use serde_json::{json, Value};
use test_support::{backend_tests, Output, Server, TestDb, PASSWORD};

use crate::app;

/// A PBKDF2 hash that Django 5.1 wrote, and its password.
fn django_pbkdf2() -> (String, String) {
    let json = include_str!("../../../django-hashes/tests/fixtures/django_hashes.json");
    let all: Value = serde_json::from_str(json).unwrap();
    let v = all["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["format"] == "pbkdf2_sha256")
        .unwrap();
    (
        v["password"].as_str().unwrap().to_owned(),
        v["encoded"].as_str().unwrap().to_owned(),
    )
}

/// One `dumpdata auth.user` record, with Django's field set.
fn record(pk: i64, username: &str, password: &str) -> Value {
    json!({"model": "auth.user", "pk": pk, "fields": {
        "password": password, "last_login": "2025-01-02T03:04:05.678Z",
        "is_superuser": false, "username": username, "first_name": "", "last_name": "",
        "email": format!("{username}@example.com"), "is_staff": false, "is_active": true,
        "date_joined": "2024-05-01T10:20:30.123Z", "groups": [], "user_permissions": []
    }})
}

fn dump(records: &[Value]) -> String {
    serde_json::to_string_pretty(records).unwrap()
}

fn import(s: &Server, args: &[&str], stdin: &str) -> Output {
    let mut all = vec!["import-django-users"];
    all.extend_from_slice(args);
    s.cli(&all, Some(stdin))
}

fn user(db: &TestDb, id: i64) -> Option<User> {
    User::find(&mut db.connect(), UserId(id)).unwrap()
}

fn user_count(db: &TestDb) -> i64 {
    User::page(&mut db.connect(), 1, 0).unwrap().0
}

fn imports_a_dump_and_its_users_log_in(db: &TestDb) {
    let s = app().db(db).start();
    let (password, hash) = django_pbkdf2();
    let mut admin = record(41, "Ａlice", &hash);
    admin["fields"]["is_staff"] = json!(true);
    admin["fields"]["email"] = json!("");
    admin["fields"]["last_login"] = json!(null);
    let records = [
        admin,
        record(7, "bob", "!unusablepasswordunusablepassword"),
        record(9, "carol", "md5$salt$0123456789abcdef0123456789abcdef"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.json");
    std::fs::write(&file, dump(&records)).unwrap();
    let out = import(&s, &[file.to_str().unwrap()], "");
    assert!(out.success(), "{}", out.stderr);
    assert_eq!(
        out.stdout.trim(),
        "3 records: 3 created, 0 skipped, 0 updated; 2 with a password that cannot be verified here"
    );

    // pk kept as id, NFKC username, "" email is null, is_staff is admin.
    let alice = user(db, 41).expect("id kept");
    assert_eq!(alice.username, "Alice");
    assert_eq!(alice.email, None);
    assert!(alice.is_admin && alice.is_active);
    assert_eq!(alice.password_hash, hash, "kept as Django wrote it");
    assert_eq!(alice.date_joined.to_string(), "2024-05-01 10:20:30.123");
    assert_eq!(alice.last_login, None);
    let bob = user(db, 7).unwrap();
    assert_eq!(bob.email.as_deref(), Some("bob@example.com"));
    assert!(!bob.is_admin);
    assert!(bob.last_login.is_some());
    assert!(bob.password_hash.starts_with('!'));
    assert!(
        user(db, 9).unwrap().password_hash.starts_with('!'),
        "legacy: unusable"
    );

    // The Django password logs in, and the hash becomes bcrypt.
    let (access, _) = s.login("Alice", &password);
    let me = s.get("/api/me/", Some(&access));
    assert_eq!(me.body["id"], 41, "the user_id stays Django's");
    assert!(user(db, 41).unwrap().password_hash.starts_with("$2b$"));
    s.login("Alice", &password);

    // New users get ids past the imported ones (the PostgreSQL sequence moved).
    let id = s.register("dave", PASSWORD)["id"].as_i64().unwrap();
    assert!(id > 41, "{id}");
}

fn reads_standard_input(db: &TestDb) {
    let s = app().db(db).start();
    let out = import(&s, &["-"], &dump(&[record(3, "erin", "!x")]));
    assert!(out.success(), "{}", out.stderr);
    assert!(
        out.stdout.starts_with("1 records: 1 created"),
        "{}",
        out.stdout
    );
    assert_eq!(user(db, 3).unwrap().username, "erin");
}

fn conflicts_fail_skip_or_update(db: &TestDb) {
    let s = app().db(db).start();
    let here = s.register("frank", PASSWORD)["id"].as_i64().unwrap();
    let taken_id = s.register("grace", PASSWORD)["id"].as_i64().unwrap();
    let records = [
        record(100, "frank", "!a"),      // username here
        record(taken_id, "heidi", "!b"), // id here
        record(101, "ivan", "!c"),       // new
    ];
    let before = user_count(db);

    let out = import(&s, &["-"], &dump(&records));
    assert!(!out.success());
    let conflicts: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("conflict: "))
        .collect();
    assert_eq!(conflicts.len(), 2, "every conflict listed: {}", out.stderr);
    assert!(conflicts[0].contains("record 0") && conflicts[0].contains("\"frank\""));
    assert!(conflicts[1].contains("record 1") && conflicts[1].contains(&format!("id {taken_id}")));
    assert!(out.stderr.contains("nothing imported"), "{}", out.stderr);
    assert_eq!(user_count(db), before, "all or nothing");

    let out = import(
        &s,
        &["--dry-run", "--on-conflict", "skip", "-"],
        &dump(&records),
    );
    assert!(out.success(), "{}", out.stderr);
    assert_eq!(
        out.stdout.trim(),
        "dry run, nothing written: 3 records: 1 created, 2 skipped, 0 updated; 3 with a password that cannot be verified here"
    );
    assert_eq!(user_count(db), before, "a dry run writes nothing");

    let out = import(&s, &["--on-conflict", "skip", "-"], &dump(&records));
    assert!(
        out.stdout.starts_with("3 records: 1 created, 2 skipped"),
        "{}",
        out.stdout
    );
    assert!(
        user(db, here).unwrap().password_hash.starts_with("$2"),
        "skipped: left as it is"
    );

    // frank's session of before the update: a password change ends it
    let (_, frank_refresh) = s.login("frank", PASSWORD);
    let mut update = record(100, "frank", "!new");
    update["fields"]["is_staff"] = json!(true);
    let out = import(&s, &["--on-conflict", "update", "-"], &dump(&[update]));
    assert!(
        out.stdout
            .starts_with("1 records: 0 created, 0 skipped, 1 updated"),
        "{}",
        out.stdout
    );
    let frank = user(db, here).unwrap();
    assert!(frank.is_admin, "updated");
    assert_eq!(frank.id, UserId(here), "its id stays");
    s.post("/api/token/refresh/", json!({"refresh": frank_refresh}))
        .assert_token_not_valid();

    // grace's id with frank's name: two users here, neither can be updated.
    let both = record(taken_id, "frank", "!x");
    let out = import(&s, &["--on-conflict", "update", "-"], &dump(&[both]));
    assert!(!out.success());
    assert!(out.stderr.contains("cannot update both"), "{}", out.stderr);
    assert_eq!(user(db, taken_id).unwrap().username, "grace");
}

/// One bad record in a later batch: one line naming it and the field, and
/// none of the records before it is kept.
fn a_bad_record_imports_nothing(db: &TestDb) {
    let s = app().db(db).start();
    let mut records: Vec<Value> = (1..=1500)
        .map(|i| record(i, &format!("user{i}"), "!x"))
        .collect();
    records[1200]["fields"]["date_joined"] = json!("yesterday");
    // A file: the import stops reading at the bad record.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.json");
    std::fs::write(&file, dump(&records)).unwrap();
    let out = import(&s, &[file.to_str().unwrap()], "");
    assert!(!out.success());
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].contains("record 1200") && lines[0].contains("date_joined"),
        "{}",
        lines[0]
    );
    assert_eq!(user_count(db), 0);

    let out = import(
        &s,
        &["-"],
        "[{\"model\": \"auth.user\", \"pk\": 1, \"fields\": {}}, {",
    );
    assert!(!out.success());
    assert!(
        out.stderr.contains("record 0: field \"username\""),
        "{}",
        out.stderr
    );
    let out = import(
        &s,
        &["-"],
        &format!("{} garbage", dump(&[record(1, "a", "!x")])),
    );
    assert!(out.stderr.contains("malformed JSON"), "{}", out.stderr);
    assert_eq!(user_count(db), 0);
}

/// Django's own `auth_user` table (its PostgreSQL and SQLite DDL), read
/// straight, and left unchanged.
fn imports_from_a_django_database(db: &TestDb) {
    let django = match db.backend() {
        domain::Backend::Postgres => TestDb::postgres(),
        domain::Backend::Sqlite => TestDb::sqlite(),
    };
    let (password, hash) = django_pbkdf2();
    let ddl = match db.backend() {
        domain::Backend::Postgres => {
            "CREATE TABLE auth_user (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, \
             password varchar(128) NOT NULL, last_login timestamp with time zone NULL, \
             is_superuser boolean NOT NULL, username varchar(150) NOT NULL UNIQUE, \
             first_name varchar(150) NOT NULL, last_name varchar(150) NOT NULL, \
             email varchar(254) NOT NULL, is_staff boolean NOT NULL, is_active boolean NOT NULL, \
             date_joined timestamp with time zone NOT NULL);"
        }
        domain::Backend::Sqlite => {
            "CREATE TABLE \"auth_user\" (\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, \
             \"password\" varchar(128) NOT NULL, \"last_login\" datetime NULL, \
             \"is_superuser\" bool NOT NULL, \"username\" varchar(150) NOT NULL UNIQUE, \
             \"last_name\" varchar(150) NOT NULL, \"email\" varchar(254) NOT NULL, \
             \"is_staff\" bool NOT NULL, \"is_active\" bool NOT NULL, \
             \"date_joined\" datetime NOT NULL, \"first_name\" varchar(150) NOT NULL);"
        }
    };
    let mut conn = django.connect();
    conn.batch_execute(ddl).unwrap();
    conn.batch_execute(&format!(
        "INSERT INTO auth_user (id, password, last_login, is_superuser, username, first_name, \
         last_name, email, is_staff, is_active, date_joined) VALUES \
         (5, '{hash}', NULL, true, 'judy', '', '', '', false, true, '2024-05-01 10:20:30.5'), \
         (6, '!nope', '2025-01-01 00:00:00', false, 'ken', '', '', 'k@example.com', false, false, '2024-05-02 00:00:00')"
    ))
    .unwrap();
    drop(conn);
    // Read-only: an SQLite file stays byte for byte what it was.
    let sqlite_file = match django.url() {
        domain::DatabaseUrl::Sqlite(path) => Some(path.clone()),
        domain::DatabaseUrl::Postgres(_) => None,
    };
    let before = sqlite_file.as_ref().map(|p| std::fs::read(p).unwrap());
    let s = app().db(db).start();
    let out = s.cli(
        &[
            "import-django-users",
            "--from-database",
            &django.url_string(),
        ],
        None,
    );
    assert!(out.success(), "{}", out.stderr);
    assert_eq!(
        out.stdout.trim(),
        "2 records: 2 created, 0 skipped, 0 updated; 1 with a password that cannot be verified here"
    );
    let judy = user(db, 5).unwrap();
    assert!(judy.is_admin);
    assert_eq!(judy.date_joined.to_string(), "2024-05-01 10:20:30.500");
    let ken = user(db, 6).unwrap();
    assert!(!ken.is_active);
    assert_eq!(ken.last_login.unwrap().to_string(), "2025-01-01 00:00:00");
    s.login("judy", &password);
    assert_eq!(sqlite_file.map(|p| std::fs::read(p).unwrap()), before);
}

backend_tests!(
    imports_a_dump_and_its_users_log_in,
    reads_standard_input,
    conflicts_fail_skip_or_update,
    a_bad_record_imports_nothing,
    imports_from_a_django_database,
);
