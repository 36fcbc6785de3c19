//! The token rules the operator configures.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use jsonwebtoken::Algorithm;

/// The longest clock-skew allowance taken, one day. Beyond it a token's
/// expiry means little; and jsonwebtoken computes `now - leeway` in `u64`
/// seconds, which a leeway of more than ~56 years would underflow (a panic
/// on every request in a debug build, every token "expired" in release).
pub const MAX_LEEWAY_SECONDS: u64 = 86_400;

#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub algorithm: Algorithm,
    pub access_lifetime: Duration,
    pub refresh_lifetime: Duration,
    /// Absolute limit of a session from its login, however often refreshed.
    pub session_lifetime: Duration,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// Seconds of clock skew allowed on `exp` and `nbf`; at most
    /// [`MAX_LEEWAY_SECONDS`] are taken.
    pub leeway: u64,
    pub rotate_refresh_tokens: bool,
    /// simplejwt's sliding tokens: whether they are issued and accepted, and
    /// their two lifetimes.
    pub sliding: SlidingSettings,
    /// How long after a rotation the just-retired refresh token, presented
    /// again, gets the same successor instead of counting as reuse (a second
    /// tab, a client's retry); zero turns it off. See `authority::refresh`.
    pub refresh_reuse_interval: Duration,
}

/// Whether sliding tokens are issued: `Off` (and refused everywhere, as a
/// simplejwt resource server without `SlidingToken` in `AUTH_TOKEN_CLASSES`
/// refuses them), `On` beside token pairs, or `Only` instead of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlidingMode {
    #[default]
    Off,
    On,
    Only,
}

#[derive(Debug, Clone)]
pub struct SlidingSettings {
    pub mode: SlidingMode,
    /// Lifetime of each sliding token (simplejwt's `SLIDING_TOKEN_LIFETIME`).
    pub lifetime: Duration,
    /// How long from the login a sliding token can be refreshed
    /// (`SLIDING_TOKEN_REFRESH_LIFETIME`): the `refresh_exp` claim, and the
    /// absolute end of its session.
    pub refresh_lifetime: Duration,
}

impl Default for SlidingSettings {
    /// The contract's defaults, simplejwt's.
    fn default() -> Self {
        Self {
            mode: SlidingMode::Off,
            lifetime: Duration::minutes(5),
            refresh_lifetime: Duration::days(1),
        }
    }
}

/// The longest reuse interval taken: it is for requests in flight together,
/// and every second of it is a second in which a stolen retired token still
/// buys an access token (while the successor is unused).
pub const MAX_REFRESH_REUSE_INTERVAL_SECONDS: i64 = 60;

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
            sliding: SlidingSettings::default(),
            refresh_reuse_interval: Duration::zero(),
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
        let accepted = Duration::seconds(self.leeway_seconds().cast_signed() + 1);
        now.trunc_subsecs(0) - accepted
    }

    /// The leeway the codec applies.
    pub fn leeway_seconds(&self) -> u64 {
        self.leeway.min(MAX_LEEWAY_SECONDS)
    }
}
