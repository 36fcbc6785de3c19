//! Model-based test of the session rules: any interleaving of login, refresh,
//! reuse, blacklist, verify, password change, global logout, deactivation and
//! reactivation must give the outcomes of a small in-memory model of the
//! contract's rules, and leave the database in the state the model predicts.

use std::collections::BTreeMap;

use auth::{Authority, Claims, TokenError, TokenSettings, TokenType};
use chrono::{DateTime, Duration, Utc};
use domain::{DbConnection, RefreshToken, Session, SessionId, TokenId, User, UserFlags, UserId};
use proptest::prelude::*;
use test_support::codecs::authority;
use test_support::users::add_user_at;
use test_support::TestDb;

const USERS: usize = 2;

#[derive(Debug, Clone)]
enum Op {
    Login(usize),
    /// Refresh the n-th refresh token ever issued (modulo the count).
    Refresh(usize),
    Blacklist(usize),
    Verify(usize),
    /// Load the user with the n-th access token ever issued.
    Authenticate(usize),
    ChangePassword(usize),
    LogoutAll(usize),
    Deactivate(usize),
    Reactivate(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..USERS).prop_map(Op::Login),
        5 => any::<usize>().prop_map(Op::Refresh),
        2 => any::<usize>().prop_map(Op::Blacklist),
        2 => any::<usize>().prop_map(Op::Verify),
        2 => any::<usize>().prop_map(Op::Authenticate),
        1 => (0..USERS).prop_map(Op::ChangePassword),
        1 => (0..USERS).prop_map(Op::LogoutAll),
        1 => (0..USERS).prop_map(Op::Deactivate),
        1 => (0..USERS).prop_map(Op::Reactivate),
    ]
}

/// What the model says a call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Reused,
    Refused,
    /// Not called: the server refuses an inactive user's login before it
    /// reaches the session rules.
    Skipped,
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

fn outcome<T>(r: &Result<T, TokenError>) -> Outcome {
    match r {
        Ok(_) => Outcome::Ok,
        Err(TokenError::Reused) => Outcome::Reused,
        Err(TokenError::Database(e)) => panic!("database error: {e}"),
        Err(TokenError::Sign(e)) => panic!("signing error: {e}"),
        Err(_) => Outcome::Refused,
    }
}

/// The rules, on plain data.
#[derive(Debug, Default)]
struct Model {
    active: [bool; USERS],
    /// family index → (user, revoked)
    families: Vec<(usize, bool)>,
    /// refresh token index → (family, retired)
    refresh: Vec<(usize, bool)>,
    /// access token index → family
    access: Vec<usize>,
}

impl Model {
    fn new() -> Self {
        Self {
            active: [true; USERS],
            ..Self::default()
        }
    }

    fn login(&mut self, user: usize) -> Outcome {
        if !self.active[user] {
            return Outcome::Skipped;
        }
        self.families.push((user, false));
        let family = self.families.len() - 1;
        self.refresh.push((family, false));
        self.access.push(family);
        Outcome::Ok
    }

    fn live(&self, family: usize) -> bool {
        let (user, revoked) = self.families[family];
        !revoked && self.active[user]
    }

    fn refresh(&mut self, i: usize) -> Outcome {
        let (family, retired) = self.refresh[i];
        if retired {
            self.families[family].1 = true;
            return Outcome::Reused;
        }
        if !self.live(family) {
            return Outcome::Refused;
        }
        self.refresh[i].1 = true;
        self.refresh.push((family, false));
        self.access.push(family);
        Outcome::Ok
    }

    fn blacklist(&mut self, i: usize) -> Outcome {
        let (family, retired) = self.refresh[i];
        if retired {
            self.families[family].1 = true;
            return Outcome::Reused;
        }
        if self.families[family].1 {
            return Outcome::Refused;
        }
        self.families[family].1 = true;
        Outcome::Ok
    }

    fn verify(&self, i: usize) -> Outcome {
        let (family, retired) = self.refresh[i];
        if !retired && self.live(family) {
            Outcome::Ok
        } else {
            Outcome::Refused
        }
    }

    fn authenticate(&self, i: usize) -> Outcome {
        if self.live(self.access[i]) {
            Outcome::Ok
        } else {
            Outcome::Refused
        }
    }

    fn revoke_user(&mut self, user: usize) {
        for f in self.families.iter_mut().filter(|f| f.0 == user) {
            f.1 = true;
        }
    }
}

/// The real thing: tokens, users and the clock.
struct Real {
    authority: Authority,
    users: Vec<User>,
    refresh: Vec<String>,
    access: Vec<String>,
    now: DateTime<Utc>,
}

impl Real {
    fn new(conn: &mut DbConnection) -> Self {
        let authority = authority(TokenSettings::default());
        let now = Utc::now();
        // active, not admin, password last changed at the start of the clock
        let users = (0..USERS)
            .map(|i| add_user_at(conn, &format!("user{i}"), false, now))
            .collect();
        Self {
            authority,
            users,
            refresh: Vec::new(),
            access: Vec::new(),
            now,
        }
    }

    fn tick(&mut self) -> DateTime<Utc> {
        // a second per step: iat and password changes never share a second
        self.now += Duration::seconds(1);
        self.now
    }

