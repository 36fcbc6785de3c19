//! The cache's rules, and a model-based test: under any interleaving of
//! requests (each lookup, database read and fill a step of its own),
//! revocations here and on another replica, notification deliveries and
//! listener drops, a request is served from the cache only what the
//! database holds, or what a notification still on its way will correct.

use std::collections::VecDeque;

use chrono::DateTime;
use domain::time::to_db;
use domain::{Change, Session, SessionId, User, UserId};
use proptest::prelude::*;

use super::{Lookup, SessionCache, Ticket};
use crate::metrics::CacheMetrics;

fn user(id: i64) -> User {
    let at = to_db(DateTime::from_timestamp(1_700_000_000, 0).expect("valid time"));
    User {
        id: UserId(id),
        username: format!("user{id}"),
        email: None,
        password_hash: String::new(),
        is_active: true,
        is_admin: false,
        date_joined: at,
        last_login: None,
        password_changed_at: at,
        email_verified: false,
    }
}

fn session(sid: &str, user: i64) -> Session {
    let at = to_db(DateTime::from_timestamp(1_700_000_000, 0).expect("valid time"));
    Session {
        id: SessionId(sid.into()),
        user_id: UserId(user),
        created_at: at,
        expires_at: at,
        revoked_at: None,
        revoked_reason: None,
        user_agent: None,
        ip: None,
        last_refreshed_at: None,
    }
}

fn cache(listening: bool) -> SessionCache {
    SessionCache::new(100, listening, CacheMetrics::unregistered())
}

fn miss(cache: &SessionCache, sid: &SessionId) -> Ticket {
    match cache.lookup(sid) {
        Lookup::Miss(ticket) => ticket,
        Lookup::Hit(..) => panic!("a hit, expected a miss"),
        Lookup::Bypass => panic!("a bypass, expected a miss"),
    }
}

fn is_hit(cache: &SessionCache, sid: &SessionId) -> bool {
    matches!(cache.lookup(sid), Lookup::Hit(..))
}

#[test]
fn a_filled_session_hits_until_it_or_its_user_is_forgotten() {
    let c = cache(true);
    let (s, u) = (session("a", 1), user(1));
    let t = miss(&c, &s.id);
    c.fill(t, &s, &u);
    assert!(is_hit(&c, &s.id));
    c.forget([Change::Session(s.id.clone())]);
    assert!(!is_hit(&c, &s.id));

    let t = miss(&c, &s.id);
    c.fill(t, &s, &u);
    c.forget([Change::User(UserId(2))]);
    assert!(is_hit(&c, &s.id), "another user's change keeps it");
    c.forget([Change::User(UserId(1))]);
    assert!(!is_hit(&c, &s.id), "its user's change drops it");
}

#[test]
fn a_read_that_raced_an_invalidation_is_not_kept() {
    let c = cache(true);
    let (s, u) = (session("a", 1), user(1));
    let t = miss(&c, &s.id);
    c.forget([Change::Session(SessionId("other".into()))]);
    c.fill(t, &s, &u);
    assert!(!is_hit(&c, &s.id));
}

#[test]
fn two_sessions_of_one_user_both_hit() {
    let c = cache(true);
    let u = user(1);
    let (a, b) = (session("a", 1), session("b", 1));
    let t = miss(&c, &a.id);
    c.fill(t, &a, &u);
    let t = miss(&c, &b.id);
    c.fill(t, &b, &u);
    assert!(is_hit(&c, &a.id) && is_hit(&c, &b.id));
}

#[test]
fn without_a_listener_the_cache_is_bypassed_and_empty_when_back() {
    let c = cache(false);
    let (s, u) = (session("a", 1), user(1));
    assert!(matches!(c.lookup(&s.id), Lookup::Bypass));
    c.set_listening(true);
    let t = miss(&c, &s.id);
    c.fill(t, &s, &u);
    assert!(is_hit(&c, &s.id));
    c.set_listening(false);
    assert!(matches!(c.lookup(&s.id), Lookup::Bypass));
    c.set_listening(true);
    assert!(!is_hit(&c, &s.id), "nothing survives a drop");
}

#[test]
fn size_zero_is_no_cache() {
    let c = SessionCache::new(0, true, CacheMetrics::unregistered());
    assert!(matches!(c.lookup(&SessionId("a".into())), Lookup::Bypass));
    assert!(!c.is_enabled());
}

// ---- the model

const SESSIONS: usize = 3;
/// Sessions 0 and 1 belong to user 0, session 2 to user 1.
fn owner(session: usize) -> usize {
    usize::from(session == 2)
}

#[derive(Debug, Clone)]
enum Op {
    /// A whole request: lookup; on a miss the read and fill at once.
    Request(usize),
    /// A request's lookup only; its read and fill come later.
    Start(usize),
    /// The database read of the n-th started request.
    Read(usize),
    /// The fill of the n-th started request.
    Fill(usize),
    /// Revoked by this replica: forgotten before it answers.
    RevokeHere(usize),
    /// Revoked by another replica: a notification is on its way if the
    /// listener is subscribed (and lost otherwise).
    RevokeThere(usize),
    /// A user deactivated or reactivated by another replica, revoking their
    /// sessions on deactivation.
    ToggleUserThere(usize),
    /// The oldest notification on its way arrives.
    Deliver,
    /// The listener's connection drops: what is on its way is lost.
    Drop,
    Reconnect,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..SESSIONS).prop_map(Op::Request),
        2 => (0..SESSIONS).prop_map(Op::Start),
        2 => any::<usize>().prop_map(Op::Read),
        2 => any::<usize>().prop_map(Op::Fill),
        1 => (0..SESSIONS).prop_map(Op::RevokeHere),
        2 => (0..SESSIONS).prop_map(Op::RevokeThere),
        1 => (0..2usize).prop_map(Op::ToggleUserThere),
        3 => Just(Op::Deliver),
        1 => Just(Op::Drop),
        1 => Just(Op::Reconnect),
    ]
}

