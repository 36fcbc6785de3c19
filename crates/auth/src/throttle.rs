//! Login throttling by username and by client address, over the shared
//! counters of `domain::login_failures`.

use chrono::{DateTime, Duration, Utc};
use domain::login_failures::{self, FailureScope};
use domain::time::{from_db, to_db};
use domain::{write_transaction, DbConnection, QueryError};

#[derive(Debug, Clone)]
pub struct LoginThrottle {
    pub max_username_failures: u32,
    pub max_address_failures: u32,
    pub window: Duration,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self {
            max_username_failures: 10,
            max_address_failures: 100,
            window: Duration::minutes(15),
        }
    }
}

/// Refused until the window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// Whole seconds, at least 1.
    pub retry_after_secs: u64,
}

impl LoginThrottle {
    /// `Err(Throttled)` when the username or the address has used up its window.
    pub fn check(
        &self,
        conn: &mut DbConnection,
        username: &str,
        address: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Result<(), Throttled>, QueryError> {
        let mut longest: Option<Throttled> = None;
        for (scope, subject, max) in self.subjects(username, address) {
            let Some(window) =
                login_failures::current_window(conn, scope, subject, to_db(now), self.window)?
            else {
                continue;
            };
            if window.failures >= i32::try_from(max).unwrap_or(i32::MAX) {
                let ends = from_db(window.started_at) + self.window;
                let millis = u64::try_from((ends - now).num_milliseconds()).unwrap_or(0);
                let secs = millis.div_ceil(1000).max(1);
                if longest.is_none_or(|t| t.retry_after_secs < secs) {
                    longest = Some(Throttled {
                        retry_after_secs: secs,
                    });
                }
            }
        }
        Ok(longest.map_or(Ok(()), Err))
    }

    /// Count one failed login against the username and the address.
    pub fn record_failure(
        &self,
        conn: &mut DbConnection,
        username: &str,
        address: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), QueryError> {
        write_transaction(conn, |conn| {
            for (scope, subject, _) in self.subjects(username, address) {
                login_failures::record_failure(conn, scope, subject, to_db(now), self.window)?;
            }
            Ok(())
        })
    }

    pub fn delete_expired(
        &self,
        conn: &mut DbConnection,
        now: DateTime<Utc>,
    ) -> Result<usize, QueryError> {
        login_failures::delete_expired(conn, to_db(now), self.window)
    }

    fn subjects<'a>(
        &self,
        username: &'a str,
        address: Option<&'a str>,
    ) -> impl Iterator<Item = (FailureScope, &'a str, u32)> {
        std::iter::once((FailureScope::Username, username, self.max_username_failures))
            .chain(address.map(|a| (FailureScope::Address, a, self.max_address_failures)))
    }
}
