//! The token rules the operator configures.

use chrono::Duration;
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
