//! The session rules of the contract ("Refresh semantics"), end to end over a
//! real database, each body run once on SQLite and once on PostgreSQL.
//!
//! Time: the database rules take `now` from the caller, so tests move it
//! forward instead of sleeping. The codec checks `exp` against the wall clock,
//! so every token used stays within its wall-clock lifetime.

use auth::{
    Authority, Claims, Presentation, TokenError, TokenPair, TokenSettings, TokenType, VerifyError,
};
use chrono::{DateTime, Duration, Utc};
use domain::time::{from_db, to_db};
use domain::{DbConnection, RefreshToken, Session, SessionId, TokenId, User, UserFlags};
use serde_json::Value;
use test_support::codecs::{authority, codec, hasher, read_claims};
use test_support::jwt::{b64url, claims, parts};
use test_support::users::{add_user, add_user_at};
use test_support::{backend_tests, TestDb};

fn default_authority() -> Authority {
    authority(TokenSettings::default())
}

fn refresh_of(pair: &TokenPair) -> &str {
    pair.refresh
        .as_deref()
        .expect("a rotating refresh hands out a refresh token")
}

fn session_of(conn: &mut DbConnection, token: &str) -> Session {
    let sid = SessionId(read_claims(token).sid);
    Session::find(conn, &sid)
        .unwrap()
        .expect("the session exists")
}

fn record_of(conn: &mut DbConnection, token: &str) -> RefreshToken {
    let jti = TokenId(read_claims(token).jti);
    RefreshToken::find(conn, &jti)
        .unwrap()
        .expect("the refresh token is recorded")
}

fn assert_revoked(conn: &mut DbConnection, token: &str, reason: &str) {
    let session = session_of(conn, token);
    assert!(
        session.revoked_at.is_some(),
        "the family of the token is revoked"
    );
    assert_eq!(session.revoked_reason.as_deref(), Some(reason));
}

fn assert_live(conn: &mut DbConnection, token: &str) {
    assert_eq!(
        session_of(conn, token).revoked_at,
        None,
        "the family is live"
    );
}

/// What a protected route does with an access token.
fn authenticate(
    authority: &Authority,
    conn: &mut DbConnection,
    access: &str,
    now: DateTime<Utc>,
) -> Result<User, TokenError> {
    let claims: Claims = authority.decode_access(access)?;
    authority.authenticate(conn, &claims, now)
}

