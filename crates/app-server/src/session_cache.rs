//! What the routes that load the user read of the database (the session and
//! its user), kept per replica so that `/api/me/` and its kind need no query
//! at steady state, without weakening revocation.
//!
//! Two bounded moka caches: sessions by id and users by id. A session entry
//! is only good with the user entry it was loaded with (`user_version`), so
//! forgetting a user forgets every session of theirs at once.
//!
//! Forgetting (see `domain::changes`):
//! - on the replica that writes, before it answers: `Db::run` hands every
//!   change the query functions announced to [`SessionCache::forget`];
//! - on the others, on PostgreSQL, through the notification the write sent in
//!   its transaction, read by [`listener`];
//! - while that listener is not subscribed (not yet, or its connection
//!   dropped or lagged), the cache is empty and bypassed: a notification it
//!   may have missed cannot leave a revoked session served. SQLite is one process:
//!   the first way is all it needs.
//!
//! A read racing a write must not put back what the write just made stale: a
//! reader takes a [`Ticket`] (the invalidation epoch) before it reads the
//! database and fills the cache only if no invalidation happened since; one
//! that lands between its insert and its re-check removes what it inserted.

pub mod listener;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use domain::{Change, Session, SessionId, User, UserId};
use moka::sync::Cache;

use crate::metrics::CacheMetrics;

/// An entry lives at most this long, whatever happens: the bound on what a
/// change made outside the service (by hand in SQL, or by another process on
/// SQLite) may take to show. Every change the service makes is forgotten at
/// once.
const TIME_TO_LIVE: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct SessionCache {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    sessions: Cache<SessionId, CachedSession>,
    users: Cache<UserId, CachedUser>,
    /// Bumped by every invalidation and every change of `enabled`.
    epoch: AtomicU64,
    /// False while a PostgreSQL listener is not subscribed.
    enabled: AtomicBool,
    /// Source of user entry versions.
    versions: AtomicU64,
    metrics: CacheMetrics,
}

#[derive(Clone)]
struct CachedSession {
    session: Arc<Session>,
    user_version: u64,
}

#[derive(Clone)]
struct CachedUser {
    user: Arc<User>,
    version: u64,
}

/// What [`SessionCache::lookup`] found.
pub enum Lookup {
    Hit(Arc<Session>, Arc<User>),
    /// Read the database, then [`SessionCache::fill`] with this ticket.
    Miss(Ticket),
    /// The cache is off or not to be trusted now: read the database.
    Bypass,
}

/// The epoch a miss was seen at, taken before the database read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

impl SessionCache {
    /// `size` sessions and as many users (0: no cache). `listening` is
    /// whether it may serve at once: true on SQLite, false on PostgreSQL
    /// until the listener has subscribed.
    pub fn new(size: u64, listening: bool, metrics: CacheMetrics) -> Self {
        if size == 0 {
            return Self { inner: None };
        }
        let inner = Inner {
            sessions: Cache::builder()
                .max_capacity(size)
                .time_to_live(TIME_TO_LIVE)
                .build(),
            users: Cache::builder()
                .max_capacity(size)
                .time_to_live(TIME_TO_LIVE)
                .build(),
            epoch: AtomicU64::new(0),
            enabled: AtomicBool::new(listening),
            versions: AtomicU64::new(0),
            metrics,
        };
        Self {
            inner: Some(Arc::new(inner)),
        }
    }

    pub fn disabled() -> Self {
        Self { inner: None }
    }

    pub fn lookup(&self, sid: &SessionId) -> Lookup {
        let Some(inner) = &self.inner else {
            return Lookup::Bypass;
        };
        // The epoch first: a ticket must predate the enabled check and the read.
        let epoch = inner.epoch.load(Ordering::SeqCst);
        if !inner.enabled.load(Ordering::SeqCst) {
            inner.metrics.bypass();
            return Lookup::Bypass;
        }
        if let Some(cached) = inner.sessions.get(sid) {
            if let Some(user) = inner.users.get(&cached.session.user_id) {
                if user.version == cached.user_version {
                    inner.metrics.hit();
                    return Lookup::Hit(cached.session, user.user);
                }
            }
        }
        inner.metrics.miss();
        Lookup::Miss(Ticket(epoch))
    }

    /// Keep what a miss read from the database, unless something was
    /// forgotten since its ticket was taken (it may be stale).
    pub fn fill(&self, ticket: Ticket, session: &Session, user: &User) {
        let Some(inner) = &self.inner else {
            return;
        };
        if !inner.still(ticket) || session.user_id != user.id {
            return;
        }
        let user_entry = inner.users.get_with(user.id, || CachedUser {
            user: Arc::new(user.clone()),
            version: inner.versions.fetch_add(1, Ordering::SeqCst),
        });
        inner.sessions.insert(
            session.id.clone(),
            CachedSession {
                session: Arc::new(session.clone()),
                user_version: user_entry.version,
            },
        );
        if !inner.still(ticket) {
            // An invalidation ran between the check and the inserts: it may
            // have missed them, so take them out again.
            inner.sessions.invalidate(&session.id);
            inner.users.invalidate(&user.id);
        }
    }

    /// Forget what these changes made stale.
    pub fn forget(&self, changes: impl IntoIterator<Item = Change>) {
        let Some(inner) = &self.inner else {
            return;
        };
        for change in changes {
            // The epoch before the removal: a reader that re-checks after its
            // insert either sees the new epoch or inserted before the removal.
            inner.epoch.fetch_add(1, Ordering::SeqCst);
            match change {
                Change::Session(id) => inner.sessions.invalidate(&id),
                Change::User(id) => inner.users.invalidate(&id),
            }
            inner.metrics.invalidated("change");
        }
    }

    /// Forget everything (a notification that could not be read).
    pub fn forget_all(&self) {
        if let Some(inner) = &self.inner {
            inner.clear();
            inner.metrics.invalidated("all");
        }
    }

    /// The listener subscribed (`true`) or lost its connection (`false`).
    /// Either way everything is forgotten: notifications may have been
    /// missed while it was down. Going down stops serving first; coming up
    /// serves only once the cache is empty.
    pub fn set_listening(&self, listening: bool) {
        let Some(inner) = &self.inner else {
            return;
        };
        if listening {
            inner.clear();
            inner.enabled.store(true, Ordering::SeqCst);
            inner.epoch.fetch_add(1, Ordering::SeqCst);
        } else {
            inner.enabled.store(false, Ordering::SeqCst);
            inner.clear();
        }
        inner.metrics.listener_connected(listening);
        inner.metrics.invalidated("listener");
    }

    /// Whether there is a cache at all (AUTH_SESSION_CACHE_SIZE is not 0).
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Whether lookups may hit now.
    pub fn is_serving(&self) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|inner| inner.enabled.load(Ordering::SeqCst))
    }
}

impl Inner {
    fn still(&self, ticket: Ticket) -> bool {
        self.enabled.load(Ordering::SeqCst) && self.epoch.load(Ordering::SeqCst) == ticket.0
    }

    fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.sessions.invalidate_all();
        self.users.invalidate_all();
    }
}
