//! The `app-server` command line of docs/API.md: `create-user`,
//! `set-password`, `flush-expired-tokens`, and start-up (defaults with no environment,
//! migrations, an unreachable database, production refusals, and one clear
//! stderr line for every invalid setting).

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use domain::{migrations, RefreshToken, Session, SessionId, TokenId, User};
use serde_json::json;
use test_support::jwt::claims;
use test_support::keyfiles::generate_key;
use test_support::process::free_port;
use test_support::{backend_tests, Output, PgDatabase, TestDb, TestServer, PASSWORD, SECRET};

use crate::app;

/// A bad setting must stop the binary at once; this only guards against a hang.
const EXITS_WITHIN: Duration = Duration::from_secs(15);

fn stderr_lines(out: &Output) -> Vec<&str> {
    out.stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

fn last_stderr_line(out: &Output) -> &str {
    stderr_lines(out).last().copied().unwrap_or_default()
}

/// Non-zero exit with exactly one non-empty stderr line naming `variable`.
#[track_caller]
fn assert_refused_naming(out: &Output, variable: &str, what: &str) {
    assert!(
        !out.status.success(),
        "{what}: must exit non-zero; stderr:\n{}",
        out.stderr
    );
    let lines = stderr_lines(out);
    assert_eq!(
        lines.len(),
        1,
        "{what}: exactly one line on stderr, got:\n{}",
        out.stderr
    );
    assert!(
        lines[0].contains(variable),
        "{what}: the line names {variable}: {:?}",
        lines[0]
    );
}

// ---------------------------------------------------------------- create-user

fn create_user_reads_the_first_line_of_stdin_and_the_user_can_log_in(db: &TestDb) {
    let s = app().db(db).start();
    // Only the first line is the password; a CRLF line ending is not part of it.
    let out = s.cli(
        &["create-user", "bob", "--email", "bob@example.com"],
        Some(&format!("{PASSWORD}\r\nsecond line is ignored\n")),
    );
    assert!(out.status.success(), "create-user: {}", out.stderr);
    let (access, _) = s.login("bob", PASSWORD);
    let me = s.get("/api/me/", Some(&access));
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["username"], "bob");
    assert_eq!(me.body["email"], "bob@example.com");
    assert_eq!(me.body["is_admin"], false);
    assert_eq!(me.body["is_active"], true);
    s.get("/api/admin/users/", Some(&access))
        .assert_error(403, "permission_denied");

    // Without --email the email is null.
    let out = s.cli(&["create-user", "carol"], Some(&format!("{PASSWORD}\n")));
    assert!(out.status.success(), "create-user: {}", out.stderr);
    let (access, _) = s.login("carol", PASSWORD);
    assert_eq!(
        s.get("/api/me/", Some(&access)).body["email"],
        serde_json::Value::Null
    );
}

fn create_user_admin_flag_gives_admin_rights(db: &TestDb) {
    let s = app().db(db).start();
    // Server::admin runs `create-user root --admin` and logs in
    let (_, access) = s.admin("root");
    assert_eq!(s.get("/api/me/", Some(&access)).body["is_admin"], true);
    let list = s.get("/api/admin/users/", Some(&access));
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.body["count"], 1);
    assert_eq!(claims(&access)["admin"], true);
}

