//! Every domain query, against a real SQLite file and a real PostgreSQL schema,
//! with the same test body per backend.

use chrono::Duration;
use domain::login_failures::{self, FailureScope};
use domain::{
    write_transaction, CreateUserError, DbConnection, RefreshToken, RevokeReason, Session,
    SessionId, TokenId, User, UserFlags, UserId,
};
use test_support::users::{add_user, new_user, now_db, open_session};
use test_support::{backend_tests, TestDb};

fn token_record(session: &Session, lifetime: Duration) -> RefreshToken {
    let at = now_db();
    RefreshToken {
        jti: TokenId::random(),
        session_id: session.id.clone(),
        issued_at: at,
        expires_at: at + lifetime,
        used_at: None,
        replaced_by: None,
        retired_by_request: None,
    }
}

fn users_are_created_and_found(db: &TestDb) {
    let mut conn = db.migrated();
    let alice = add_user(&mut conn, "alice");
    assert!(alice.id.0 > 0);
    assert!(alice.is_active && !alice.is_admin);
    assert_eq!(alice.last_login, None);
    assert_eq!(
        User::find(&mut conn, alice.id).unwrap().as_ref(),
        Some(&alice)
    );
    assert_eq!(
        User::find_by_username(&mut conn, "alice").unwrap().as_ref(),
        Some(&alice)
    );
    assert_eq!(User::find_by_username(&mut conn, "nobody").unwrap(), None);
    assert_eq!(
        User::find(&mut conn, UserId(alice.id.0 + 1000)).unwrap(),
        None
    );
}

fn timestamps_read_back_as_written(db: &TestDb) {
    let mut conn = db.migrated();
    let alice = add_user(&mut conn, "alice");
    let stored = User::find(&mut conn, alice.id).unwrap().unwrap();
    assert_eq!(stored.date_joined, alice.date_joined);
    let at = now_db();
    User::record_login(&mut conn, alice.id, at).unwrap();
    assert_eq!(
        User::find(&mut conn, alice.id).unwrap().unwrap().last_login,
        Some(at)
    );
}

fn usernames_are_unique_and_case_sensitive(db: &TestDb) {
    let mut conn = db.migrated();
    add_user(&mut conn, "alice");
    let again = User::create(&mut conn, &new_user("alice", now_db()));
    assert!(
        matches!(again, Err(CreateUserError::UsernameTaken)),
        "{again:?}"
    );
    let upper = add_user(&mut conn, "Alice");
    assert_eq!(
        User::find_by_username(&mut conn, "Alice")
            .unwrap()
            .unwrap()
            .id,
        upper.id
    );
}

/// A registration the proxy resends (same request id, same username, within
/// the window) gets the user it made; anything else finds the name taken.
fn a_resent_registration_gets_the_user_it_made(db: &TestDb) {
    let mut conn = db.migrated();
    let window = Duration::seconds(30);
    let at = now_db();
    let register = |conn: &mut DbConnection, username, request, at| {
        User::create_for_request(conn, &new_user(username, at), request, window).map(|u| u.id)
    };
    let alice = register(&mut conn, "alice", Some("rid-1"), at).unwrap();
    register(&mut conn, "bob", None, at).unwrap();

    let resent = register(
        &mut conn,
        "alice",
        Some("rid-1"),
        at + Duration::seconds(29),
    );
    assert_eq!(resent.unwrap(), alice, "the same request, resent");
    for (why, username, request, later) in [
        ("another request", "alice", Some("rid-2"), 1),
        ("no request id", "alice", None, 1),
        ("after the window", "alice", Some("rid-1"), 30),
        ("registered without an id", "bob", Some("rid-1"), 1),
    ] {
        let again = register(&mut conn, username, request, at + Duration::seconds(later));
        assert!(
            matches!(again, Err(CreateUserError::UsernameTaken)),
            "{why}: {again:?}"
        );
    }
    let (count, _) = User::page(&mut conn, 10, 0).unwrap();
    assert_eq!(count, 2, "nothing added by a resend");
}

fn pages_are_ordered_by_id_with_a_total(db: &TestDb) {
    let mut conn = db.migrated();
    let ids: Vec<UserId> = (0..7)
        .map(|i| add_user(&mut conn, &format!("u{i}")).id)
        .collect();
    let (count, page) = User::page(&mut conn, 3, 2).unwrap();
    assert_eq!(count, 7);
    assert_eq!(page.iter().map(|u| u.id).collect::<Vec<_>>(), ids[2..5]);
    let (_, tail) = User::page(&mut conn, 50, 6).unwrap();
    assert_eq!(tail.len(), 1);
    let (_, past_end) = User::page(&mut conn, 50, 100).unwrap();
    assert!(past_end.is_empty());
}

