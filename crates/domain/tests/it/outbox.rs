//! The mail outbox and the account-recovery queries, on both backends: one
//! row per message, claims that never hand a row to two senders, a lease on
//! SQLite, a row lock on PostgreSQL that a dying sender releases at once.

use std::sync::mpsc;

use chrono::Duration;
use domain::outbox::{self, Outcome};
use domain::{
    write_transaction, DbConnection, MailKind, NewUser, QueryError, Registered, User, UserFlags,
    UserId,
};
use test_support::users::{new_user, now_db as now};
use test_support::{backend_tests, TestDb};

fn add_user(conn: &mut DbConnection, username: &str, email: Option<&str>) -> User {
    User::create(
        conn,
        &NewUser {
            email,
            ..new_user(username, now())
        },
    )
    .expect("user created")
}

const LEASE: Duration = Duration::minutes(5);

fn enqueue_writes_a_row_per_user_and_a_done_row_for_nobody(db: &TestDb) {
    let mut conn = db.migrated();
    let a = add_user(&mut conn, "a", Some("x@example.com"));
    let b = add_user(&mut conn, "b", Some("x@example.com"));
    let at = now();
    assert_eq!(
        outbox::enqueue(&mut conn, &[a.id, b.id], MailKind::PasswordReset, at).unwrap(),
        2
    );
    assert_eq!(
        outbox::enqueue(&mut conn, &[], MailKind::PasswordReset, at).unwrap(),
        0
    );
    let rows = outbox::all(&mut conn).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].user_id, Some(a.id));
    assert_eq!(rows[1].user_id, Some(b.id));
    assert_eq!(rows[0].kind, "password_reset");
    assert_ne!(rows[0].message_key, rows[1].message_key);
    assert_eq!(rows[0].message_key.len(), 32);
    assert_eq!((rows[0].attempts, rows[0].done_at), (0, None));
    assert_eq!(rows[2].user_id, None, "nobody's row");
    assert_eq!(rows[2].done_at, Some(at));
    assert_eq!(rows[2].outcome.as_deref(), Some("unknown_address"));
    assert_eq!(outbox::pending_count(&mut conn).unwrap(), 2);
}

fn claims_lease_the_oldest_due_row(db: &TestDb) {
    let mut conn = db.migrated();
    let u = add_user(&mut conn, "u", Some("u@example.com"));
    let t0 = now();
    outbox::enqueue(&mut conn, &[u.id], MailKind::PasswordReset, t0).unwrap();
    outbox::enqueue(
        &mut conn,
        &[u.id],
        MailKind::EmailVerification,
        t0 + Duration::seconds(1),
    )
    .unwrap();
    assert!(
        outbox::claim(&mut conn, "s1", t0 - Duration::seconds(1), LEASE)
            .unwrap()
            .is_none(),
        "nothing due yet"
    );
    let first = outbox::claim(&mut conn, "s1", t0 + Duration::seconds(2), LEASE)
        .unwrap()
        .unwrap();
    assert_eq!(first.kind, "password_reset", "oldest first");
    assert_eq!(first.attempts, 1);
    assert_eq!(first.claimed_by.as_deref(), Some("s1"));
    let second = outbox::claim(&mut conn, "s2", t0 + Duration::seconds(2), LEASE)
        .unwrap()
        .unwrap();
    assert_eq!(
        second.kind, "email_verification",
        "the leased row is not handed out twice"
    );
    assert!(
        outbox::claim(&mut conn, "s3", t0 + Duration::seconds(2), LEASE)
            .unwrap()
            .is_none()
    );
    // s1 dies: after its lease, the row goes to another sender, one more attempt.
    let again = outbox::claim(&mut conn, "s3", t0 + LEASE + Duration::seconds(3), LEASE)
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.attempts), (first.id, 2));
    // The first claim is lost: its outcome is not recorded over s3's.
    assert!(!outbox::finish(&mut conn, first.id, "s1", Outcome::Sent, now()).unwrap());
    assert!(!outbox::retry(&mut conn, first.id, "s1", now(), "late").unwrap());
    assert!(outbox::finish(&mut conn, first.id, "s3", Outcome::Sent, now()).unwrap());
    let done = outbox::find(&mut conn, first.id).unwrap().unwrap();
    assert_eq!(done.outcome.as_deref(), Some("sent"));
    assert!(done.done_at.is_some() && done.claimed_by.is_none());
    assert!(
        !outbox::finish(&mut conn, first.id, "s3", Outcome::Sent, now()).unwrap(),
        "done once"
    );
}

