//! The token rules the operator configures.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use jsonwebtoken::Algorithm;

#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub algorithm: Algorithm,
    pub access_lifetime: Duration,
    pub refresh_lifetime: Duration,
    /// Absolute limit of a session from its login, however often refreshed.
    pub session_lifetime: Duration,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// Seconds of clock skew allowed on `exp` and `nbf`.
    pub leeway: u64,
    pub rotate_refresh_tokens: bool,
}

impl Default for TokenSettings {
    /// The contract's defaults.
    fn default() -> Self {
        Self {
            algorithm: Algorithm::HS256,
            access_lifetime: Duration::minutes(5),
            refresh_lifetime: Duration::days(1),
            session_lifetime: Duration::days(30),
            issuer: None,
            audience: None,
            leeway: 0,
            rotate_refresh_tokens: true,
        }
    }
}

impl TokenSettings {
    /// The instant a refresh token's record must expire after for the token
    /// to be one the codec still accepts. jsonwebtoken takes a whole-second
    /// `exp` up to the end of that second plus the leeway; the record must not
    /// be stricter, or a token the codec accepts would be refused as ended
    /// (and flushed) while a simplejwt client still holds a valid token.
    pub fn refresh_record_cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        i64::try_from(self.leeway)
            .ok()
            .and_then(|leeway| leeway.checked_add(1))
            .and_then(Duration::try_seconds)
            .and_then(|accepted| now.trunc_subsecs(0).checked_sub_signed(accepted))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}