fn password_and_flags_are_updated(db: &TestDb) {
    let mut conn = db.migrated();
    let alice = add_user(&mut conn, "alice");
    let later = alice.password_changed_at + Duration::seconds(5);
    assert!(User::set_password_hash(&mut conn, alice.id, "new-hash", later).unwrap());
    let stored = User::find(&mut conn, alice.id).unwrap().unwrap();
    assert_eq!(stored.password_hash, "new-hash");
    assert_eq!(stored.password_changed_at, later);
    assert!(!User::set_password_hash(&mut conn, UserId(9999), "h", later).unwrap());

    let updated = User::set_flags(
        &mut conn,
        alice.id,
        UserFlags {
            is_active: Some(false),
            is_admin: None,
        },
    )
    .unwrap()
    .unwrap();
    assert!(!updated.is_active && !updated.is_admin);
    let updated = User::set_flags(
        &mut conn,
        alice.id,
        UserFlags {
            is_active: None,
            is_admin: Some(true),
        },
    )
    .unwrap()
    .unwrap();
    assert!(!updated.is_active && updated.is_admin);
    let unchanged = User::set_flags(&mut conn, alice.id, UserFlags::default())
        .unwrap()
        .unwrap();
    assert_eq!(unchanged, updated);
    assert_eq!(
        User::set_flags(
            &mut conn,
            UserId(9999),
            UserFlags {
                is_active: Some(true),
                is_admin: None
            }
        )
        .unwrap(),
        None
    );
}

fn sessions_open_and_revoke(db: &TestDb) {
    let mut conn = db.migrated();
    let alice = add_user(&mut conn, "alice");
    let bob = add_user(&mut conn, "bob");
    let s1 = open_session(&mut conn, alice.id, Duration::days(30));
    let s2 = open_session(&mut conn, alice.id, Duration::days(30));
    let s3 = open_session(&mut conn, bob.id, Duration::days(30));
    assert_eq!(
        Session::find(&mut conn, &s1.id).unwrap().as_ref(),
        Some(&s1)
    );
    let (session, user) = Session::find_with_user(&mut conn, &s1.id).unwrap().unwrap();
    assert_eq!((session, user.id), (s1.clone(), alice.id));
    assert_eq!(
        Session::find_with_user(&mut conn, &SessionId::random()).unwrap(),
        None
    );

    let at = now_db();
    assert!(Session::revoke(&mut conn, &s1.id, at, RevokeReason::Logout).unwrap());
    assert!(
        !Session::revoke(&mut conn, &s1.id, at, RevokeReason::Logout).unwrap(),
        "second revoke is a no-op"
    );
    let revoked = Session::find(&mut conn, &s1.id).unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(at));
    assert_eq!(revoked.revoked_reason.as_deref(), Some("logout"));
    assert!(!revoked.is_live(at));

    // only alice's still-live families, not bob's
    assert_eq!(
        Session::revoke_all_for_user(&mut conn, alice.id, at, RevokeReason::LogoutAll).unwrap(),
        1
    );
    assert!(Session::find(&mut conn, &s2.id)
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    assert!(Session::find(&mut conn, &s3.id)
        .unwrap()
        .unwrap()
        .is_live(at));
}

fn refresh_tokens_retire_once(db: &TestDb) {
    let mut conn = db.migrated();
    let alice = add_user(&mut conn, "alice");
    let session = open_session(&mut conn, alice.id, Duration::days(30));
    let first = token_record(&session, Duration::days(1));
    RefreshToken::record(&mut conn, &first).unwrap();
    assert_eq!(
        RefreshToken::find(&mut conn, &first.jti).unwrap().as_ref(),
        Some(&first)
    );

    let second = TokenId::random();
    let at = now_db();
    assert!(
        RefreshToken::retire(&mut conn, &first.jti, at, at, Some(&second), Some("rid-1")).unwrap()
    );
    assert!(!RefreshToken::retire(
        &mut conn,
        &first.jti,
        at,
        at,
        Some(&TokenId::random()),
        Some("rid-2")
    )
    .unwrap());
    let retired = RefreshToken::find(&mut conn, &first.jti).unwrap().unwrap();
    assert_eq!(retired.used_at, Some(at));
    assert_eq!(retired.replaced_by, Some(second));
    assert_eq!(retired.retired_by_request.as_deref(), Some("rid-1"));

    // an expired record is never retired (and so never rotated)
    let old = RefreshToken {
        expires_at: at - Duration::seconds(1),
        ..token_record(&session, Duration::days(1))
    };
    RefreshToken::record(&mut conn, &old).unwrap();
    assert!(!RefreshToken::retire(&mut conn, &old.jti, at, at, None, None).unwrap());
    assert!(!RefreshToken::retire(&mut conn, &TokenId::random(), at, at, None, None).unwrap());
}

