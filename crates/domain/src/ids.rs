//! Newtype ids, so a user id is never passed where a session id is expected.

use std::fmt;

use diesel_derive_newtype::DieselNewType;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, DieselNewType)]
pub struct UserId(pub i64);

/// A session is one refresh-token family; its id is the `sid` claim.
#[derive(Debug, Clone, PartialEq, Eq, Hash, DieselNewType)]
pub struct SessionId(pub String);

/// A token's `jti` claim: the only form in which refresh tokens are stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, DieselNewType)]
pub struct TokenId(pub String);

/// 32 lowercase hex digits, as simplejwt writes `uuid4().hex`.
fn random_hex_id() -> String {
    Uuid::new_v4().simple().to_string()
}

impl SessionId {
    pub fn random() -> Self {
        Self(random_hex_id())
    }
}

impl TokenId {
    pub fn random() -> Self {
        Self(random_hex_id())
    }
}

macro_rules! display_inner {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}
display_inner!(UserId, SessionId, TokenId);
