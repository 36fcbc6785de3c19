//! The `migrate` binary of docs/API.md on both backends: it applies the
//! pending migrations to DATABASE_URL (creating an SQLite file if needed),
//! `status` lists them with their state, `revert` rolls back the newest, and
//! an unreachable database is one line that names DATABASE_URL and never
//! shows its password.

use std::path::Path;

use domain::migrations;
use test_support::{backend_tests, Output, Program, TestDb};

use crate::BIN;

/// Run `migrate` with exactly `env`, in `dir` (so no stray `.env` is read).
fn migrate(env: &[(&str, &str)], dir: &Path, args: &[&str]) -> Output {
    Program::new(BIN)
        .envs(env)
        .current_dir(dir)
        .args(args)
        .output(None)
}

fn migrate_db(db: &TestDb, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = db.url_string();
    let out = migrate(&[("DATABASE_URL", &url)], dir.path(), args);
    assert!(
        out.success(),
        "migrate {args:?}: stdout {}\nstderr {}",
        out.stdout,
        out.stderr
    );
    out
}

/// `migrate status` as (name, applied) in the order printed. Every line is
/// `[x] <name>` (applied) or `[ ] <name>` (pending), as the binary prints it.
fn status(db: &TestDb) -> Vec<(String, bool)> {
    let out = migrate_db(db, &["status"]);
    out.stdout
        .lines()
        .map(|line| {
            if let Some(name) = line.strip_prefix("[x] ") {
                (name.to_owned(), true)
            } else if let Some(name) = line.strip_prefix("[ ] ") {
                (name.to_owned(), false)
            } else {
                panic!("not a status line: {line:?}\n{}", out.stdout)
            }
        })
        .collect()
}

fn all(names: &[String], applied: bool) -> Vec<(String, bool)> {
    names.iter().map(|n| (n.clone(), applied)).collect()
}

fn applies_every_pending_migration_once(db: &TestDb) {
    let names = test_support::migration_names(db.backend());
    let out = migrate_db(db, &[]);
    for name in &names {
        assert!(out.stdout.contains(name), "reports {name}: {}", out.stdout);
    }
    assert_eq!(
        migrations::pending(&mut db.connect()).expect("status"),
        Vec::<String>::new()
    );
    // Nothing left to do: a second run succeeds and applies nothing.
    let out = migrate_db(db, &["run"]);
    for name in &names {
        assert!(!out.stdout.contains(name), "applied twice: {}", out.stdout);
    }
}

fn status_lists_every_migration_with_its_state(db: &TestDb) {
    let names = test_support::migration_names(db.backend());
    assert_eq!(status(db), all(&names, false), "fresh database");
    migrate_db(db, &[]);
    assert_eq!(status(db), all(&names, true), "after migrate");
}

fn revert_rolls_back_the_newest_migration(db: &TestDb) {
    let names = test_support::migration_names(db.backend());
    migrate_db(db, &[]);
    let newest = names.last().expect("a migration");
    let out = migrate_db(db, &["revert"]);
    assert!(out.stdout.contains(newest.as_str()), "{}", out.stdout);

    let mut expected = all(&names, true);
    expected.last_mut().expect("a migration").1 = false;
    assert_eq!(status(db), expected);
    assert_eq!(
        migrations::pending(&mut db.connect()).expect("status"),
        vec![newest.clone()]
    );

    // Reverting again takes the next one; migrating restores everything.
    migrate_db(db, &["revert"]);
    assert_eq!(
        migrations::pending(&mut db.connect())
            .expect("status")
            .len(),
        2
    );
    migrate_db(db, &[]);
    assert_eq!(status(db), all(&names, true));
}

backend_tests!(
    applies_every_pending_migration_once,
    status_lists_every_migration_with_its_state,
    revert_rolls_back_the_newest_migration,
);

#[test]
fn creates_the_sqlite_file_and_its_folders() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("deep/er/auth.db");
    let url = format!("sqlite://{}", file.display());
    let out = migrate(&[("DATABASE_URL", &url)], dir.path(), &[]);
    assert!(out.success(), "{}", out.stderr);
    assert!(file.is_file(), "made {}", file.display());
}

/// Without DATABASE_URL: the server's default, `auth.db` in AUTH_DATA_DIR,
/// itself `data` in the working directory by default.
#[test]
fn defaults_to_the_embedded_database_in_the_data_dir() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = migrate(&[], dir.path(), &[]);
    assert!(out.success(), "{}", out.stderr);
    assert!(dir.path().join("data/auth.db").is_file());

    let out = migrate(&[("AUTH_DATA_DIR", "elsewhere")], dir.path(), &[]);
    assert!(out.success(), "{}", out.stderr);
    assert!(dir.path().join("elsewhere/auth.db").is_file());
}

fn assert_one_line_naming_database_url(out: &Output, what: &str) {
    assert!(!out.success(), "{what}: must fail");
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "{what}: one line: {}", out.stderr);
    assert!(lines[0].contains("DATABASE_URL"), "{what}: {}", lines[0]);
    assert!(!out.stderr.contains("secret"), "{what}: {}", out.stderr);
    assert!(!out.stdout.contains("secret"), "{what}: {}", out.stdout);
}

#[test]
fn unreachable_database_fails_with_one_line_naming_database_url_without_password() {
    let dir = tempfile::tempdir().expect("temp dir");
    let not_a_dir = dir.path().join("a-file");
    std::fs::write(&not_a_dir, "").expect("write file");
    let sqlite = format!("sqlite://{}/auth.db", not_a_dir.display());
    for url in ["postgres://user:secret@127.0.0.1:1/db", sqlite.as_str()] {
        for args in [&[][..], &["status"], &["revert"]] {
            let out = migrate(&[("DATABASE_URL", url)], dir.path(), args);
            assert_one_line_naming_database_url(&out, &format!("{url} {args:?}"));
        }
    }
}

#[test]
fn unsupported_database_url_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = migrate(
        &[("DATABASE_URL", "mysql://root:secret@x/db")],
        dir.path(),
        &[],
    );
    assert_one_line_naming_database_url(&out, "mysql");
}

/// `migrate status | head -1` ends quietly and successfully; a write that
/// fails otherwise (a full disk) is a failure with one line saying so.
#[test]
fn a_closed_pipe_ends_quietly_and_a_full_disk_fails() {
    use std::process::Stdio;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/auth.db", dir.path().display());
    let spawn = |stdout: Stdio| {
        Program::new(BIN)
            .env("DATABASE_URL", &url)
            .current_dir(dir.path())
            .args(&["status"])
            .command()
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .expect("run migrate")
    };

    // a reader that is gone before anything is written
    let mut child = spawn(Stdio::piped());
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("migrate output");
    assert!(out.status.success(), "closed pipe: {out:?}");
    assert!(out.stderr.is_empty(), "closed pipe: {out:?}");

    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = spawn(Stdio::from(full))
        .wait_with_output()
        .expect("migrate output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "full disk: {out:?}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("migrate: cannot write the output"),
        "{stderr}"
    );
}