fn expired_records_are_flushed(db: &TestDb) {
    let mut conn = db.migrated();
    let alice = add_user(&mut conn, "alice");
    let short = open_session(&mut conn, alice.id, Duration::seconds(1));
    let long = open_session(&mut conn, alice.id, Duration::days(30));
    let in_short = token_record(&short, Duration::seconds(1));
    let expired_in_long = token_record(&long, Duration::seconds(1));
    let live_in_long = token_record(&long, Duration::days(1));
    for t in [&in_short, &expired_in_long, &live_in_long] {
        RefreshToken::record(&mut conn, t).unwrap();
    }
    let later = now_db() + Duration::seconds(2);
    assert_eq!(RefreshToken::delete_expired(&mut conn, later).unwrap(), 2);
    assert_eq!(Session::delete_expired(&mut conn, later).unwrap(), 1);
    assert_eq!(Session::find(&mut conn, &short.id).unwrap(), None);
    assert!(Session::find(&mut conn, &long.id).unwrap().is_some());
    assert!(RefreshToken::find(&mut conn, &live_in_long.jti)
        .unwrap()
        .is_some());
}

fn deleting_a_session_deletes_its_tokens(db: &TestDb) {
    let mut conn = db.migrated();
    let alice = add_user(&mut conn, "alice");
    let short = open_session(&mut conn, alice.id, Duration::seconds(1));
    let record = token_record(&short, Duration::days(1));
    RefreshToken::record(&mut conn, &record).unwrap();
    assert_eq!(
        Session::delete_expired(&mut conn, now_db() + Duration::seconds(2)).unwrap(),
        1
    );
    assert_eq!(
        RefreshToken::find(&mut conn, &record.jti).unwrap(),
        None,
        "ON DELETE CASCADE"
    );
}

fn login_failures_count_in_fixed_windows(db: &TestDb) {
    let mut conn = db.migrated();
    let window = Duration::minutes(15);
    let t0 = now_db();
    assert_eq!(
        login_failures::current_window(&mut conn, FailureScope::Username, "alice", t0, window)
            .unwrap(),
        None
    );
    for i in 0..3 {
        login_failures::record_failure(
            &mut conn,
            FailureScope::Username,
            "alice",
            t0 + Duration::seconds(i),
            window,
        )
        .unwrap();
    }
    login_failures::record_failure(&mut conn, FailureScope::Address, "alice", t0, window).unwrap();
    let w = login_failures::current_window(
        &mut conn,
        FailureScope::Username,
        "alice",
        t0 + Duration::minutes(1),
        window,
    )
    .unwrap()
    .unwrap();
    assert_eq!((w.started_at, w.failures), (t0, 3));
    let other =
        login_failures::current_window(&mut conn, FailureScope::Address, "alice", t0, window)
            .unwrap()
            .unwrap();
    assert_eq!(other.failures, 1, "scopes are counted apart");

    // the window has passed: no live window, and the next failure starts a new one
    let later = t0 + window + Duration::seconds(1);
    assert_eq!(
        login_failures::current_window(&mut conn, FailureScope::Username, "alice", later, window)
            .unwrap(),
        None
    );
    login_failures::record_failure(&mut conn, FailureScope::Username, "alice", later, window)
        .unwrap();
    let w =
        login_failures::current_window(&mut conn, FailureScope::Username, "alice", later, window)
            .unwrap()
            .unwrap();
    assert_eq!((w.started_at, w.failures), (later, 1));

    assert_eq!(
        login_failures::delete_expired(&mut conn, later, window).unwrap(),
        1,
        "only the stale address window"
    );
}

fn write_transactions_roll_back_on_error(db: &TestDb) {
    let mut conn = db.migrated();
    let result: Result<(), domain::QueryError> = write_transaction(&mut conn, |conn| {
        add_user(conn, "ghost");
        Err(domain::QueryError::RollbackTransaction)
    });
    assert!(result.is_err());
    assert_eq!(User::find_by_username(&mut conn, "ghost").unwrap(), None);
    let kept: Result<User, domain::QueryError> =
        write_transaction(&mut conn, |conn| Ok(add_user(conn, "kept")));
    assert!(kept.is_ok());
    assert!(User::find_by_username(&mut conn, "kept").unwrap().is_some());
}

backend_tests!(
    users_are_created_and_found,
    timestamps_read_back_as_written,
    usernames_are_unique_and_case_sensitive,
    a_resent_registration_gets_the_user_it_made,
    pages_are_ordered_by_id_with_a_total,
    password_and_flags_are_updated,
    sessions_open_and_revoke,
    refresh_tokens_retire_once,
    expired_records_are_flushed,
    deleting_a_session_deletes_its_tokens,
    login_failures_count_in_fixed_windows,
    write_transactions_roll_back_on_error,
);
