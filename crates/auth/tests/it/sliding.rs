//! Sliding tokens (docs/API.md, "Sliding tokens") below HTTP, each body on
//! SQLite and on PostgreSQL. The database rules take `now` from the caller,
//! so the tests move it to the edges of `refresh_exp` instead of sleeping;
//! the codec checks `exp` against the wall clock, so every token used stays
//! within its wall-clock lifetime.

use auth::{
    Authority, SlidingMode, SlidingSettings, TokenError, TokenSettings, TokenType, VerifyError,
};
use chrono::{DateTime, Duration, Utc};
use domain::{Session, SessionId, User, UserFlags};
use test_support::codecs::{authority, read_claims};
use test_support::users::add_user;
use test_support::{backend_tests, TestDb};

fn sliding(mode: SlidingMode) -> Authority {
    authority(TokenSettings {
        sliding: SlidingSettings {
            mode,
            lifetime: Duration::minutes(5),
            refresh_lifetime: Duration::hours(1),
        },
        ..TokenSettings::default()
    })
}

/// Now, in whole seconds: the instant `iat` and `refresh_exp` count from.
fn whole_now() -> DateTime<Utc> {
    DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("a valid time")
}

fn login(a: &Authority, db: &TestDb, user: &User, at: DateTime<Utc>) -> String {
    a.login_sliding(&mut db.connect(), user, &auth::LoginClient::default(), at)
        .expect("a sliding login")
}

fn refresh_keeps_its_identity_until_refresh_exp(db: &TestDb) {
    let mut conn = db.migrated();
    let a = sliding(SlidingMode::On);
    let alice = add_user(&mut conn, "alice");
    let t0 = whole_now();
    let first = login(&a, db, &alice, t0);
    let c = read_claims(&first);
    assert_eq!(c.token_type, TokenType::Sliding);
    assert_eq!(c.iat, t0.timestamp());
    assert_eq!(c.exp, (t0 + Duration::minutes(5)).timestamp());
    assert_eq!(c.refresh_exp, Some((t0 + Duration::hours(1)).timestamp()));
    assert_eq!(c.username.as_deref(), Some("alice"));
    assert_eq!(c.admin, Some(false));
    let session = Session::find(&mut conn, &SessionId(c.sid.clone()))
        .unwrap()
        .expect("a session per login");
    assert_eq!(session.user_id, alice.id);
    assert_eq!(
        domain::time::from_db(session.expires_at),
        t0 + Duration::hours(1),
        "the session ends at refresh_exp"
    );

    let later = t0 + Duration::minutes(2);
    let second = a.refresh_sliding(&mut conn, &first, later).unwrap();
    let n = read_claims(&second);
    assert_eq!(
        (&n.jti, n.refresh_exp, &n.sid),
        (&c.jti, c.refresh_exp, &c.sid)
    );
    assert_eq!(n.iat, later.timestamp());
    assert_eq!(n.exp, (later + Duration::minutes(5)).timestamp());

    // The last second before refresh_exp: refreshed, exp capped at it.
    let last = t0 + Duration::hours(1) - Duration::seconds(1);
    let capped = a.refresh_sliding(&mut conn, &second, last).unwrap();
    assert_eq!(read_claims(&capped).exp, c.refresh_exp.unwrap());
    // refresh_exp itself: refused, whatever copy is presented.
    let end = t0 + Duration::hours(1);
    for token in [&first, &second, &capped] {
        assert!(matches!(
            a.refresh_sliding(&mut conn, token, end),
            Err(TokenError::RefreshExpired)
        ));
    }
}

fn flush_keeps_a_sliding_session_until_refresh_exp(db: &TestDb) {
    let mut conn = db.migrated();
    let a = sliding(SlidingMode::On);
    let alice = add_user(&mut conn, "alice");
    let t0 = whole_now();
    let token = login(&a, db, &alice, t0);
    let sid = SessionId(read_claims(&token).sid);
    let end = t0 + Duration::hours(1);
    auth::flush_expired(&mut conn, a.settings(), end - Duration::seconds(1)).unwrap();
    assert!(Session::find(&mut conn, &sid).unwrap().is_some());
    let flushed = auth::flush_expired(&mut conn, a.settings(), end).unwrap();
    assert_eq!(flushed.sessions, 1);
    assert!(Session::find(&mut conn, &sid).unwrap().is_none());
}