fn create_user_refusals_exit_non_zero_with_a_message(db: &TestDb) {
    let s = app().db(db).start();
    let ok = s.cli(&["create-user", "bob"], Some(&format!("{PASSWORD}\n")));
    assert!(ok.status.success(), "create-user: {}", ok.stderr);

    let refused = |args: &[&str], stdin: &str, what: &str| -> Output {
        let out = s.cli(args, Some(stdin));
        assert!(
            !out.status.success(),
            "{what}: must fail; stdout {}",
            out.stdout
        );
        assert!(!out.stderr.trim().is_empty(), "{what}: a message on stderr");
        out
    };

    let out = refused(&["create-user", "dave"], "", "empty stdin");
    assert!(out.stderr.contains("password"), "{}", out.stderr);
    let out = refused(&["create-user", "dave"], "\n", "an empty first line");
    assert!(out.stderr.contains("password"), "{}", out.stderr);

    let out = refused(
        &["create-user", "bob"],
        "another good passphrase\n",
        "a duplicate username",
    );
    assert!(
        out.stderr.contains("bob") && out.stderr.contains("exists"),
        "the message says what is wrong: {}",
        out.stderr
    );

    // (arguments, standard input, the refusal, a word its message must hold)
    for (args, stdin, what, named) in [
        (
            &["create-user", "erin"][..],
            "short\n",
            "a short password",
            "short",
        ),
        (
            &["create-user", "erin"],
            "password\n",
            "a common password",
            "common",
        ),
        (
            &["create-user", "erin"],
            "12345678\n",
            "a common password",
            "common",
        ),
        (
            &["create-user", "erinerin"],
            "erinerin\n",
            "the username as password",
            "similar",
        ),
        (
            &["create-user", "erin"],
            &format!("{}\n", "é".repeat(37)),
            "more than 72 bytes",
            "long",
        ),
        (
            &["create-user", "bad name"],
            "long enough passphrase\n",
            "a bad username",
            "username",
        ),
        (
            &["create-user", "erin", "--email", "not-an-email"],
            "long enough passphrase\n",
            "a bad email",
            "email",
        ),
    ] {
        let out = refused(args, stdin, what);
        assert!(
            out.stderr.to_lowercase().contains(named),
            "{what}: the message names the problem ({named:?}): {}",
            out.stderr
        );
    }

    // Nothing refused was created, and the duplicate did not overwrite bob.
    for user in ["dave", "erin", "erinerin", "bad name"] {
        for password in [PASSWORD, "long enough passphrase"] {
            s.post(
                "/api/token/",
                json!({"username": user, "password": password}),
            )
            .assert_error(401, "no_active_account");
        }
    }
    s.post(
        "/api/token/",
        json!({"username": "bob", "password": "another good passphrase"}),
    )
    .assert_error(401, "no_active_account");
    s.login("bob", PASSWORD);

    // Usernames are compared case-sensitively: Bob is another user.
    let out = s.cli(&["create-user", "Bob"], Some(&format!("{PASSWORD}\n")));
    assert!(out.status.success(), "create-user Bob: {}", out.stderr);
}