struct Started {
    sid: usize,
    ticket: Option<Ticket>,
    read: Option<(Session, User)>,
}

struct Model {
    sessions: Vec<Session>,
    users: Vec<User>,
    on_the_way: VecDeque<Change>,
    subscribed: bool,
    started: Vec<Started>,
}

impl Model {
    fn new() -> Self {
        Self {
            sessions: (0..SESSIONS)
                .map(|i| session(&format!("s{i}"), owner(i) as i64))
                .collect(),
            users: (0..2).map(user).collect(),
            on_the_way: VecDeque::new(),
            subscribed: true,
            started: Vec::new(),
        }
    }

    fn read(&self, sid: usize) -> (Session, User) {
        let s = self.sessions[sid].clone();
        let u = self.users[owner(sid)].clone();
        (s, u)
    }

    fn revoke(&mut self, sid: usize) {
        self.sessions[sid].revoked_at = Some(self.sessions[sid].created_at);
    }

    /// A change committed on another replica: its notification travels
    /// only if the listener is subscribed.
    fn committed_there(&mut self, change: Change) {
        if self.subscribed {
            self.on_the_way.push_back(change);
        }
    }

    /// A hit must show the database, unless a notification on its way will
    /// correct it.
    fn check_hit(&self, sid: usize, session: &Session, user: &User) -> Result<(), TestCaseError> {
        let (db_session, db_user) = self.read(sid);
        if *session == db_session && *user == db_user {
            return Ok(());
        }
        let user_pending = self.on_the_way.contains(&Change::User(db_user.id));
        let session_pending = user_pending
            || self
                .on_the_way
                .contains(&Change::Session(db_session.id.clone()));
        prop_assert!(
            (*session == db_session || session_pending) && (*user == db_user || user_pending),
            "session {} served stale from the cache with no notification on its way",
            sid
        );
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn nothing_revoked_is_served_from_the_cache_once_it_could_be_known(
        ops in proptest::collection::vec(op(), 1..60)
    ) {
        let c = cache(true);
        let mut m = Model::new();
        for op in ops {
            match op {
                Op::Request(sid) => {
                    let id = m.sessions[sid].id.clone();
                    match c.lookup(&id) {
                        Lookup::Hit(s, u) => m.check_hit(sid, &s, &u)?,
                        Lookup::Miss(ticket) => {
                            let (s, u) = m.read(sid);
                            c.fill(ticket, &s, &u);
                        }
                        Lookup::Bypass => prop_assert!(!m.subscribed),
                    }
                }
                Op::Start(sid) => {
                    let id = m.sessions[sid].id.clone();
                    let ticket = match c.lookup(&id) {
                        Lookup::Hit(s, u) => {
                            m.check_hit(sid, &s, &u)?;
                            continue;
                        }
                        Lookup::Miss(ticket) => Some(ticket),
                        Lookup::Bypass => None,
                    };
                    m.started.push(Started { sid, ticket, read: None });
                }
                Op::Read(n) if !m.started.is_empty() => {
                    let n = n % m.started.len();
                    let sid = m.started[n].sid;
                    if m.started[n].read.is_none() {
                        m.started[n].read = Some(m.read(sid));
                    }
                }
                Op::Fill(n) if !m.started.is_empty() => {
                    let n = n % m.started.len();
                    if m.started[n].read.is_some() {
                        let started = m.started.remove(n);
                        if let (Some(ticket), Some((s, u))) = (started.ticket, started.read) {
                            c.fill(ticket, &s, &u);
                        }
                    }
                }
                Op::Read(_) | Op::Fill(_) => {}
                Op::RevokeHere(sid) => {
                    m.revoke(sid);
                    c.forget([Change::Session(m.sessions[sid].id.clone())]);
                }
                Op::RevokeThere(sid) => {
                    m.revoke(sid);
                    m.committed_there(Change::Session(m.sessions[sid].id.clone()));
                }
                Op::ToggleUserThere(uid) => {
                    let active = !m.users[uid].is_active;
                    m.users[uid].is_active = active;
                    if !active {
                        for sid in (0..SESSIONS).filter(|&s| owner(s) == uid) {
                            m.revoke(sid);
                        }
                    }
                    m.committed_there(Change::User(UserId(uid as i64)));
                }
                Op::Deliver => {
                    if let Some(change) = m.on_the_way.pop_front() {
                        c.forget([change]);
                    }
                }
                Op::Drop => {
                    if m.subscribed {
                        m.subscribed = false;
                        m.on_the_way.clear();
                        c.set_listening(false);
                    }
                }
                Op::Reconnect => {
                    if !m.subscribed {
                        m.subscribed = true;
                        c.set_listening(true);
                    }
                }
            }
        }
    }
}