fn sliding_tokens_are_bearer_tokens_while_on(db: &TestDb) {
    let mut conn = db.migrated();
    let alice = add_user(&mut conn, "alice");
    let on = sliding(SlidingMode::On);
    let token = login(&on, db, &alice, whole_now());
    let claims = on.decode_bearer(&token).expect("a Bearer token");
    assert_eq!(
        on.authenticate(&mut conn, &claims, Utc::now()).unwrap().id,
        alice.id
    );
    assert_eq!(
        on.decode_any(&token).map(|c| c.token_type),
        Ok(TokenType::Sliding)
    );
    let pair = on.login(&mut conn, &alice, Utc::now()).unwrap();
    assert!(on.decode_bearer(&pair.access).is_ok());
    assert_eq!(
        on.decode_bearer(pair.refresh.as_deref().unwrap()),
        Err(VerifyError::WrongType)
    );
    assert!(matches!(
        on.refresh_sliding(&mut conn, pair.refresh.as_deref().unwrap(), Utc::now()),
        Err(TokenError::Invalid(VerifyError::WrongType))
    ));
    assert!(matches!(
        on.refresh(&mut conn, token.as_str(), Utc::now()),
        Err(TokenError::Invalid(VerifyError::WrongType))
    ));

    // Off: the same token, same key, is refused everywhere.
    let off = sliding(SlidingMode::Off);
    assert_eq!(off.decode_bearer(&token), Err(VerifyError::WrongType));
    assert_eq!(off.decode_any(&token), Err(VerifyError::WrongType));
    assert!(matches!(
        off.refresh_sliding(&mut conn, &token, Utc::now()),
        Err(TokenError::Invalid(VerifyError::WrongType))
    ));
    assert!(matches!(
        off.blacklist_sliding(&mut conn, &token, Utc::now()),
        Err(TokenError::Invalid(VerifyError::WrongType))
    ));
}

fn every_revocation_ends_sliding_sessions(db: &TestDb) {
    let mut conn = db.migrated();
    let a = sliding(SlidingMode::Only);
    let alice = add_user(&mut conn, "alice");
    let t0 = whole_now();
    let refused = |conn: &mut _, token: &str| {
        let claims = a.decode_bearer(token).unwrap();
        assert!(a.authenticate(conn, &claims, t0).is_err(), "Bearer refused");
        assert!(
            a.refresh_sliding(conn, token, t0).is_err(),
            "refresh refused"
        );
    };

    // blacklist: every copy, and a second blacklist is refused
    let token = login(&a, db, &alice, t0);
    let copy = a.refresh_sliding(&mut conn, &token, t0).unwrap();
    let other = login(&a, db, &alice, t0);
    a.blacklist_sliding(&mut conn, &copy, t0).unwrap();
    refused(&mut conn, &token);
    refused(&mut conn, &copy);
    assert!(matches!(
        a.blacklist_sliding(&mut conn, &token, t0),
        Err(TokenError::Revoked)
    ));
    assert!(
        a.refresh_sliding(&mut conn, &other, t0).is_ok(),
        "another session"
    );

    // global logout
    a.logout_all(&mut conn, alice.id, t0).unwrap();
    refused(&mut conn, &other);

    // password change
    let token = login(&a, db, &alice, t0);
    a.change_password(&mut conn, alice.id, "another hash", t0)
        .unwrap();
    refused(&mut conn, &token);

    // deactivation
    let bob = add_user(&mut conn, "bob");
    let token = login(&a, db, &bob, t0);
    let flags = UserFlags {
        is_active: Some(false),
        is_admin: None,
    };
    a.update_flags(&mut conn, bob.id, flags, t0).unwrap();
    refused(&mut conn, &token);
}

backend_tests!(
    refresh_keeps_its_identity_until_refresh_exp,
    flush_keeps_a_sliding_session_until_refresh_exp,
    sliding_tokens_are_bearer_tokens_while_on,
    every_revocation_ends_sliding_sessions,
);
