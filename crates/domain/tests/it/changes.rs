//! The announcements the session caches rely on (`domain::changes`): every
//! write that ends a session or changes what a user-loading route shows is
//! announced by the query itself, and on PostgreSQL its notification is
//! delivered only when its transaction commits.

use std::time::{Duration, Instant};

use chrono::Duration as TimeDelta;
use domain::changes::take_announced;
use domain::{
    write_transaction, Backend, Change, Notice, QueryError, RevokeReason, Session, SessionId,
    Subscription, User, UserFlags, UserId,
};
use test_support::users::{add_user, now_db, open_session};
use test_support::{backend_tests, TestDb};

fn every_write_a_cache_holds_is_announced(db: &TestDb) {
    let mut conn = db.migrated();
    let user = add_user(&mut conn, "alice");
    let session = open_session(&mut conn, user.id, TimeDelta::days(1));
    take_announced();
    let me = || vec![Change::User(user.id)];

    assert!(Session::revoke(&mut conn, &session.id, now_db(), RevokeReason::Logout).unwrap());
    assert_eq!(take_announced(), vec![Change::Session(session.id.clone())]);
    // nothing changed, nothing to forget
    Session::revoke(&mut conn, &session.id, now_db(), RevokeReason::Logout).unwrap();
    assert_eq!(take_announced(), vec![]);

    open_session(&mut conn, user.id, TimeDelta::days(1));
    Session::revoke_all_for_user(&mut conn, user.id, now_db(), RevokeReason::LogoutAll).unwrap();
    assert_eq!(take_announced(), me());
    Session::revoke_all_for_user(&mut conn, user.id, now_db(), RevokeReason::LogoutAll).unwrap();
    assert_eq!(take_announced(), vec![]);

    User::set_password_hash(&mut conn, user.id, "$2b$04$x", now_db()).unwrap();
    assert_eq!(take_announced(), me());
    let flags = UserFlags {
        is_admin: Some(true),
        ..UserFlags::default()
    };
    User::set_flags(&mut conn, user.id, flags).unwrap();
    assert_eq!(take_announced(), me());
    User::set_flags(&mut conn, UserId(user.id.0 + 1000), flags).unwrap();
    assert_eq!(take_announced(), vec![]);
    User::record_login(&mut conn, user.id, now_db()).unwrap();
    assert_eq!(take_announced(), me());
    let email = user.email.clone().unwrap();
    assert!(User::set_email_verified(&mut conn, user.id, &email).unwrap());
    assert_eq!(take_announced(), me());
}

backend_tests!(every_write_a_cache_holds_is_announced);

/// Whether a notice naming `session` arrives within `wait`. The channel is
/// shared by every test of the cluster: others' notices are skipped.
fn arrives(sub: &mut Subscription, session: &SessionId, wait: Duration) -> bool {
    let until = Instant::now() + wait;
    loop {
        let wanted = Notice::Change(Change::Session(session.clone()));
        if sub.poll().unwrap().contains(&wanted) {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_notification_is_delivered_on_commit_and_never_on_rollback() {
    let db = TestDb::postgres();
    assert_eq!(db.backend(), Backend::Postgres);
    let mut conn = db.migrated();
    let mut sub = Subscription::open(&db.url_string(), "domain-test").unwrap();
    let user = add_user(&mut conn, "alice");

    let committed = open_session(&mut conn, user.id, TimeDelta::days(1));
    write_transaction(&mut conn, |c| {
        Session::revoke(c, &committed.id, now_db(), RevokeReason::Logout)?;
        assert!(
            !arrives(&mut sub, &committed.id, Duration::from_millis(200)),
            "delivered before the commit"
        );
        Ok::<_, QueryError>(())
    })
    .unwrap();
    assert!(arrives(&mut sub, &committed.id, Duration::from_secs(10)));

    let rolled_back = open_session(&mut conn, user.id, TimeDelta::days(1));
    let _ = write_transaction(&mut conn, |c| {
        Session::revoke(c, &rolled_back.id, now_db(), RevokeReason::Logout)?;
        Err::<(), _>(QueryError::RollbackTransaction)
    });
    assert!(!arrives(
        &mut sub,
        &rolled_back.id,
        Duration::from_millis(500)
    ));
    take_announced();
}
