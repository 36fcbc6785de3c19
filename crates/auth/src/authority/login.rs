//! Login: a user whose credentials were checked gets a new family.

use chrono::{DateTime, Utc};
use domain::sessions::truncate_user_agent;
use domain::time::to_db;
use domain::{write_transaction, DbConnection, RefreshToken, Session, SessionId, User};

use super::{Authority, Issued, TokenError, TokenPair};

/// What the session keeps of the client that logged in, for its owner's list
/// of sessions.
#[derive(Debug, Clone, Default)]
pub struct LoginClient {
    /// The `User-Agent`; cut to `domain::sessions::MAX_USER_AGENT` characters.
    pub user_agent: Option<String>,
    /// The client address, as throttling takes it.
    pub ip: Option<String>,
}

impl Authority {
    /// [`Authority::login_from`] a client that is not recorded.
    pub fn login(
        &self,
        conn: &mut DbConnection,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, TokenError> {
        self.login_from(conn, user, &LoginClient::default(), now)
    }

    /// Open a session for a user whose credentials were checked, record the
    /// login, and issue its first pair.
    pub fn login_from(
        &self,
        conn: &mut DbConnection,
        user: &User,
        client: &LoginClient,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, TokenError> {
        let session = new_session(user, client, now, now + self.settings.session_lifetime);
        let refresh = self.new_refresh_record(&session, now);
        write_transaction(conn, |c| {
            Session::open(c, &session)?;
            RefreshToken::record(c, &refresh)?;
            User::record_login(c, user.id, to_db(now))
        })?;
        self.sign_pair(
            &Issued {
                session,
                user: user.clone(),
                refresh: Some(refresh),
            },
            now,
        )
    }
}

/// A session opened now by `user`'s login from `client`, ending at `end`.
pub(super) fn new_session(
    user: &User,
    client: &LoginClient,
    now: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Session {
    Session {
        id: SessionId::random(),
        user_id: user.id,
        created_at: to_db(now),
        expires_at: to_db(end),
        revoked_at: None,
        revoked_reason: None,
        user_agent: client
            .user_agent
            .as_deref()
            .map(|a| truncate_user_agent(a).to_owned()),
        ip: client.ip.clone(),
        last_refreshed_at: None,
    }
}
