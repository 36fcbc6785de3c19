//! Login: a user whose credentials were checked gets a new family.

use chrono::{DateTime, Utc};
use domain::time::to_db;
use domain::{write_transaction, DbConnection, RefreshToken, Session, SessionId, User};

use super::{Authority, Issued, TokenError, TokenPair};

impl Authority {
    /// Open a session for a user whose credentials were checked, record the
    /// login, and issue its first pair.
    pub fn login(
        &self,
        conn: &mut DbConnection,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, TokenError> {
        let session = Session {
            id: SessionId::random(),
            user_id: user.id,
            created_at: to_db(now),
            expires_at: to_db(now + self.settings.session_lifetime),
            revoked_at: None,
            revoked_reason: None,
        };
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