/// `create-user` migrates a fresh SQLite database as `serve` would, so the
/// first admin can be made before the server ever ran.
#[test]
fn create_user_migrates_a_fresh_sqlite_database() {
    let db = TestDb::sqlite();
    let out = app().db(&db).unset("AUTH_AUTO_MIGRATE").run(
        &["create-user", "root", "--admin"],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(out.status.success(), "create-user: {}", out.stderr);
    assert_eq!(
        migrations::pending(&mut db.connect()).expect("status"),
        Vec::<String>::new()
    );
    let s = app().db(&db).start();
    let (access, _) = s.login("root", PASSWORD);
    assert_eq!(s.get("/api/admin/users/", Some(&access)).status, 200);
}

/// On PostgreSQL `serve` does not migrate by default, and neither does
/// `create-user`: it refuses and says to run `migrate`.
#[test]
fn create_user_refuses_pending_postgres_migrations_by_default() {
    let db = TestDb::postgres();
    let out = app()
        .db(&db)
        .unset("AUTH_AUTO_MIGRATE")
        .run(&["create-user", "root"], Some(&format!("{PASSWORD}\n")));
    assert!(!out.status.success(), "must refuse: {}", out.stdout);
    assert!(out.stderr.contains("migrate"), "{}", out.stderr);
    let pending = migrations::pending(&mut db.connect()).expect("status");
    assert!(!pending.is_empty(), "nothing was migrated");
}

/// The contract's default bcrypt cost is 12: with AUTH_BCRYPT_COST unset,
/// `create-user` and registration both store `$2b$12$` hashes.
#[test]
fn bcrypt_cost_defaults_to_12() {
    let db = TestDb::sqlite();
    let server = app().db(&db).unset("AUTH_BCRYPT_COST");
    let out = server.run(&["create-user", "root"], Some(&format!("{PASSWORD}\n")));
    assert!(out.status.success(), "create-user: {}", out.stderr);
    let s = server.start();
    s.register("alice", PASSWORD);
    s.login("root", PASSWORD);
    let mut conn = db.connect();
    for username in ["root", "alice"] {
        let user = User::find_by_username(&mut conn, username)
            .expect("query users")
            .expect("the user exists");
        assert!(
            user.password_hash.starts_with("$2b$12$"),
            "{username}: cost 12 by default, got {:?}",
            &user.password_hash[..7.min(user.password_hash.len())]
        );
    }
}

// ---------------------------------------------------------------- flush

/// Records of a session that ended are deleted; a live session and its
/// token stay, and keep working.
fn flush_expired_tokens_deletes_expired_records_and_keeps_live_ones(db: &TestDb) {
    let (old_sid, old_jtis, logged_in) = {
        let s = app()
            .db(db)
            .envs(&[
                ("AUTH_REFRESH_TOKEN_LIFETIME", "1s"),
                ("AUTH_SESSION_LIFETIME", "2s"),
            ])
            .start();
        let (_, _, r1) = s.user("alice");
        let r = s.post("/api/token/refresh/", json!({"refresh": r1}));
        assert_eq!(r.status, 200, "{}", r.text);
        let r2 = r.str("refresh");
        let jti = |t: &str| claims(t)["jti"].as_str().expect("jti").to_owned();
        let sid = claims(&r1)["sid"].as_str().expect("sid").to_owned();
        (sid, [jti(&r1), jti(&r2)], Instant::now())
    };

    // Default lifetimes from here on: this session is live.
    let s = app().db(db).start();
    let (_, live_refresh) = s.login("alice", PASSWORD);
    let live_sid = claims(&live_refresh)["sid"].as_str().unwrap().to_owned();
    let live_jti = claims(&live_refresh)["jti"].as_str().unwrap().to_owned();

    let mut conn = db.connect();
    let session = |conn: &mut _, sid: &str| {
        Session::find(conn, &SessionId(sid.to_owned())).expect("query sessions")
    };
    let token = |conn: &mut _, jti: &str| {
        RefreshToken::find(conn, &TokenId(jti.to_owned())).expect("query refresh_tokens")
    };
    assert!(session(&mut conn, &old_sid).is_some(), "recorded at login");
    for jti in &old_jtis {
        assert!(token(&mut conn, jti).is_some(), "recorded when issued");
    }

    // Let the short session (2 s) end; timestamps may be whole seconds.
    let ended = Duration::from_secs(3);
    if let Some(rest) = ended.checked_sub(logged_in.elapsed()) {
        std::thread::sleep(rest);
    }
    let out = s.cli(&["flush-expired-tokens"], None);
    assert!(out.status.success(), "flush: {}", out.stderr);

    assert!(
        session(&mut conn, &old_sid).is_none(),
        "ended session deleted"
    );
    for jti in &old_jtis {
        assert!(
            token(&mut conn, jti).is_none(),
            "expired token {jti} deleted"
        );
    }
    assert!(session(&mut conn, &live_sid).is_some(), "live session kept");
    assert!(token(&mut conn, &live_jti).is_some(), "live token kept");
    let r = s.post("/api/token/refresh/", json!({"refresh": live_refresh}));
    assert_eq!(r.status, 200, "the live token still works: {}", r.text);
}

// ---------------------------------------------------------------- set-password

fn set_password_gives_a_password_and_ends_every_session(db: &TestDb) {
    let s = app().db(db).start();
    let (id, access, refresh) = s.user("alice");
    // as an import leaves a user whose Django hash could not be brought over
    domain::User::set_password_hash(
        &mut db.connect(),
        domain::UserId(id),
        "!",
        domain::time::to_db(chrono::Utc::now()),
    )
    .expect("hash made unusable");
    s.post(
        "/api/token/",
        json!({"username": "alice", "password": PASSWORD}),
    )
    .assert_error(401, "no_active_account");

    const NEW: &str = "another correct horse, set by an operator";
    // only the first line is the password, as for create-user
    let out = s.cli(
        &["set-password", "alice"],
        Some(&format!("{NEW}\r\nignored\n")),
    );
    assert!(out.status.success(), "set-password: {}", out.stderr);
    assert!(out.stdout.contains("alice"), "{}", out.stdout);
    s.login("alice", NEW);
    // every session of before has ended
    s.get("/api/me/", Some(&access)).assert_token_not_valid();
    s.post("/api/token/refresh/", json!({"refresh": refresh}))
        .assert_error(401, "token_not_valid");

    let refused = |args: &[&str], stdin: &str, needle: &str| {
        let out = s.cli(args, Some(stdin));
        assert!(!out.status.success(), "{args:?} must fail: {}", out.stdout);
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
    };
    refused(
        &["set-password", "nobody"],
        &format!("{NEW}\n"),
        "no user named",
    );
    refused(&["set-password", "alice"], "\n", "password");
    refused(&["set-password", "alice"], "short\n", "too short");
    // nothing changed by a refusal
    s.login("alice", NEW);
}

backend_tests!(
    set_password_gives_a_password_and_ends_every_session,
    create_user_reads_the_first_line_of_stdin_and_the_user_can_log_in,
    create_user_admin_flag_gives_admin_rights,
    create_user_refusals_exit_non_zero_with_a_message,
    flush_expired_tokens_deletes_expired_records_and_keeps_live_ones,
);

// ---------------------------------------------------------------- start-up

/// With nothing configured but the port, the binary makes its embedded
/// database and a private development secret in ./data, serves with the
/// documented token lifetimes, and keeps the secret across a restart.
#[test]
fn starts_with_no_environment_but_the_port() {
    let mut s = app().bare().start();
    assert_eq!(s.env().len(), 1, "only AUTH_BIND: {:?}", s.env());
    let data = s.dir().join("data");
    assert!(data.join("auth.db").is_file(), "data/auth.db made");
    let secret_file = data.join("jwt-secret");
    let meta = std::fs::metadata(&secret_file).expect("data/jwt-secret made");
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "readable by us only"
    );
    let secret = std::fs::read(&secret_file).expect("read secret");
    assert!(secret.len() >= 32, "a secret of at least 32 bytes");

    assert_eq!(s.get("/healthz", None).status, 200);
    s.register("alice", PASSWORD);
    let (access, refresh) = s.login("alice", PASSWORD);
    let c = claims(&access);
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 300);
    let c = claims(&refresh);
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        86_400
    );
    let log = s.log();
    assert!(log.contains("INFO"), "RUST_LOG defaults to info: {log}");
    let below_info: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("DEBUG") || l.contains("TRACE"))
        .collect();
    assert!(
        below_info.is_empty(),
        "nothing below info is logged by default: {below_info:?}"
    );

    s.restart();
    assert_eq!(
        std::fs::read(&secret_file).expect("read secret"),
        secret,
        "the development secret is kept"
    );
    let me = s.get("/api/me/", Some(&access));
    assert_eq!(me.status, 200, "tokens survive a restart: {}", me.text);
}