    fn user(&self, conn: &mut DbConnection, i: usize) -> User {
        User::find(conn, self.users[i].id).unwrap().unwrap()
    }
}

fn run(db: &TestDb, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut conn = db.migrated();
    let mut model = Model::new();
    let mut real = Real::new(&mut conn);
    for (step, op) in ops.iter().enumerate() {
        let now = real.tick();
        let (expected, actual) = match *op {
            Op::Login(u) => {
                let expected = model.login(u);
                let actual = if expected == Outcome::Skipped {
                    Outcome::Skipped
                } else {
                    let user = real.user(&mut conn, u);
                    let pair = real.authority.login(&mut conn, &user, now);
                    let o = outcome(&pair);
                    if let Ok(pair) = pair {
                        real.refresh.push(pair.refresh.unwrap());
                        real.access.push(pair.access);
                    }
                    o
                };
                (expected, actual)
            }
            Op::Refresh(n) if !model.refresh.is_empty() => {
                let i = n % model.refresh.len();
                let expected = model.refresh(i);
                let pair = real.authority.refresh(&mut conn, &real.refresh[i], now);
                let o = outcome(&pair);
                if let Ok(pair) = pair {
                    real.refresh.push(pair.refresh.unwrap());
                    real.access.push(pair.access);
                }
                (expected, o)
            }
            Op::Blacklist(n) if !model.refresh.is_empty() => {
                let i = n % model.refresh.len();
                (
                    model.blacklist(i),
                    outcome(&real.authority.blacklist(&mut conn, &real.refresh[i], now)),
                )
            }
            Op::Verify(n) if !model.refresh.is_empty() => {
                let i = n % model.refresh.len();
                (
                    model.verify(i),
                    outcome(&verify(&real.authority, &mut conn, &real.refresh[i], now)),
                )
            }
            Op::Authenticate(n) if !model.access.is_empty() => {
                let i = n % model.access.len();
                let claims = real.authority.decode_access(&real.access[i]);
                let actual = match claims {
                    Ok(claims) => outcome(&real.authority.authenticate(&mut conn, &claims, now)),
                    Err(e) => panic!("our own access token does not decode: {e}"),
                };
                (model.authenticate(i), actual)
            }
            Op::ChangePassword(u) => {
                model.revoke_user(u);
                real.authority
                    .change_password(&mut conn, real.users[u].id, "new hash", now)
                    .unwrap();
                (Outcome::Ok, Outcome::Ok)
            }
            Op::LogoutAll(u) => {
                model.revoke_user(u);
                real.authority
                    .logout_all(&mut conn, real.users[u].id, now)
                    .unwrap();
                (Outcome::Ok, Outcome::Ok)
            }
            Op::Deactivate(u) | Op::Reactivate(u) => {
                let active = matches!(op, Op::Reactivate(_));
                model.active[u] = active;
                if !active {
                    model.revoke_user(u);
                }
                let flags = UserFlags {
                    is_active: Some(active),
                    is_admin: None,
                };
                real.authority
                    .update_flags(&mut conn, real.users[u].id, flags, now)
                    .unwrap()
                    .unwrap();
                (Outcome::Ok, Outcome::Ok)
            }
            // nothing issued yet to act on
            _ => (Outcome::Skipped, Outcome::Skipped),
        };
        prop_assert_eq!(expected, actual, "step {} {:?}", step, op);
        check_database(&mut conn, &model, &real)?;
    }
    Ok(())
}

/// The database holds exactly the model's state: every family revoked or
/// not as the model says, every token retired or not, and at most one live
/// token per family.
fn check_database(
    conn: &mut DbConnection,
    model: &Model,
    real: &Real,
) -> Result<(), TestCaseError> {
    let mut live_per_family: BTreeMap<usize, usize> = BTreeMap::new();
    for (i, token) in real.refresh.iter().enumerate() {
        let claims = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(token)
            .unwrap()
            .claims;
        let jti = TokenId(claims["jti"].as_str().unwrap().to_owned());
        let record = RefreshToken::find(conn, &jti)
            .unwrap()
            .expect("every issued token has a record");
        let (family, retired) = model.refresh[i];
        prop_assert_eq!(record.used_at.is_some(), retired, "token {} retired", i);
        if !retired {
            *live_per_family.entry(family).or_default() += 1;
        }
        let session = Session::find(conn, &SessionId(claims["sid"].as_str().unwrap().to_owned()))
            .unwrap()
            .unwrap();
        prop_assert_eq!(
            session.revoked_at.is_some(),
            model.families[family].1,
            "family {} revoked",
            family
        );
        let user: UserId = session.user_id;
        prop_assert_eq!(user, real.users[model.families[family].0].id);
    }
    prop_assert!(
        live_per_family.values().all(|n| *n == 1),
        "one live token per family: {:?}",
        live_per_family
    );
    for (u, user) in real.users.iter().enumerate() {
        let stored = User::find(conn, user.id).unwrap().unwrap();
        prop_assert_eq!(stored.is_active, model.active[u]);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_follows_the_model(ops in prop::collection::vec(op(), 1..40)) {
        run(&TestDb::sqlite(), &ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn postgres_follows_the_model(ops in prop::collection::vec(op(), 1..40)) {
        run(&TestDb::postgres(), &ops)?;
    }
}
