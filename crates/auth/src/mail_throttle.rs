//! Throttling of the requests that send mail (password reset, resent
//! verification), per e-mail address and per client address, over the shared
//! counters of `domain::login_failures`: in the database, so they hold across
//! replicas and restarts. Every request that is let through counts, whether
//! or not the address exists (the answer must not tell); a refused one does
//! not. Addresses are counted by their SHA-256, so the table never holds an
//! address somebody typed.

use chrono::{DateTime, Duration, Utc};
use domain::login_failures::{self, FailureScope};
use domain::time::{from_db, to_db};
use domain::{DbConnection, MailKind, QueryError};
use sha2::{Digest, Sha256};

use crate::throttle::Throttled;

#[derive(Debug, Clone)]
pub struct MailThrottle {
    pub max_per_email: u32,
    pub max_per_client: u32,
    pub window: Duration,
}

impl Default for MailThrottle {
    /// 5 an hour to one address (an inbox is not flooded), 20 an hour from
    /// one client.
    fn default() -> Self {
        Self {
            max_per_email: 5,
            max_per_client: 20,
            window: Duration::hours(1),
        }
    }
}

fn scopes(kind: MailKind) -> (FailureScope, FailureScope) {
    match kind {
        MailKind::PasswordReset => (FailureScope::ResetEmail, FailureScope::ResetClient),
        MailKind::EmailVerification => (FailureScope::VerifyEmail, FailureScope::VerifyClient),
    }
}

/// The counter's subject for an address: SHA-256 of its lower-case form, hex.
pub fn email_subject(email: &str) -> String {
    Sha256::digest(email.to_lowercase().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl MailThrottle {
    /// Count one request, or refuse it (uncounted) when the address or the
    /// client has used up its window. Call inside the request's transaction.
    pub fn count(
        &self,
        conn: &mut DbConnection,
        kind: MailKind,
        email: &str,
        client: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Result<(), Throttled>, QueryError> {
        let (email_scope, client_scope) = scopes(kind);
        let email = email_subject(email);
        let subjects: Vec<(FailureScope, &str, u32)> =
            std::iter::once((email_scope, email.as_str(), self.max_per_email))
                .chain(client.map(|c| (client_scope, c, self.max_per_client)))
                .collect();
        let mut longest: Option<Throttled> = None;
        for &(scope, subject, max) in &subjects {
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
        if let Some(throttled) = longest {
            return Ok(Err(throttled));
        }
        for (scope, subject, _) in subjects {
            login_failures::record_failure(conn, scope, subject, to_db(now), self.window)?;
        }
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_counted_by_their_hash_in_any_case() {
        let a = email_subject("Alice@Example.com");
        assert_eq!(a, email_subject("alice@example.com"));
        assert_eq!(a.len(), 64);
        assert!(!a.contains("alice"));
    }
}
