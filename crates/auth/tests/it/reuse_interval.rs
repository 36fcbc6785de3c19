//! The refresh reuse interval and the session records of the sessions list,
//! over a real database, on SQLite and on PostgreSQL. `now` is moved forward
//! instead of sleeping.

use auth::{Algorithm, Authority, LoginClient, TokenCodec, TokenError, TokenSettings};
use chrono::{Duration, Utc};
use domain::time::to_db;
use domain::{RevokeReason, Session, SessionId};
use test_support::codecs::{authority, keys, read_claims, ALL_ALGORITHMS};
use test_support::users::add_user;
use test_support::{backend_tests, TestDb};

fn with_interval(alg: Algorithm, seconds: i64) -> Authority {
    let settings = TokenSettings {
        algorithm: alg,
        refresh_reuse_interval: Duration::seconds(seconds),
        ..TokenSettings::default()
    };
    Authority::new(TokenCodec::new(keys(alg), &settings), settings)
}

fn the_successor_is_minted_again_identically(db: &TestDb) {
    let mut conn = db.migrated();
    for (i, alg) in ALL_ALGORITHMS.into_iter().enumerate() {
        let authority = with_interval(alg, 10);
        let user = add_user(&mut conn, &format!("user{i}"));
        let now = Utc::now();
        let r0 = authority
            .login(&mut conn, &user, now)
            .unwrap()
            .refresh
            .unwrap();
        let r1 = authority
            .refresh(&mut conn, &r0, now)
            .unwrap()
            .refresh
            .unwrap();
        let later = now + Duration::seconds(9);
        let again = authority.refresh(&mut conn, &r0, later).unwrap();
        let r1b = again.refresh.unwrap();
        if alg == Algorithm::ES256 {
            // ECDSA signatures are randomized: the same claims, a new signature
            let (a, b) = (read_claims_any(&r1), read_claims_any(&r1b));
            assert_eq!(a, b, "{alg:?}");
        } else {
            assert_eq!(r1b, r1, "{alg:?}: the same token, byte for byte");
        }
        // the interval has passed: reuse, and the family is revoked
        let at_end = now + Duration::seconds(10);
        assert!(matches!(
            authority.refresh(&mut conn, &r0, at_end),
            Err(TokenError::Reused)
        ));
        let sid = SessionId(read_claims_any(&r1)["sid"].as_str().unwrap().to_owned());
        let session = Session::find(&mut conn, &sid).unwrap().unwrap();
        assert_eq!(session.revoked_reason.as_deref(), Some("reuse_detected"));
    }
}

fn read_claims_any(token: &str) -> serde_json::Value {
    test_support::jwt::claims(token)
}

fn login_records_the_client_and_refreshes_are_noted(db: &TestDb) {
    let mut conn = db.migrated();
    let authority = authority(TokenSettings::default());
    let user = add_user(&mut conn, "alice");
    let now = Utc::now();
    let client = LoginClient {
        user_agent: Some(format!("{}tail", "ü".repeat(256))),
        ip: Some("192.0.2.1".to_owned()),
    };
    let pair = authority
        .login_from(&mut conn, &user, &client, now)
        .unwrap();
    let sid = SessionId(read_claims(pair.refresh.as_deref().unwrap()).sid);
    let session = Session::find(&mut conn, &sid).unwrap().unwrap();
    assert_eq!(session.user_agent, Some("ü".repeat(256)));
    assert_eq!(session.ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(session.last_refreshed_at, None);
    let later = now + Duration::seconds(3);
    authority
        .refresh(&mut conn, pair.refresh.as_deref().unwrap(), later)
        .unwrap();
    let session = Session::find(&mut conn, &sid).unwrap().unwrap();
    assert_eq!(session.last_refreshed_at, Some(to_db(later)));
    let listed = Session::live_for_user(&mut conn, user.id, to_db(later)).unwrap();
    assert_eq!(listed, [session]);

    // ending it: only its owner's, only while live
    let bob = add_user(&mut conn, "bob");
    let ended = |conn: &mut _, who| {
        authority
            .end_session(conn, who, &sid, RevokeReason::EndedByUser, later)
            .unwrap()
    };
    assert!(!ended(&mut conn, bob.id), "not bob's");
    assert!(ended(&mut conn, user.id));
    let session = Session::find(&mut conn, &sid).unwrap().unwrap();
    // idempotent: ended already is still theirs, and keeps its first reason
    assert!(ended(&mut conn, user.id), "ended already");
    assert!(!ended(&mut conn, bob.id), "still not bob's");
    assert_eq!(Session::find(&mut conn, &sid).unwrap().unwrap(), session);
    assert_eq!(session.revoked_reason.as_deref(), Some("ended_by_user"));
    assert!(Session::live_for_user(&mut conn, user.id, to_db(later))
        .unwrap()
        .is_empty());
}

backend_tests!(
    the_successor_is_minted_again_identically,
    login_records_the_client_and_refreshes_are_noted,
);
