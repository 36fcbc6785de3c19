//! Issuing and checking everything: tokens, keys and JWKS, password hashing and
//! policy, login throttling, and the session rules over `domain`. No HTTP here,
//! so the server's routes stay thin.

pub mod authority;
pub mod claims;
pub mod codec;
pub mod keys;
pub mod mail_throttle;
pub mod passwords;
pub mod policy;
pub mod recovery;
pub mod reset_tokens;
pub mod settings;
pub mod throttle;

pub use authority::login::LoginClient;
pub use authority::refresh::{Presentation, RESEND_WINDOW};
pub use authority::revocation::{change_password, flush_expired, FlushCounts};
pub use authority::{Authority, TokenError, TokenPair};
pub use claims::{Claims, TokenType};
pub use codec::{SignError, TokenCodec, VerifyError, MAX_TOKEN_BYTES};
pub use keys::{parse_algorithm, KeyError, KeySet, KeySource, MIN_SECRET_BYTES};
pub use mail_throttle::MailThrottle;
pub use passwords::{Checked, HashError, HashKind, PasswordHasher, MAX_PASSWORD_BYTES};
pub use recovery::{Recovery, RecoveryError, RecoverySettings};
pub use settings::{
    SlidingMode, SlidingSettings, TokenSettings, MAX_LEEWAY_SECONDS,
    MAX_REFRESH_REUSE_INTERVAL_SECONDS,
};
pub use throttle::{LoginThrottle, Throttled};

pub use jsonwebtoken::jwk::JwkSet;
pub use jsonwebtoken::Algorithm;
pub use secrecy::{ExposeSecret, SecretString};