/// `app-server serve` is the server, as `app-server` alone is.
#[test]
fn the_serve_subcommand_runs_the_server() {
    let db = TestDb::sqlite();
    let mut s = app().db(&db).args(&["serve"]).start();
    // the process really was given the argument (Linux /proc)
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", s.pid())).expect("cmdline");
    let args: Vec<&[u8]> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .collect();
    assert_eq!(args.get(1..), Some(&[&b"serve"[..]][..]), "{cmdline:?}");
    let (_, access, _) = s.user("alice");
    assert_eq!(s.get("/api/me/", Some(&access)).status, 200);
    assert_eq!(s.get("/readyz", None).status, 200);
    // and it stops cleanly on SIGTERM like the default
    let status = s.stop();
    assert!(status.success(), "exit on SIGTERM: {status}\n{}", s.log());
}

/// `.env` in the working directory is read; the real environment wins.
#[test]
fn dot_env_is_honoured_and_the_environment_overrides_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    std::fs::write(
        dir.path().join(".env"),
        format!(
            "AUTH_BIND=127.0.0.1:{port}\nAUTH_JWT_SECRET={SECRET}\nAUTH_BCRYPT_COST=4\n\
             AUTH_ALLOW_REGISTRATION=false\nAUTH_ACCESS_TOKEN_LIFETIME=7m\n"
        ),
    )
    .expect("write .env");
    let s = app()
        .bare()
        .unset("AUTH_BIND")
        .env("AUTH_ALLOW_REGISTRATION", "true")
        .port(port)
        .in_dir(dir.path())
        .start();
    // AUTH_ALLOW_REGISTRATION=false in .env lost to the environment's true.
    let (_, access, _) = s.user("alice");
    let c = claims(&access);
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        420,
        "lifetime from .env"
    );
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_aud = false;
    jsonwebtoken::decode::<serde_json::Value>(
        &access,
        &jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes()),
        &validation,
    )
    .expect("signed with the secret from .env");
}