fn a_retry_waits_and_keeps_its_error_short(db: &TestDb) {
    let mut conn = db.migrated();
    let u = add_user(&mut conn, "u", Some("u@example.com"));
    let t0 = now();
    outbox::enqueue(&mut conn, &[u.id], MailKind::PasswordReset, t0).unwrap();
    let row = outbox::claim(&mut conn, "s", t0, LEASE).unwrap().unwrap();
    let later = t0 + Duration::seconds(8);
    assert!(outbox::retry(&mut conn, row.id, "s", later, &"é".repeat(500)).unwrap());
    let row = outbox::find(&mut conn, row.id).unwrap().unwrap();
    assert_eq!(row.available_at, later);
    assert_eq!(
        row.last_error.unwrap().chars().count(),
        outbox::MAX_ERROR_CHARS
    );
    assert!(row.claimed_by.is_none() && row.done_at.is_none());
    assert!(
        outbox::claim(&mut conn, "s", later - Duration::seconds(1), LEASE)
            .unwrap()
            .is_none()
    );
    assert!(outbox::claim(&mut conn, "s", later, LEASE)
        .unwrap()
        .is_some());
}

fn handle_next_rolls_back_with_its_handler(db: &TestDb) {
    let mut conn = db.migrated();
    let u = add_user(&mut conn, "u", Some("u@example.com"));
    outbox::enqueue(&mut conn, &[u.id], MailKind::PasswordReset, now()).unwrap();
    let failed: Result<Option<()>, QueryError> =
        outbox::handle_next(&mut conn, "s", now(), LEASE, |_, _| {
            Err(QueryError::RollbackTransaction)
        });
    assert!(failed.is_err());
    let row = &outbox::all(&mut conn).unwrap()[0];
    match db.backend() {
        // the claim was part of the transaction: the row is due again at once
        domain::Backend::Postgres => {
            assert_eq!((row.attempts, row.claimed_by.as_deref()), (0, None))
        }
        // the lease was committed on its own: due again after it
        domain::Backend::Sqlite => {
            assert_eq!((row.attempts, row.claimed_by.as_deref()), (1, Some("s")))
        }
    }
    let handled = outbox::handle_next(
        &mut conn,
        "s2",
        now() + LEASE + Duration::seconds(1),
        LEASE,
        |c, row| outbox::finish(c, row.id, "s2", Outcome::Sent, now()),
    )
    .unwrap();
    assert_eq!(handled, Some(true));
    assert_eq!(outbox::pending_count(&mut conn).unwrap(), 0);
    assert_eq!(
        outbox::handle_next(&mut conn, "s2", now(), LEASE, |_, _| Ok(())).unwrap(),
        None
    );
}

fn done_rows_are_deleted_after_a_while(db: &TestDb) {
    let mut conn = db.migrated();
    let t0 = now();
    outbox::enqueue(&mut conn, &[], MailKind::PasswordReset, t0).unwrap();
    assert_eq!(outbox::delete_done_before(&mut conn, t0).unwrap(), 0);
    assert_eq!(
        outbox::delete_done_before(&mut conn, t0 + Duration::seconds(1)).unwrap(),
        1
    );
}

fn users_are_found_by_address_in_any_case_active_only(db: &TestDb) {
    let mut conn = db.migrated();
    let a = add_user(&mut conn, "a", Some("Mixed.Case@Example.com"));
    let b = add_user(&mut conn, "b", Some("mixed.case@example.com"));
    let c = add_user(&mut conn, "c", Some("mixed.case@example.com"));
    add_user(&mut conn, "d", None);
    User::set_flags(
        &mut conn,
        c.id,
        UserFlags {
            is_active: Some(false),
            is_admin: None,
        },
    )
    .unwrap();
    let found: Vec<UserId> = User::find_active_by_email(&mut conn, "MIXED.case@example.COM")
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(found, [a.id, b.id]);
    assert!(User::find_active_by_email(&mut conn, "other@example.com")
        .unwrap()
        .is_empty());
}

fn an_address_is_verified_only_while_it_is_the_users(db: &TestDb) {
    let mut conn = db.migrated();
    let u = add_user(&mut conn, "u", Some("u@example.com"));
    assert!(!u.email_verified, "new users are unverified");
    assert!(!User::set_email_verified(&mut conn, u.id, "old@example.com").unwrap());
    assert!(User::set_email_verified(&mut conn, u.id, "u@example.com").unwrap());
    assert!(User::find(&mut conn, u.id).unwrap().unwrap().email_verified);
    let locked = write_transaction(&mut conn, |c| User::find_for_update(c, u.id)).unwrap();
    assert_eq!(locked.map(|l| l.id), Some(u.id));
}

