//! Delivery: an SMTP outage, a restart, a sender killed mid-send, development
//! files, the start-up rules, metrics.

use std::time::Duration;

use test_support::smtp::SmtpSink;
use test_support::{backend_tests, TestDb};

use super::support::*;
use test_support::process::signal;

fn an_smtp_outage_delays_mail_and_loses_none(db: &TestDb) {
    let mut sink = SmtpSink::start();
    let s = mail_server(db, &sink, &[]);
    sink.down();
    for i in 0..3 {
        register(&s, &format!("o{i}"), Some(&format!("o{i}@example.com")));
        assert_eq!(request_reset(&s, &format!("o{i}@example.com")).status, 200);
    }
    // Every message fails at least once while the server is down.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let rows = domain::outbox::all(&mut db.connect()).unwrap();
        if rows.len() == 6
            && rows
                .iter()
                .all(|r| r.attempts >= 1 && r.last_error.is_some())
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "attempts while down: {rows:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let metrics = s.get("/metrics", None).text;
    assert!(
        metrics.contains(
            "auth_mail_delivery_failures_total{kind=\"password_reset\",reason=\"transient\"}"
        ),
        "{metrics}"
    );
    assert!(
        !s.log().contains("Content-Type"),
        "failures are logged without the message"
    );
    std::thread::sleep(Duration::from_secs(3));
    sink.up();
    let messages = sink.wait_for(6, Duration::from_secs(60));
    settle();
    assert_eq!(sink.messages().len(), 6, "no duplicate");
    assert!(sink.message_id_counts().values().all(|&n| n == 1));
    for i in 0..3 {
        let mine = to(&messages, &format!("o{i}@example.com"));
        assert_eq!(mine.len(), 2, "verification and reset for o{i}");
    }
    assert_eq!(domain::outbox::pending_count(&mut db.connect()).unwrap(), 0);
    let metrics = s.get("/metrics", None).text;
    assert!(
        metrics.contains("auth_mail_sent_total{kind=\"password_reset\"} 3"),
        "{metrics}"
    );
}

fn queued_mail_survives_a_restart(db: &TestDb) {
    let mut sink = SmtpSink::start();
    let mut s = mail_server(db, &sink, &[]);
    sink.down();
    register(&s, "r", Some("r@example.com"));
    request_reset(&s, "r@example.com");
    std::thread::sleep(Duration::from_millis(500));
    s.restart();
    sink.up();
    sink.wait_for(2, WAIT);
    settle();
    assert_eq!(sink.messages().len(), 2);
    let (uid, token) = reset_parts(
        &to(&sink.messages(), "r@example.com")
            .into_iter()
            .find(|m| m.header("Subject").as_deref() == Some("Password reset"))
            .expect("the reset message"),
    );
    assert_eq!(
        confirm(&s, &uid, &token, "after the restart", "after the restart").status,
        200
    );
}

fn development_writes_eml_files_and_logs_their_path(db: &TestDb) {
    let s = crate::app()
        .db(db)
        .envs(&[("AUTH_PASSWORD_RESET_URL", RESET_URL), ("RUST_LOG", "info")])
        .start();
    register(&s, "dev", Some("dev@example.com"));
    request_reset(&s, "dev@example.com");
    let outbox = s.dir().join("data").join("outbox");
    let deadline = std::time::Instant::now() + WAIT;
    let file = loop {
        let found = std::fs::read_dir(&outbox)
            .ok()
            .and_then(|mut d| d.find_map(|e| e.ok().map(|e| e.path())))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"));
        if let Some(file) = found {
            break file;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no .eml in {}",
            outbox.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("To: dev <dev@example.com>"), "{text}");
    assert!(text.contains("https://app.example.com/reset/"), "{text}");
    // The path is logged once the file is in place, a moment after.
    let log = s.wait_for_log(&file.display().to_string(), WAIT);
    assert!(
        !log.contains("https://app.example.com/reset/"),
        "the link is not"
    );
}

fn production_needs_smtp_and_verification_needs_its_link(db: &TestDb) {
    for (set, variable) in [
        (
            vec![("AUTH_PASSWORD_RESET_URL", RESET_URL)],
            "AUTH_SMTP_URL",
        ),
        (
            vec![
                ("AUTH_EMAIL_VERIFICATION", "optional"),
                ("AUTH_EMAIL_VERIFY_URL", VERIFY_URL),
            ],
            "AUTH_SMTP_URL",
        ),
        (
            vec![("AUTH_EMAIL_VERIFICATION", "mandatory")],
            "AUTH_EMAIL_VERIFY_URL",
        ),
        (
            vec![("AUTH_SMTP_URL", "smtp://user:hunter2@h?tls=nope")],
            "AUTH_SMTP_URL",
        ),
        (
            vec![("AUTH_PASSWORD_RESET_URL", "https://x/{token}")],
            "AUTH_PASSWORD_RESET_URL",
        ),
    ] {
        let (out, _) = crate::app()
            .db(db)
            .env("AUTH_ENV", "production")
            .env("AUTH_BCRYPT_COST", "10")
            .envs(&set)
            .run_until_exit(Duration::from_secs(30));
        assert!(!out.status.success(), "{set:?}");
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {}", out.stderr);
        assert!(lines[0].contains(variable), "{set:?}: {}", out.stderr);
        assert!(
            !out.stderr.contains("hunter2"),
            "the SMTP password is never shown"
        );
    }
}

/// PostgreSQL: a server killed while the SMTP server holds its reply (the
/// message kept, not yet acknowledged) leaves its row to the next sender at
/// once; the resend carries the same Message-ID, by which a receiver drops it.
#[test]
fn postgres_a_sender_killed_mid_send_is_taken_over_with_the_same_message_id() {
    let db = TestDb::postgres();
    let sink = SmtpSink::start();
    let s = mail_server(&db, &sink, &[]);
    // a user with an address but no verification mail: only the reset is sent
    let at = domain::time::to_db(chrono::Utc::now());
    domain::User::create(
        &mut db.connect(),
        &domain::NewUser {
            username: "k",
            email: Some("k@example.com"),
            password_hash: "!unusable",
            is_active: true,
            is_admin: false,
            date_joined: at,
            password_changed_at: at,
        },
    )
    .unwrap();
    sink.hold_replies(true);
    request_reset(&s, "k@example.com");
    let first = sink.wait_for(1, WAIT).remove(0);
    signal(s.pid(), "KILL");
    drop(s);
    sink.hold_replies(false);
    let s2 = mail_server(&db, &sink, &[]);
    let both = sink.wait_for(2, WAIT);
    assert_eq!(both[1].message_id(), first.message_id());
    assert_eq!(reset_parts(&both[1]), reset_parts(&first), "the same link");
    settle();
    assert_eq!(sink.messages().len(), 2);
    let rows = domain::outbox::all(&mut db.connect()).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].attempts, rows[0].outcome.as_deref()),
        (1, Some("sent"))
    );
    let (uid, token) = reset_parts(&first);
    assert_eq!(
        confirm(
            &s2,
            &uid,
            &token,
            "after the takeover",
            "after the takeover"
        )
        .status,
        200
    );
}

backend_tests!(
    an_smtp_outage_delays_mail_and_loses_none,
    queued_mail_survives_a_restart,
    development_writes_eml_files_and_logs_their_path,
    production_needs_smtp_and_verification_needs_its_link,
);