/// PostgreSQL is not migrated by default: the server refuses to start on
/// pending migrations and says to run `migrate`; with AUTH_AUTO_MIGRATE=true
/// it migrates, and once migrated the default starts.
#[test]
fn postgres_with_pending_migrations_refuses_to_start_by_default() {
    let db = TestDb::postgres();
    let by_default = || app().db(&db).unset("AUTH_AUTO_MIGRATE").unset("RUST_LOG");
    let (out, _) = by_default().run_until_exit(EXITS_WITHIN);
    assert!(!out.status.success(), "must refuse: {}", out.stderr);
    assert!(
        last_stderr_line(&out).contains("`migrate`"),
        "says to run migrate: {}",
        out.stderr
    );
    assert!(!migrations::pending(&mut db.connect()).unwrap().is_empty());

    drop(app().db(&db).env("AUTH_AUTO_MIGRATE", "true").start());
    assert!(migrations::pending(&mut db.connect()).unwrap().is_empty());
    let s = by_default().start();
    assert_eq!(s.get("/readyz", None).status, 200);
}

/// The password of DATABASE_URL never reaches stderr, whatever the log level.
const UNREACHABLE_PG: &str = "postgres://user:secret@127.0.0.1:1/db";

#[test]
fn unreachable_database_is_retried_for_auth_db_startup_wait_then_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, "").expect("write file");
    let sqlite = format!("sqlite://{}/auth.db", not_a_dir.display());
    for url in [UNREACHABLE_PG, sqlite.as_str()] {
        let (out, took) = app()
            .database_url(url)
            .env("AUTH_DB_STARTUP_WAIT", "2s")
            .unset("RUST_LOG")
            .in_dir(dir.path())
            .run_until_exit(Duration::from_secs(30));
        assert!(!out.status.success(), "{url}: must exit non-zero");
        assert!(took >= Duration::from_secs(2), "{url}: retried, {took:?}");
        let last = last_stderr_line(&out);
        assert!(last.contains("DATABASE_URL"), "{url}: names it: {last:?}");
        assert!(!out.stderr.contains("secret"), "{url}: {}", out.stderr);
    }
}

/// The contract's default wait is 30 seconds.
#[test]
fn unreachable_database_is_retried_for_30_seconds_by_default() {
    let (out, took) = app()
        .database_url(UNREACHABLE_PG)
        .run_until_exit(Duration::from_secs(90));
    assert!(!out.status.success());
    assert!(
        took >= Duration::from_secs(30) && took < Duration::from_secs(60),
        "retried for 30 s: {took:?}"
    );
    assert!(last_stderr_line(&out).contains("DATABASE_URL"));
    assert!(!out.stderr.contains("secret"), "{}", out.stderr);
}

/// A database that comes up during the wait is used: no exit, no restart.
#[test]
fn database_that_comes_up_during_the_startup_wait_is_used() {
    let pg = PgDatabase::create();
    pg.allow_connections(false);
    std::thread::scope(|scope| {
        let started = Instant::now();
        scope.spawn(|| {
            std::thread::sleep(Duration::from_secs(2));
            pg.allow_connections(true);
        });
        let s = app()
            .database_url(&pg.url)
            .env("AUTH_DB_STARTUP_WAIT", "25s")
            .start();
        assert!(
            started.elapsed() >= Duration::from_secs(2),
            "it waited for the database"
        );
        s.user("alice");
    });
}

#[test]
fn production_refuses_a_missing_or_weak_secret() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().expect("temp dir");
    let production = || {
        app()
            .db(&db)
            .env("AUTH_ENV", "production")
            .env("AUTH_BCRYPT_COST", "10")
            .unset("RUST_LOG")
            .in_dir(dir.path())
    };
    let run = |server: TestServer| server.run_until_exit(EXITS_WITHIN).0;

    let out = run(production().unset("AUTH_JWT_SECRET"));
    assert_refused_naming(&out, "AUTH_JWT_SECRET", "no secret");
    let short = "short-but-not-32-bytes-secret";
    let out = run(production().env("AUTH_JWT_SECRET", short));
    assert_refused_naming(&out, "AUTH_JWT_SECRET", "a 29-byte secret");
    assert!(!out.stderr.contains(short), "the secret is not echoed");
    let out = run(production().env("AUTH_JWT_SECRET", &"a".repeat(40)));
    assert_refused_naming(&out, "AUTH_JWT_SECRET", "40 times the same byte");
    assert!(
        !dir.path().join("data/jwt-secret").exists(),
        "production never makes a secret up"
    );

    // Exactly 32 varied bytes is enough.
    let secret = "0123456789abcdefghijklmnopqrstuv";
    assert_eq!(secret.len(), 32);
    let s = production().env("AUTH_JWT_SECRET", secret).start();
    s.user("alice");
}