/// A taken username inside a caller's transaction leaves that transaction
/// usable (PostgreSQL aborts it at a failed statement otherwise), for the
/// resend lookup and for what the caller writes next.
fn register_in_a_transaction_tells_new_from_resent(db: &TestDb) {
    let mut conn = db.migrated();
    let at = now();
    let new = NewUser {
        username: "r",
        email: Some("r@example.com"),
        password_hash: "x",
        is_active: true,
        is_admin: false,
        date_joined: at,
        password_changed_at: at,
    };
    let first = write_transaction(&mut conn, |c| {
        let r = User::register(c, &new, Some("req-1"), Duration::seconds(30))?;
        if let Registered::Created(u) = &r {
            outbox::enqueue(c, &[u.id], MailKind::EmailVerification, at)?;
        }
        Ok::<_, domain::CreateUserError>(r)
    })
    .unwrap();
    assert!(matches!(first, Registered::Created(_)));
    let again = write_transaction(&mut conn, |c| {
        let r = User::register(c, &new, Some("req-1"), Duration::seconds(30))?;
        assert!(matches!(r, Registered::Resent(_)));
        // the transaction still works after the failed insert
        outbox::pending_count(c)?;
        Ok::<_, domain::CreateUserError>(r)
    })
    .unwrap();
    assert_eq!(again.into_user().id, first.into_user().id);
    let taken = write_transaction(&mut conn, |c| {
        User::register(c, &new, Some("req-2"), Duration::seconds(30))
    });
    assert!(matches!(taken, Err(domain::CreateUserError::UsernameTaken)));
    assert_eq!(
        outbox::pending_count(&mut conn).unwrap(),
        1,
        "one verification mail"
    );
}

backend_tests!(
    enqueue_writes_a_row_per_user_and_a_done_row_for_nobody,
    claims_lease_the_oldest_due_row,
    a_retry_waits_and_keeps_its_error_short,
    handle_next_rolls_back_with_its_handler,
    done_rows_are_deleted_after_a_while,
    users_are_found_by_address_in_any_case_active_only,
    an_address_is_verified_only_while_it_is_the_users,
    register_in_a_transaction_tells_new_from_resent,
);

/// PostgreSQL: while one sender holds a row (its transaction open, as during
/// an SMTP send), another skips it and takes the next; when the first dies
/// (its transaction never commits), the row is free at once.
#[test]
fn postgres_senders_skip_each_others_rows_and_a_dead_ones_row_is_free_at_once() {
    let db = TestDb::postgres();
    let mut conn = db.migrated();
    let u = add_user(&mut conn, "u", Some("u@example.com"));
    let t0 = now();
    outbox::enqueue(&mut conn, &[u.id], MailKind::PasswordReset, t0).unwrap();
    outbox::enqueue(&mut conn, &[u.id], MailKind::EmailVerification, t0).unwrap();
    let (holding_tx, holding) = mpsc::channel();
    let (release_tx, release) = mpsc::channel::<bool>();
    let url = db.url().clone();
    let first = std::thread::spawn(move || {
        let mut conn = url.connect().unwrap();
        outbox::handle_next(&mut conn, "a", now(), LEASE, |c, row| {
            holding_tx.send(row.id).unwrap();
            if release.recv().unwrap() {
                outbox::finish(c, row.id, "a", Outcome::Sent, now()).map(drop)
            } else {
                Err(QueryError::RollbackTransaction) // dies before recording
            }
        })
    });
    let held = holding.recv().unwrap();
    let other = outbox::claim(&mut conn, "b", now(), LEASE)
        .unwrap()
        .unwrap();
    assert_ne!(other.id, held, "the locked row is skipped");
    assert!(outbox::claim(&mut conn, "b", now(), LEASE)
        .unwrap()
        .is_none());
    release_tx.send(false).unwrap();
    assert!(first.join().unwrap().is_err());
    let taken = outbox::claim(&mut conn, "b", now(), LEASE)
        .unwrap()
        .unwrap();
    assert_eq!(
        (taken.id, taken.attempts),
        (held, 1),
        "free at once, the dead claim undone"
    );
}
