//! "Two concurrent refreshes with the same token: at most one succeeds."
//!
//! Many threads, each on its own connection, present the same refresh token at
//! once. `Authority::rotate` starts with a conditional UPDATE (`used_at IS
//! NULL`): PostgreSQL's row lock, or SQLite's write lock taken by `BEGIN
//! IMMEDIATE`, orders them, so exactly one retires the token. Every other
//! caller then finds the token retired, which is the reuse rule: it revokes
//! the family and gets `Reused`. So the winner's new refresh token ends up
//! revoked too, which is what the contract asks of a replayed token, and what
//! we assert.

use std::sync::Barrier;

use auth::{TokenError, TokenPair, TokenSettings};
use chrono::Utc;
use diesel::prelude::*;
use domain::schema::refresh_tokens;
use domain::{RefreshToken, Session, SessionId, TokenId};
use test_support::codecs::{authority, read_claims};
use test_support::users::add_user;
use test_support::{backend_tests, TestDb};

const THREADS: usize = 16;
const ROUNDS: usize = 4;

fn concurrent_refreshes_of_one_token_let_at_most_one_through(db: &TestDb) {
    let mut conn = db.migrated();
    let authority = authority(TokenSettings::default());
    let alice = add_user(&mut conn, "alice");

    for round in 0..ROUNDS {
        let now = Utc::now();
        let login = authority.login(&mut conn, &alice, now).unwrap();
        let token = login.refresh.clone().unwrap();
        let claims = read_claims(&token);

        // Connections are opened first, so that the barrier releases threads
        // that are ready to write, not ones still connecting.
        let connections: Vec<_> = (0..THREADS).map(|_| db.connect()).collect();
        let barrier = Barrier::new(THREADS);
        let outcomes: Vec<Result<TokenPair, TokenError>> = std::thread::scope(|s| {
            let handles: Vec<_> = connections
                .into_iter()
                .map(|mut conn| {
                    let (barrier, authority, token) = (&barrier, &authority, &token);
                    s.spawn(move || {
                        barrier.wait();
                        authority.refresh(&mut conn, token, now)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("no thread panics"))
                .collect()
        });

        let winners: Vec<&TokenPair> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
        let unexpected: Vec<_> = outcomes
            .iter()
            .filter(|o| !matches!(o, Ok(_) | Err(TokenError::Reused)))
            .collect();
        assert!(
            unexpected.is_empty(),
            "round {round}: only success or reuse, got {unexpected:?}"
        );
        // The contract asks for at most one; the conditional UPDATE gives exactly one.
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
        let winner = winners[0].refresh.as_deref().expect("a rotated token");
        let next_jti = TokenId(read_claims(winner).jti);

        // Retired exactly once, by the winner.
        let old = RefreshToken::find(&mut conn, &TokenId(claims.jti.clone()))
            .unwrap()
            .unwrap();
        assert!(old.used_at.is_some(), "round {round}");
        assert_eq!(
            old.replaced_by.as_ref(),
            Some(&next_jti),
            "round {round}: replaced by the winner's token"
        );
        let family: Vec<RefreshToken> = refresh_tokens::table
            .filter(refresh_tokens::session_id.eq(&claims.sid))
            .select(RefreshToken::as_select())
            .load(&mut conn)
            .unwrap();
        assert_eq!(
            family.len(),
            2,
            "round {round}: the login's token and one successor, no more"
        );
        assert!(family
            .iter()
            .any(|r| r.jti == next_jti && r.used_at.is_none()));

        // The losers were reuse: the family is revoked, the winner's token is dead.
        let session = Session::find(&mut conn, &SessionId(claims.sid.clone()))
            .unwrap()
            .unwrap();
        assert_eq!(
            session.revoked_reason.as_deref(),
            Some("reuse_detected"),
            "round {round}"
        );
        let again = authority.refresh(&mut conn, winner, now);
        assert!(
            matches!(again, Err(TokenError::Revoked)),
            "round {round}: {again:?}"
        );
    }
}

backend_tests!(concurrent_refreshes_of_one_token_let_at_most_one_through);