#[test]
fn production_refuses_bcrypt_cost_below_10() {
    let db = TestDb::sqlite();
    let production = || {
        app()
            .db(&db)
            .env("AUTH_ENV", "production")
            .unset("RUST_LOG")
    };
    for cost in ["4", "9"] {
        let (out, _) = production()
            .env("AUTH_BCRYPT_COST", cost)
            .run_until_exit(EXITS_WITHIN);
        assert_refused_naming(&out, "AUTH_BCRYPT_COST", &format!("cost {cost}"));
    }
    let s = production().env("AUTH_BCRYPT_COST", "10").start();
    assert_eq!(s.get("/healthz", None).status, 200);
}

/// Development warns about a short secret but starts with it.
#[test]
fn development_starts_with_a_short_secret_and_warns() {
    let db = TestDb::sqlite();
    let short = "dev-secret";
    let s = app().db(&db).env("AUTH_JWT_SECRET", short).start();
    let (_, access, _) = s.user("alice");
    assert_eq!(s.get("/api/me/", Some(&access)).status, 200);
    let log = s.log();
    let warning = log
        .lines()
        .find(|l| l.contains("WARN") && l.contains("AUTH_JWT_SECRET"))
        .unwrap_or_else(|| panic!("a warning naming AUTH_JWT_SECRET in:\n{log}"));
    assert!(!warning.contains(short), "the secret is not logged");
}

