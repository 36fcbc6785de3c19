//! Users written straight into a test database, for tests below HTTP.

use chrono::{DateTime, TimeDelta, Utc};
use domain::time::{to_db, Timestamp};
use domain::{DbConnection, NewUser, Session, SessionId, User, UserId};

/// A stored bcrypt-shaped string that no password matches: tests that log
/// in through `auth` hash a real password with [`crate::codecs::hasher`].
pub const NOT_A_HASH: &str = "$2b$04$notarealhashnotarealhashnotarealhashnotarealhashnot";

/// The current time as the database stores it.
pub fn now_db() -> Timestamp {
    to_db(Utc::now())
}

/// An active, non-admin user with an email, joining at `at`.
pub fn new_user(username: &str, at: Timestamp) -> NewUser<'_> {
    NewUser {
        username,
        email: Some("someone@example.com"),
        password_hash: NOT_A_HASH,
        is_active: true,
        is_admin: false,
        date_joined: at,
        password_changed_at: at,
    }
}

/// An active user whose password last changed at `at`.
pub fn add_user_at(
    conn: &mut DbConnection,
    username: &str,
    is_admin: bool,
    at: DateTime<Utc>,
) -> User {
    let new = NewUser {
        is_admin,
        ..new_user(username, to_db(at))
    };
    User::create(conn, &new).expect("user created")
}

/// An active, non-admin user joining now.
pub fn add_user(conn: &mut DbConnection, username: &str) -> User {
    add_user_at(conn, username, false, Utc::now())
}

/// A live session of `user`, opened now and ending after `lifetime`, with no
/// client recorded.
pub fn open_session(conn: &mut DbConnection, user: UserId, lifetime: TimeDelta) -> Session {
    let at = now_db();
    let session = Session {
        id: SessionId::random(),
        user_id: user,
        created_at: at,
        expires_at: at + lifetime,
        revoked_at: None,
        revoked_reason: None,
        user_agent: None,
        ip: None,
        last_refreshed_at: None,
    };
    Session::open(conn, &session).expect("the session is stored");
    session
}