/// What `/api/token/verify/` does: any valid token; a refresh token must also
/// be the live one of a live family.
fn verify(
    authority: &Authority,
    conn: &mut DbConnection,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Claims, TokenError> {
    let claims = authority.decode_any(token)?;
    if claims.token_type == TokenType::Refresh {
        authority.check_refresh_live(conn, &claims, now)?;
    }
    Ok(claims)
}

/// Every way a refresh token is used, all refused.
fn assert_refresh_token_dead(
    authority: &Authority,
    conn: &mut DbConnection,
    refresh: &str,
    now: DateTime<Utc>,
) {
    assert!(
        matches!(
            authority.refresh(conn, refresh, now),
            Err(TokenError::Revoked)
        ),
        "refresh"
    );
    assert!(
        matches!(
            authority.blacklist(conn, refresh, now),
            Err(TokenError::Revoked)
        ),
        "blacklist"
    );
    assert!(
        matches!(
            verify(authority, conn, refresh, now),
            Err(TokenError::Revoked)
        ),
        "verify"
    );
}

// --- login ----------------------------------------------------------------------

fn login_opens_a_family_and_records_last_login(db: &TestDb) {
    let mut conn = db.migrated();
    let authority = default_authority();
    let alice = add_user(&mut conn, "alice");
    assert_eq!(alice.last_login, None);
    let t0 = Utc::now();
    let pair = authority.login(&mut conn, &alice, t0).unwrap();

    let stored = User::find(&mut conn, alice.id).unwrap().unwrap();
    assert_eq!(stored.last_login, Some(to_db(t0)));

    let refresh = read_claims(refresh_of(&pair));
    let access = read_claims(&pair.access);
    assert_eq!(access.sid, refresh.sid, "both tokens name the new family");
    assert_eq!(
        pair.access_exp.timestamp(),
        access.exp,
        "the pair says its exp"
    );
    assert_eq!(pair.refresh_exp.map(|e| e.timestamp()), Some(refresh.exp));
    let session = session_of(&mut conn, refresh_of(&pair));
    assert_eq!(session.user_id, alice.id);
    assert_eq!(session.created_at, to_db(t0));
    assert_eq!(
        session.expires_at,
        to_db(t0 + Duration::days(30)),
        "the absolute limit, AUTH_SESSION_LIFETIME"
    );
    assert_eq!(session.revoked_at, None);

    let record = record_of(&mut conn, refresh_of(&pair));
    assert_eq!(record.session_id.0, refresh.sid);
    assert_eq!((record.used_at, record.replaced_by), (None, None));
    assert_eq!(
        from_db(record.expires_at).timestamp(),
        refresh.exp,
        "the record expires with its token"
    );

    // a second login is a second family
    let again = authority.login(&mut conn, &alice, t0).unwrap();
    assert_ne!(read_claims(refresh_of(&again)).sid, refresh.sid);
}

/// The claims of the contract, exactly: no more, no fewer, ids as strings.
fn issued_claims_are_exactly_those_of_the_contract(db: &TestDb) {
    let mut conn = db.migrated();
    let t0 = Utc::now();
    let admin = add_user_at(&mut conn, "root", true, t0);

    for (issuer, audience) in [
        (None, None),
        (Some("https://auth.example"), Some("https://api.example")),
    ] {
        let settings = TokenSettings {
            issuer: issuer.map(str::to_owned),
            audience: audience.map(str::to_owned),
            ..TokenSettings::default()
        };
        let configured: &[&str] = if issuer.is_some() {
            &["aud", "iss"]
        } else {
            &[]
        };
        let pair = authority(settings).login(&mut conn, &admin, t0).unwrap();

        let access = claims(&pair.access);
        let mut names = vec![
            "admin",
            "exp",
            "iat",
            "jti",
            "sid",
            "sub",
            "token_type",
            "user_id",
            "username",
        ];
        names.extend(configured);
        assert_eq!(sorted_keys(&access), sorted(names), "access claims");
        assert_eq!(access["token_type"], "access");
        assert_eq!(
            access["sub"],
            Value::String(admin.id.to_string()),
            "sub is the id as a string"
        );
        assert_eq!(
            access["user_id"],
            Value::String(admin.id.to_string()),
            "user_id too, as simplejwt 5.5"
        );
        assert_eq!(access["username"], "root");
        assert_eq!(access["admin"], true);
        assert_eq!(access["iat"], t0.timestamp());
        assert_eq!(access["exp"], (t0 + Duration::minutes(5)).timestamp());
        assert_eq!(access["jti"].as_str().map(str::len), Some(32));

        let refresh = claims(refresh_of(&pair));
        let mut names = vec!["exp", "iat", "jti", "sid", "sub", "token_type", "user_id"];
        names.extend(configured);
        assert_eq!(sorted_keys(&refresh), sorted(names), "refresh claims");
        assert_eq!(refresh["token_type"], "refresh");
        assert_eq!(refresh["sub"], Value::String(admin.id.to_string()));
        assert_eq!(refresh["user_id"], Value::String(admin.id.to_string()));
        assert_eq!(refresh["sid"], access["sid"]);
        assert_eq!(refresh["exp"], (t0 + Duration::days(1)).timestamp());
        assert_ne!(refresh["jti"], access["jti"]);

        if let (Some(iss), Some(aud)) = (issuer, audience) {
            assert_eq!(
                (access["iss"].as_str(), access["aud"].as_str()),
                (Some(iss), Some(aud))
            );
            assert_eq!(
                (refresh["iss"].as_str(), refresh["aud"].as_str()),
                (Some(iss), Some(aud))
            );
        }
    }
}

fn sorted_keys(json: &Value) -> Vec<String> {
    let map = json.as_object().expect("a JSON object");
    sorted(map.keys().map(String::as_str).collect())
}

fn sorted(mut names: Vec<&str>) -> Vec<String> {
    names.sort_unstable();
    names.into_iter().map(str::to_owned).collect()
}

// --- refresh --------------------------------------------------------------------

fn refresh_rotates_within_the_family(db: &TestDb) {
    let mut conn = db.migrated();
    let authority = default_authority();
    let alice = add_user(&mut conn, "alice");
    let t0 = Utc::now();
    let first = authority.login(&mut conn, &alice, t0).unwrap();
    let t1 = t0 + Duration::minutes(1);
    let second = authority
        .refresh(&mut conn, refresh_of(&first), t1)
        .unwrap();

    let old = read_claims(refresh_of(&first));
    let new = read_claims(refresh_of(&second));
    assert_eq!(new.sid, old.sid, "same family");
    assert_ne!(new.jti, old.jti, "a new token");
    assert_eq!(new.iat, t1.timestamp());
    assert_eq!(
        new.exp,
        (t1 + Duration::days(1)).timestamp(),
        "a fresh refresh lifetime"
    );
    assert_eq!(read_claims(&second.access).sid, old.sid);

    let retired = record_of(&mut conn, refresh_of(&first));
    assert_eq!(retired.used_at, Some(to_db(t1)), "the old token is retired");
    assert_eq!(
        retired.replaced_by,
        Some(TokenId(new.jti.clone())),
        "and points at its successor"
    );
    let live = record_of(&mut conn, refresh_of(&second));
    assert_eq!((live.used_at, live.replaced_by), (None, None));

    // the successor rotates in turn, and the family stays live
    let third = authority
        .refresh(&mut conn, refresh_of(&second), t1 + Duration::minutes(1))
        .unwrap();
    assert_eq!(read_claims(refresh_of(&third)).sid, old.sid);
    assert_live(&mut conn, refresh_of(&third));
}

fn reusing_a_retired_token_revokes_the_family(db: &TestDb) {
    let mut conn = db.migrated();
    let authority = default_authority();
    let alice = add_user(&mut conn, "alice");
    let t0 = Utc::now();
    let first = authority.login(&mut conn, &alice, t0).unwrap();
    let other_family = authority.login(&mut conn, &alice, t0).unwrap();
    let second = authority
        .refresh(&mut conn, refresh_of(&first), t0)
        .unwrap();

    // the thief (or the victim) presents the retired token
    let reuse = authority.refresh(&mut conn, refresh_of(&first), t0 + Duration::seconds(5));
    assert!(matches!(reuse, Err(TokenError::Reused)), "{reuse:?}");
    assert_revoked(&mut conn, refresh_of(&second), "reuse_detected");

    // the newest token of the family stops working everywhere
    let later = t0 + Duration::seconds(10);
    assert_refresh_token_dead(&authority, &mut conn, refresh_of(&second), later);
    assert!(matches!(
        authenticate(&authority, &mut conn, &second.access, later),
        Err(TokenError::Revoked)
    ));
    assert!(matches!(
        authenticate(&authority, &mut conn, &first.access, later),
        Err(TokenError::Revoked)
    ));
    // an access token still passes the stateless check: only routes that load the user refuse it
    assert!(authority.decode_access(&second.access).is_ok());

    // the user's other family is untouched
    assert_live(&mut conn, refresh_of(&other_family));
    assert!(authenticate(&authority, &mut conn, &other_family.access, later).is_ok());
    assert!(authority
        .refresh(&mut conn, refresh_of(&other_family), later)
        .is_ok());
}

fn reuse_through_blacklist_also_revokes_the_family(db: &TestDb) {
    let mut conn = db.migrated();
    let authority = default_authority();
    let alice = add_user(&mut conn, "alice");
    let t0 = Utc::now();
    let first = authority.login(&mut conn, &alice, t0).unwrap();
    let second = authority
        .refresh(&mut conn, refresh_of(&first), t0)
        .unwrap();
    let outcome = authority.blacklist(&mut conn, refresh_of(&first), t0);
    assert!(matches!(outcome, Err(TokenError::Reused)), "{outcome:?}");
    assert_revoked(&mut conn, refresh_of(&second), "reuse_detected");
    assert!(matches!(
        authority.refresh(&mut conn, refresh_of(&second), t0),
        Err(TokenError::Revoked)
    ));
}

fn blacklist_revokes_the_family_once(db: &TestDb) {
    let mut conn = db.migrated();
    let authority = default_authority();
    let alice = add_user(&mut conn, "alice");
    let t0 = Utc::now();
    let pair = authority.login(&mut conn, &alice, t0).unwrap();
    let kept = authority.login(&mut conn, &alice, t0).unwrap();

    authority
        .blacklist(&mut conn, refresh_of(&pair), t0)
        .unwrap();
    assert_revoked(&mut conn, refresh_of(&pair), "logout");
    let again = authority.blacklist(&mut conn, refresh_of(&pair), t0);
    assert!(
        matches!(again, Err(TokenError::Revoked)),
        "a second blacklist is refused: {again:?}"
    );
    assert_refresh_token_dead(&authority, &mut conn, refresh_of(&pair), t0);
    assert!(matches!(
        authenticate(&authority, &mut conn, &pair.access, t0),
        Err(TokenError::Revoked)
    ));
    // the reason stays "logout": the refused attempts did not overwrite it
    assert_revoked(&mut conn, refresh_of(&pair), "logout");

    assert_live(&mut conn, refresh_of(&kept));
    // an access token is not a refresh token, even for blacklisting
    let wrong = authority.blacklist(&mut conn, &kept.access, t0);
    assert!(
        matches!(wrong, Err(TokenError::Invalid(VerifyError::WrongType))),
        "{wrong:?}"
    );
    assert_live(&mut conn, refresh_of(&kept));
}

fn verify_accepts_live_tokens_and_changes_nothing(db: &TestDb) {
    let mut conn = db.migrated();
    let authority = default_authority();
    let alice = add_user(&mut conn, "alice");
    let t0 = Utc::now();
    let first = authority.login(&mut conn, &alice, t0).unwrap();

    assert_eq!(
        verify(&authority, &mut conn, &first.access, t0)
            .unwrap()
            .token_type,
        TokenType::Access
    );
    assert_eq!(
        verify(&authority, &mut conn, refresh_of(&first), t0)
            .unwrap()
            .token_type,
        TokenType::Refresh
    );
    assert_eq!(
        record_of(&mut conn, refresh_of(&first)).used_at,
        None,
        "verify does not retire"
    );

    let second = authority
        .refresh(&mut conn, refresh_of(&first), t0)
        .unwrap();
    // the retired token: refused, but unlike refresh and blacklist this is no reuse
    let retired = verify(&authority, &mut conn, refresh_of(&first), t0);
    assert!(matches!(retired, Err(TokenError::Revoked)), "{retired:?}");
    assert_live(&mut conn, refresh_of(&second));
    assert!(verify(&authority, &mut conn, refresh_of(&second), t0).is_ok());
    assert!(
        authority
            .refresh(&mut conn, refresh_of(&second), t0)
            .is_ok(),
        "the newest token still works"
    );

    // a revoked family's token is refused
    let other = authority.login(&mut conn, &alice, t0).unwrap();
    authority
        .blacklist(&mut conn, refresh_of(&other), t0)
        .unwrap();
    assert!(matches!(
        verify(&authority, &mut conn, refresh_of(&other), t0),
        Err(TokenError::Revoked)
    ));
}

/// Three ways to end every family of a user; each leaves other users alone.
fn user_wide_revocation(
    db: &TestDb,
    reason: &str,
    revoke: impl Fn(&Authority, &mut DbConnection, &User, DateTime<Utc>),
) {
    let mut conn = db.migrated();
    let authority = default_authority();
    let alice = add_user(&mut conn, "alice");
    let bob = add_user(&mut conn, "bob");
    let t0 = Utc::now();
    let laptop = authority.login(&mut conn, &alice, t0).unwrap();
    let phone = authority.login(&mut conn, &alice, t0).unwrap();
    let rotated = authority
        .refresh(&mut conn, refresh_of(&phone), t0)
        .unwrap();
    let bobs = authority.login(&mut conn, &bob, t0).unwrap();

    let t1 = t0 + Duration::seconds(30);
    revoke(&authority, &mut conn, &alice, t1);

    for pair in [&laptop, &rotated] {
        assert_revoked(&mut conn, refresh_of(pair), reason);
        assert_refresh_token_dead(&authority, &mut conn, refresh_of(pair), t1);
        let refused = authenticate(&authority, &mut conn, &pair.access, t1);
        assert!(matches!(refused, Err(TokenError::Revoked)), "{refused:?}");
    }
    assert_live(&mut conn, refresh_of(&bobs));
    assert!(authenticate(&authority, &mut conn, &bobs.access, t1).is_ok());
    assert!(authority.refresh(&mut conn, refresh_of(&bobs), t1).is_ok());
}

fn change_password(
    authority: &Authority,
    conn: &mut DbConnection,
    user: &User,
    now: DateTime<Utc>,
) {
    let hash = hasher()
        .hash(&"a new passphrase".to_owned().into())
        .unwrap();
    authority
        .change_password(conn, user.id, &hash, now)
        .unwrap();
    let stored = User::find(conn, user.id).unwrap().unwrap();
    assert_eq!(stored.password_hash, hash);
    assert_eq!(stored.password_changed_at, to_db(now));
}

fn deactivate(authority: &Authority, conn: &mut DbConnection, user: &User, now: DateTime<Utc>) {
    let flags = UserFlags {
        is_active: Some(false),
        is_admin: None,
    };
    let updated = authority
        .update_flags(conn, user.id, flags, now)
        .unwrap()
        .unwrap();
    assert!(!updated.is_active);
}

fn password_change_revokes_every_family_of_the_user(db: &TestDb) {
    user_wide_revocation(db, "password_changed", change_password);
}

fn logout_all_revokes_every_family_of_the_user(db: &TestDb) {
    user_wide_revocation(db, "logout_all", |authority, conn, user, now| {
        assert_eq!(
            authority.logout_all(conn, user.id, now).unwrap(),
            2,
            "both live families"
        );
    });
}

fn deactivation_revokes_every_family_of_the_user(db: &TestDb) {
    user_wide_revocation(db, "deactivated", deactivate);
}

fn other_flag_changes_revoke_nothing(db: &TestDb) {
    let mut conn = db.migrated();
    let authority = default_authority();
    let alice = add_user(&mut conn, "alice");
    let t0 = Utc::now();
    let pair = authority.login(&mut conn, &alice, t0).unwrap();
    for flags in [
        UserFlags {
            is_active: None,
            is_admin: Some(true),
        },
        UserFlags {
            is_active: Some(true),
            is_admin: None,
        },
    ] {
        authority
            .update_flags(&mut conn, alice.id, flags, t0)
            .unwrap()
            .unwrap();
        assert_live(&mut conn, refresh_of(&pair));
    }
    let missing = authority.update_flags(
        &mut conn,
        domain::UserId(alice.id.0 + 1000),
        UserFlags::default(),
        t0,
    );
    assert!(matches!(missing, Ok(None)));
}

fn an_inactive_users_tokens_are_refused_where_the_user_is_loaded(db: &TestDb) {
    // Deactivated behind the authority's back (no revocation): the user check
    // itself must refuse.
    let mut conn = db.migrated();
    let authority = default_authority();
    let alice = add_user(&mut conn, "alice");
    let t0 = Utc::now();
    let pair = authority.login(&mut conn, &alice, t0).unwrap();
    User::set_flags(
        &mut conn,
        alice.id,
        UserFlags {
            is_active: Some(false),
            is_admin: None,
        },
    )
    .unwrap();
    assert!(matches!(
        authenticate(&authority, &mut conn, &pair.access, t0),
        Err(TokenError::UserInactive)
    ));
    let refused = authority.refresh(&mut conn, refresh_of(&pair), t0);
    assert!(
        matches!(refused, Err(TokenError::UserInactive)),
        "{refused:?}"
    );
    // the failed refresh rolled back: the token was not retired
    assert_eq!(record_of(&mut conn, refresh_of(&pair)).used_at, None);
}

fn access_tokens_older_than_the_password_are_refused(db: &TestDb) {
    let mut conn = db.migrated();
    let authority = default_authority();
    let t0 = Utc::now();
    let alice = add_user_at(&mut conn, "alice", false, t0);
    let before = authority.login(&mut conn, &alice, t0).unwrap();
    assert_eq!(
        authenticate(&authority, &mut conn, &before.access, t0)
            .unwrap()
            .id,
        alice.id
    );

    // The hash changes without the sessions being revoked (as a direct
    // database update would): the iat rule alone must refuse the old token.
    let changed = t0 + Duration::seconds(10);
    assert!(User::set_password_hash(&mut conn, alice.id, "new-hash", to_db(changed)).unwrap());
    let outcome = authenticate(
        &authority,
        &mut conn,
        &before.access,
        changed + Duration::seconds(1),
    );
    assert!(matches!(outcome, Err(TokenError::Revoked)), "{outcome:?}");
    assert_live(&mut conn, refresh_of(&before));

    // a token issued at or after the change is fine
    let after = authority.login(&mut conn, &alice, changed).unwrap();
    assert!(authenticate(&authority, &mut conn, &after.access, changed).is_ok());
}

// --- the absolute session limit -----------------------------------------------------

fn the_session_lifetime_caps_rotated_tokens_and_ends_the_family(db: &TestDb) {
    let mut conn = db.migrated();
    let settings = TokenSettings {
        refresh_lifetime: Duration::minutes(45),
        session_lifetime: Duration::hours(1),
        ..TokenSettings::default()
    };
    let authority = authority(settings);
    let alice = add_user(&mut conn, "alice");
    let t0 = Utc::now();
    let session_end = (t0 + Duration::hours(1)).timestamp();
    let first = authority.login(&mut conn, &alice, t0).unwrap();
    assert_eq!(
        read_claims(refresh_of(&first)).exp,
        (t0 + Duration::minutes(45)).timestamp(),
        "not capped yet"
    );

    // at 30 minutes a fresh lifetime would reach 75: capped at 60
    let t30 = t0 + Duration::minutes(30);
    let second = authority
        .refresh(&mut conn, refresh_of(&first), t30)
        .unwrap();
    assert_eq!(read_claims(refresh_of(&second)).exp, session_end);
    assert_eq!(
        from_db(record_of(&mut conn, refresh_of(&second)).expires_at).timestamp(),
        session_end
    );

    // at 58 minutes even the access token is capped
    let t58 = t0 + Duration::minutes(58);
    let third = authority
        .refresh(&mut conn, refresh_of(&second), t58)
        .unwrap();
    assert_eq!(
        read_claims(&third.access).exp,
        session_end,
        "5 minutes would pass the limit"
    );
    assert_eq!(read_claims(refresh_of(&third)).exp, session_end);

    // at the limit the family has ended, though the token's exp is not past by the wall clock
    for at in [
        t0 + Duration::hours(1),
        t0 + Duration::hours(1) + Duration::seconds(1),
    ] {
        let ended = authority.refresh(&mut conn, refresh_of(&third), at);
        assert!(matches!(ended, Err(TokenError::SessionEnded)), "{ended:?}");
        assert!(matches!(
            verify(&authority, &mut conn, refresh_of(&third), at),
            Err(TokenError::SessionEnded)
        ));
        assert!(matches!(
            authenticate(&authority, &mut conn, &third.access, at),
            Err(TokenError::SessionEnded)
        ));
    }
    // nothing was retired by the refused refreshes, and nothing revoked
    assert_eq!(record_of(&mut conn, refresh_of(&third)).used_at, None);
    assert_live(&mut conn, refresh_of(&third));
    // one second earlier, it still worked
    assert!(authority
        .refresh(
            &mut conn,
            refresh_of(&third),
            t0 + Duration::hours(1) - Duration::seconds(1)
        )
        .is_ok());
}

/// The record of a refresh token lives exactly as long as the codec accepts
/// the token: to the end of its whole-second `exp` plus the leeway. A stricter
/// record would refuse (and flush) a token a simplejwt client still holds as
/// valid, answering "blacklisted" for a token that is merely about to expire.
fn a_refresh_record_lives_as_long_as_the_codec_accepts_its_token(db: &TestDb) {
    let mut conn = db.migrated();
    for leeway in [0_i64, 30] {
        let authority = authority(TokenSettings {
            refresh_lifetime: Duration::hours(1),
            leeway: leeway as u64,
            ..TokenSettings::default()
        });
        let alice = add_user(&mut conn, &format!("alice{leeway}"));
        let exp_of = |pair: &TokenPair| {
            DateTime::from_timestamp(read_claims(refresh_of(pair)).exp, 0).unwrap()
        };
        // the last instant the codec takes the token, and the first it does not
        let last_accepted = |pair| exp_of(pair) + Duration::milliseconds(leeway * 1000 + 999);
        let first_refused = |pair| exp_of(pair) + Duration::seconds(leeway + 1);
        let label = format!("leeway {leeway}");

        let kept = authority.login(&mut conn, &alice, Utc::now()).unwrap();
        let at = last_accepted(&kept);
        let flushed = auth::flush_expired(&mut conn, authority.settings(), at).unwrap();
        assert_eq!(flushed.refresh_tokens, 0, "{label}: flush keeps it");
        let refreshed = authority.refresh(&mut conn, refresh_of(&kept), at);
        assert!(refreshed.is_ok(), "{label}: {refreshed:?}");

        let ended = refreshed.unwrap();
        let at = first_refused(&ended);
        let refused = authority.refresh(&mut conn, refresh_of(&ended), at);
        assert!(
            matches!(refused, Err(TokenError::SessionEnded)),
            "{label}: {refused:?}"
        );
        assert_eq!(record_of(&mut conn, refresh_of(&ended)).used_at, None);
        auth::flush_expired(&mut conn, authority.settings(), at).unwrap();
        for pair in [&kept, &ended] {
            let jti = TokenId(read_claims(refresh_of(pair)).jti);
            assert_eq!(
                RefreshToken::find(&mut conn, &jti).unwrap(),
                None,
                "{label}"
            );
        }
    }
}

// --- without rotation -----------------------------------------------------------------

fn without_rotation_the_refresh_token_stays_valid(db: &TestDb) {
    let mut conn = db.migrated();
    let authority = authority(TokenSettings {
        rotate_refresh_tokens: false,
        ..TokenSettings::default()
    });
    let alice = add_user(&mut conn, "alice");
    let t0 = Utc::now();
    let pair = authority.login(&mut conn, &alice, t0).unwrap();
    let refresh = refresh_of(&pair);

    for minutes in [1, 2, 3] {
        let next = authority
            .refresh(&mut conn, refresh, t0 + Duration::minutes(minutes))
            .unwrap();
        assert_eq!(next.refresh, None, "only an access token is handed out");
        assert_eq!(read_claims(&next.access).sid, read_claims(refresh).sid);
        assert_eq!(read_claims(&next.access).token_type, TokenType::Access);
    }
    let record = record_of(&mut conn, refresh);
    assert_eq!(
        (record.used_at, record.replaced_by),
        (None, None),
        "never retired"
    );
    assert!(verify(&authority, &mut conn, refresh, t0).is_ok());

    // until revoked
    authority.blacklist(&mut conn, refresh, t0).unwrap();
    assert!(matches!(
        authority.refresh(&mut conn, refresh, t0),
        Err(TokenError::Revoked)
    ));
}

/// Without rotation the one refresh token lives as long as its family, so a
/// user-wide revocation must end it as well as the access tokens.
fn user_wide_revocation_without_rotation(
    db: &TestDb,
    reason: &str,
    revoke: impl Fn(&Authority, &mut DbConnection, &User, DateTime<Utc>),
) {
    let mut conn = db.migrated();
    let authority = authority(TokenSettings {
        rotate_refresh_tokens: false,
        ..TokenSettings::default()
    });
    let alice = add_user(&mut conn, "alice");
    let t0 = Utc::now();
    let pair = authority.login(&mut conn, &alice, t0).unwrap();
    let refresh = refresh_of(&pair);
    let next = authority
        .refresh(&mut conn, refresh, t0 + Duration::seconds(10))
        .unwrap();
    assert_eq!(next.refresh, None, "the refresh token was not rotated");

    let t1 = t0 + Duration::seconds(30);
    revoke(&authority, &mut conn, &alice, t1);

    assert_revoked(&mut conn, refresh, reason);
    assert_refresh_token_dead(&authority, &mut conn, refresh, t1);
    for access in [&pair.access, &next.access] {
        let refused = authenticate(&authority, &mut conn, access, t1);
        assert!(matches!(refused, Err(TokenError::Revoked)), "{refused:?}");
    }
}

fn without_rotation_password_change_revokes_the_refresh_token(db: &TestDb) {
    user_wide_revocation_without_rotation(db, "password_changed", change_password);
}

fn without_rotation_deactivation_revokes_the_refresh_token(db: &TestDb) {
    user_wide_revocation_without_rotation(db, "deactivated", deactivate);
}

// --- housekeeping ---------------------------------------------------------------------

fn flush_expired_deletes_expired_records_only(db: &TestDb) {
    let mut conn = db.migrated();
    let authority = authority(TokenSettings {
        refresh_lifetime: Duration::hours(1),
        session_lifetime: Duration::hours(2),
        ..TokenSettings::default()
    });
    let alice = add_user(&mut conn, "alice");
    let t0 = Utc::now();
    let m = Duration::minutes;
    // family A: r1 expires at 60, retired at 30 by r2, which expires at 90; A ends at 120
    let r1 = authority.login(&mut conn, &alice, t0).unwrap();
    let r2 = authority
        .refresh(&mut conn, refresh_of(&r1), t0 + m(30))
        .unwrap();
    // family B: r3 opens at 90 and expires at 150; B ends at 210
    let r3 = authority.login(&mut conn, &alice, t0 + m(90)).unwrap();

    assert_eq!(
        auth::flush_expired(&mut conn, authority.settings(), t0 + m(59)).unwrap(),
        auth::FlushCounts::default(),
        "nothing expired yet"
    );
    let counts = auth::flush_expired(&mut conn, authority.settings(), t0 + m(105)).unwrap();
    assert_eq!(
        (counts.refresh_tokens, counts.sessions),
        (2, 0),
        "r1 and r2, not their live family"
    );
    let jti = |pair: &TokenPair| TokenId(read_claims(refresh_of(pair)).jti);
    assert_eq!(RefreshToken::find(&mut conn, &jti(&r1)).unwrap(), None);
    assert_eq!(RefreshToken::find(&mut conn, &jti(&r2)).unwrap(), None);
    assert!(RefreshToken::find(&mut conn, &jti(&r3)).unwrap().is_some());
    assert!(
        Session::find(&mut conn, &SessionId(read_claims(refresh_of(&r1)).sid))
            .unwrap()
            .is_some()
    );

    let counts = auth::flush_expired(&mut conn, authority.settings(), t0 + m(121)).unwrap();
    assert_eq!(
        (counts.refresh_tokens, counts.sessions),
        (0, 1),
        "family A has ended"
    );
    assert_eq!(
        Session::find(&mut conn, &SessionId(read_claims(refresh_of(&r1)).sid)).unwrap(),
        None
    );
    assert_live(&mut conn, refresh_of(&r3));
    assert!(RefreshToken::find(&mut conn, &jti(&r3)).unwrap().is_some());
}

// --- every entry point applies the codec's rules ------------------------------------

fn every_entry_point_refuses_forged_tokens(db: &TestDb) {
    let mut conn = db.migrated();
    let authority = default_authority();
    let alice = add_user(&mut conn, "alice");
    let t0 = Utc::now();
    let pair = authority.login(&mut conn, &alice, t0).unwrap();
    let [header, payload, _] = parts(refresh_of(&pair));
    let forged = format!("{header}.{payload}.{}", b64url([0u8; 32]));

    assert!(matches!(
        authority.refresh(&mut conn, &forged, t0),
        Err(TokenError::Invalid(VerifyError::Signature))
    ));
    assert!(matches!(
        authority.blacklist(&mut conn, &forged, t0),
        Err(TokenError::Invalid(VerifyError::Signature))
    ));
    assert!(matches!(
        verify(&authority, &mut conn, &forged, t0),
        Err(TokenError::Invalid(VerifyError::Signature))
    ));
    // the signature is checked before the type: the forged refresh token is
    // refused for its signature, and so is a forged access token, for which
    // the type check would pass
    assert_eq!(
        authority.decode_access(&forged),
        Err(VerifyError::Signature)
    );
    let [header, payload, _] = parts(&pair.access);
    let forged_access = format!("{header}.{payload}.{}", b64url([0u8; 32]));
    assert_eq!(
        authority.decode_access(&forged_access),
        Err(VerifyError::Signature)
    );
    assert!(matches!(
        authenticate(&authority, &mut conn, &forged_access, t0),
        Err(TokenError::Invalid(VerifyError::Signature))
    ));
    // the access token is no refresh token
    assert!(matches!(
        authority.refresh(&mut conn, &pair.access, t0),
        Err(TokenError::Invalid(VerifyError::WrongType))
    ));
    assert_eq!(
        authority.decode_access(refresh_of(&pair)),
        Err(VerifyError::WrongType)
    );
    // nothing of the above touched the family
    assert_live(&mut conn, refresh_of(&pair));
    assert_eq!(record_of(&mut conn, refresh_of(&pair)).used_at, None);
}

fn a_validly_signed_token_unknown_to_the_database_is_refused(db: &TestDb) {
    // Signed with our key (say, by another deployment sharing it), but never recorded here.
    let mut conn = db.migrated();
    let authority = default_authority();
    let alice = add_user(&mut conn, "alice");
    let t0 = Utc::now();
    let real = authority.login(&mut conn, &alice, t0).unwrap();
    let mut claims = read_claims(refresh_of(&real));
    claims.jti = TokenId::random().0;
    let stranger = codec(auth::Algorithm::HS256).encode(&claims).unwrap();
    assert!(matches!(
        authority.refresh(&mut conn, &stranger, t0),
        Err(TokenError::Unknown)
    ));
    assert!(matches!(
        authority.blacklist(&mut conn, &stranger, t0),
        Err(TokenError::Unknown)
    ));
    assert!(matches!(
        verify(&authority, &mut conn, &stranger, t0),
        Err(TokenError::Unknown)
    ));
    assert_live(&mut conn, refresh_of(&real));
}

// --- a proxy resending the request that rotated ----------------------------------

/// The X-Request-Id the proxy gives the rotating request (and its resend).
const RID: &str = "581a370ee7d636ba444f0ca5557360d6";

fn a_proxy_resend_of_the_rotating_request_gets_the_successor_again(db: &TestDb) {
    let mut conn = db.migrated();
    let authority = default_authority();
    let alice = add_user(&mut conn, "alice");
    let t0 = Utc::now();
    let first = authority.login(&mut conn, &alice, t0).unwrap();
    let rid = Some(RID);
    // the replica that rotated died before answering; nginx resends the
    // request, same id, to another replica
    let lost = authority
        .refresh(
            &mut conn,
            Presentation {
                token: refresh_of(&first),
                request_id: rid,
            },
            t0,
        )
        .unwrap();
    let resent = authority
        .refresh(
            &mut conn,
            Presentation {
                token: refresh_of(&first),
                request_id: rid,
            },
            t0 + Duration::seconds(2),
        )
        .unwrap();
    assert_eq!(
        read_claims(refresh_of(&resent)).jti,
        read_claims(refresh_of(&lost)).jti,
        "the same successor, not a second rotation"
    );
    assert_live(&mut conn, refresh_of(&resent));
    assert!(authenticate(&authority, &mut conn, &resent.access, t0).is_ok());
    assert_eq!(
        record_of(&mut conn, refresh_of(&first)).replaced_by,
        Some(TokenId(read_claims(refresh_of(&resent)).jti))
    );
    // and the client goes on with it
    let next = authority
        .refresh(&mut conn, refresh_of(&resent), t0 + Duration::seconds(3))
        .unwrap();
    assert_live(&mut conn, refresh_of(&next));
}

fn anything_but_the_same_recent_request_is_reuse(db: &TestDb) {
    let authority = default_authority();
    let t0 = Utc::now();
    type Replay =
        fn(&Authority, &mut DbConnection, &str, DateTime<Utc>) -> Result<TokenPair, TokenError>;
    let cases: [(&str, Replay); 4] = [
        ("another request id", |a, c, t, now| {
            a.refresh(
                c,
                Presentation {
                    token: t,
                    request_id: Some("ffffffffffffffffffffffffffffffff"),
                },
                now,
            )
        }),
        ("no request id", |a, c, t, now| {
            a.refresh(
                c,
                Presentation {
                    token: t,
                    request_id: None,
                },
                now,
            )
        }),
        ("after the resend window", |a, c, t, now| {
            a.refresh(
                c,
                Presentation {
                    token: t,
                    request_id: Some(RID),
                },
                now + auth::RESEND_WINDOW,
            )
        }),
        ("the successor already used", |a, c, t, now| {
            let successor = record_of(c, t).replaced_by.unwrap();
            // the successor's token reached the client, who rotated it
            let at = domain::time::to_db(now);
            RefreshToken::retire(c, &successor, at, at, None, None).unwrap();
            a.refresh(
                c,
                Presentation {
                    token: t,
                    request_id: Some(RID),
                },
                now,
            )
        }),
    ];
    let mut conn = db.migrated();
    for (i, (what, replay)) in cases.into_iter().enumerate() {
        let alice = add_user(&mut conn, &format!("alice{i}"));
        let first = authority.login(&mut conn, &alice, t0).unwrap();
        let second = authority
            .refresh(
                &mut conn,
                Presentation {
                    token: refresh_of(&first),
                    request_id: Some(RID),
                },
                t0,
            )
            .unwrap();
        let r = replay(
            &authority,
            &mut conn,
            refresh_of(&first),
            t0 + Duration::seconds(1),
        );
        assert!(matches!(r, Err(TokenError::Reused)), "{what}: {r:?}");
        assert_revoked(&mut conn, refresh_of(&second), "reuse_detected");
    }
}

fn a_resend_into_a_revoked_family_is_refused(db: &TestDb) {
    let mut conn = db.migrated();
    let authority = default_authority();
    let alice = add_user(&mut conn, "alice");
    let t0 = Utc::now();
    let rid = Some(RID);
    let first = authority.login(&mut conn, &alice, t0).unwrap();
    let second = authority
        .refresh(
            &mut conn,
            Presentation {
                token: refresh_of(&first),
                request_id: rid,
            },
            t0,
        )
        .unwrap();
    authority
        .blacklist(&mut conn, refresh_of(&second), t0)
        .unwrap();
    let r = authority.refresh(
        &mut conn,
        Presentation {
            token: refresh_of(&first),
            request_id: rid,
        },
        t0 + Duration::seconds(1),
    );
    assert!(matches!(r, Err(TokenError::Reused)), "{r:?}");
    assert_refresh_token_dead(&authority, &mut conn, refresh_of(&second), t0);
}

backend_tests!(
    login_opens_a_family_and_records_last_login,
    issued_claims_are_exactly_those_of_the_contract,
    refresh_rotates_within_the_family,
    reusing_a_retired_token_revokes_the_family,
    reuse_through_blacklist_also_revokes_the_family,
    blacklist_revokes_the_family_once,
    verify_accepts_live_tokens_and_changes_nothing,
    password_change_revokes_every_family_of_the_user,
    logout_all_revokes_every_family_of_the_user,
    deactivation_revokes_every_family_of_the_user,
    other_flag_changes_revoke_nothing,
    an_inactive_users_tokens_are_refused_where_the_user_is_loaded,
    access_tokens_older_than_the_password_are_refused,
    the_session_lifetime_caps_rotated_tokens_and_ends_the_family,
    a_refresh_record_lives_as_long_as_the_codec_accepts_its_token,
    without_rotation_the_refresh_token_stays_valid,
    without_rotation_password_change_revokes_the_refresh_token,
    without_rotation_deactivation_revokes_the_refresh_token,
    flush_expired_deletes_expired_records_only,
    every_entry_point_refuses_forged_tokens,
    a_validly_signed_token_unknown_to_the_database_is_refused,
    a_proxy_resend_of_the_rotating_request_gets_the_successor_again,
    anything_but_the_same_recent_request_is_reuse,
    a_resend_into_a_revoked_family_is_refused,
);