/// Every variable of API.md's table with an invalid value: non-zero exit at
/// once, exactly one stderr line, naming the variable (RUST_LOG unset, so at
/// its default `info` level).
#[test]
fn every_invalid_setting_stops_start_up_with_one_line_naming_it() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().expect("temp dir");
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).expect("keys dir");
    let es = generate_key(&keys, "ES256", "es");
    let ed = generate_key(&keys, "EdDSA", "ed");
    let garbage = keys.join("garbage.pem");
    std::fs::write(&garbage, "not a key\n").expect("write garbage");
    let missing = keys.join("missing.pem");
    let a_file = keys.join("a-file");
    std::fs::write(&a_file, "").expect("write file");
    let path = |p: &Path| p.to_str().expect("UTF-8").to_owned();
    let (es_private, es_public, ed_public) =
        (path(&es.private), path(&es.public), path(&ed.public));
    let (garbage, missing) = (path(&garbage), path(&missing));
    let not_a_dir = path(&a_file.join("data"));
    let mixed_public = format!("{es_public},{ed_public}");

    let base = || app().db(&db).unset("RUST_LOG").in_dir(dir.path());
    // (the variable named, the variables set, the variables unset)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<&'a str>);
    // the common case: one variable with a bad value, named in the error
    fn bad<'a>(var: &'a str, value: &'a str) -> Case<'a> {
        (var, vec![(var, value)], vec![])
    }
    let cases: Vec<Case> = vec![
        bad("AUTH_BIND", "nonsense"),
        bad("AUTH_BIND", "127.0.0.1"),
        bad("AUTH_WORKERS", "0"),
        bad("AUTH_WORKERS", "many"),
        bad("AUTH_JWT_ALGORITHM", "HS999"),
        bad("AUTH_JWT_ALGORITHM", "none"),
        bad("AUTH_JWT_LEEWAY", "-1"),
        bad("AUTH_JWT_LEEWAY", "soon"),
        bad("AUTH_JWT_LEEWAY", "36500d"),
        bad("AUTH_ACCESS_TOKEN_LIFETIME", "5x"),
        bad("AUTH_ACCESS_TOKEN_LIFETIME", "0"),
        bad("AUTH_REFRESH_TOKEN_LIFETIME", "abc"),
        bad("AUTH_ROTATE_REFRESH_TOKENS", "maybe"),
        bad("AUTH_SESSION_LIFETIME", "0"),
        bad("AUTH_BCRYPT_COST", "3"),
        bad("AUTH_BCRYPT_COST", "32"),
        bad("AUTH_BCRYPT_COST", "twelve"),
        bad("AUTH_LOGIN_MAX_FAILURES", "0"),
        bad("AUTH_ALLOW_REGISTRATION", "perhaps"),
        bad("AUTH_AUTO_MIGRATE", "sometimes"),
        bad("AUTH_ENV", "staging"),
        bad("DATABASE_URL", "mysql://x"),
        (
            "AUTH_JWT_PRIVATE_KEY_FILE",
            vec![("AUTH_JWT_ALGORITHM", "RS256")],
            vec![],
        ),
        (
            "AUTH_JWT_PRIVATE_KEY_FILE",
            vec![
                ("AUTH_JWT_ALGORITHM", "RS256"),
                ("AUTH_JWT_PRIVATE_KEY_FILE", &missing),
            ],
            vec![],
        ),
        (
            "AUTH_JWT_PRIVATE_KEY_FILE",
            vec![
                ("AUTH_JWT_ALGORITHM", "ES256"),
                ("AUTH_JWT_PRIVATE_KEY_FILE", &garbage),
            ],
            vec![],
        ),
        (
            // an EC key where RS256 needs an RSA key
            "AUTH_JWT_PRIVATE_KEY_FILE",
            vec![
                ("AUTH_JWT_ALGORITHM", "RS256"),
                ("AUTH_JWT_PRIVATE_KEY_FILE", &es_private),
            ],
            vec![],
        ),
        (
            "AUTH_JWT_PUBLIC_KEY_FILES",
            vec![
                ("AUTH_JWT_ALGORITHM", "ES256"),
                ("AUTH_JWT_PRIVATE_KEY_FILE", &es_private),
                ("AUTH_JWT_PUBLIC_KEY_FILES", &garbage),
            ],
            vec![],
        ),
        (
            "AUTH_JWT_PUBLIC_KEY_FILES",
            vec![
                ("AUTH_JWT_ALGORITHM", "ES256"),
                ("AUTH_JWT_PRIVATE_KEY_FILE", &es_private),
                ("AUTH_JWT_PUBLIC_KEY_FILES", &missing),
            ],
            vec![],
        ),
        (
            // an Ed25519 public key among ES256 keys
            "AUTH_JWT_PUBLIC_KEY_FILES",
            vec![
                ("AUTH_JWT_ALGORITHM", "ES256"),
                ("AUTH_JWT_PRIVATE_KEY_FILE", &es_private),
                ("AUTH_JWT_PUBLIC_KEY_FILES", &mixed_public),
            ],
            vec![],
        ),
        bad("AUTH_TRUSTED_PROXIES", "not-an-ip"),
        bad("AUTH_TRUSTED_PROXIES", "10.0.0.0/8,10.0.0.0/33"),
        bad("AUTH_DB_POOL_SIZE", "0"),
        bad("AUTH_DB_TIMEOUT", "0"),
        bad("AUTH_DB_STARTUP_WAIT", "a while"),
        (
            // no secret given, and the data dir cannot hold the development one
            "AUTH_DATA_DIR",
            vec![("AUTH_DATA_DIR", &not_a_dir)],
            vec!["AUTH_JWT_SECRET"],
        ),
    ];
    let mut failures = Vec::new();
    for (variable, set, unset) in &cases {
        let server = unset.iter().fold(base().envs(set), |s, name| s.unset(name));
        let (out, _) = server.run_until_exit(EXITS_WITHIN);
        let lines = stderr_lines(&out);
        if out.status.success() || lines.len() != 1 || !lines[0].contains(variable) {
            failures.push(format!(
                "{set:?} (unset {unset:?}): exit {}, stderr:\n{}",
                out.status, out.stderr
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} invalid settings were not refused with one line naming the variable:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // The same base environment does start: the refusals above are the
    // variables', not the base's.
    let s = base().start();
    assert_eq!(s.get("/healthz", None).status, 200);
}

/// A port that is taken is reported against AUTH_BIND.
#[test]
fn a_taken_port_is_reported_against_auth_bind() {
    let db = TestDb::sqlite();
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("address").port();
    let (out, _) = app()
        .db(&db)
        .port(port)
        .run_until_exit(Duration::from_secs(30));
    assert!(!out.status.success());
    assert!(
        last_stderr_line(&out).contains("AUTH_BIND"),
        "{}",
        out.stderr
    );
}
