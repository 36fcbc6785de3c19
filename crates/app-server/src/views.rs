//! Response bodies.

use std::collections::BTreeMap;

use chrono::SecondsFormat;
use domain::time::{from_db, Timestamp};
use domain::User;
use serde::Serialize;
use utoipa::ToSchema;

/// A user as the API shows it: never the password hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    // always present, null when there is none
    #[schema(required = true)]
    pub email: Option<String>,
    pub is_admin: bool,
    pub is_active: bool,
    /// RFC 3339, in UTC
    #[schema(format = DateTime)]
    pub date_joined: String,
    /// RFC 3339 in UTC, null before the first login
    #[schema(format = DateTime, required = true)]
    pub last_login: Option<String>,
    /// The address was proven by its verification link (or given by the operator)
    pub email_verified: bool,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.0,
            username: u.username.clone(),
            email: u.email.clone(),
            is_admin: u.is_admin,
            is_active: u.is_active,
            date_joined: rfc3339(u.date_joined),
            last_login: u.last_login.map(rfc3339),
            email_verified: u.email_verified,
        }
    }
}

fn rfc3339(at: Timestamp) -> String {
    from_db(at).to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub count: i64,
    pub results: Vec<UserView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPairView {
    pub access: String,
    /// Absent when refresh tokens are not rotated.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    pub refresh: Option<String>,
}

/// The tokens of a login or refresh for a browser in cookie mode: the
/// refresh token (and in mode `both` the access token) went into cookies.
#[derive(Debug, Serialize, ToSchema)]
pub struct BrowserTokensView {
    /// The access token; absent in cookie mode `both`
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    pub access: Option<String>,
    /// Seconds until the access token expires
    pub expires_in: i64,
}

/// A sliding token: the body of the sliding obtain and refresh.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlidingTokenView {
    pub token: String,
}

/// `{}`: the body of verify and blacklist.
#[derive(Debug, Serialize, ToSchema)]
pub struct Empty {}

#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    pub status: &'static str,
}

/// The error envelope of every status >= 400.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A human sentence
    pub detail: String,
    /// The machine code, one per status (docs/API.md, Conventions)
    #[schema(schema_with = crate::openapi::error_code_schema)]
    pub code: String,
    /// Validation errors: the messages of each refused field
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = BTreeMap<String, Vec<String>>, required = false)]
    pub fields: Option<BTreeMap<String, Vec<String>>>,
}

/// A live session (one login's refresh-token family) as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// The session's id: the `sid` claim of its tokens, 32 lowercase hex digits
    #[schema(pattern = "^[0-9a-f]{32}$")]
    pub id: String,
    /// RFC 3339 in UTC: the login
    #[schema(format = DateTime)]
    pub created_at: String,
    /// RFC 3339 in UTC, null before the first refresh
    #[schema(format = DateTime, required = true)]
    pub last_refreshed_at: Option<String>,
    /// RFC 3339 in UTC: the session's absolute limit
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// The login's `User-Agent` (at most 256 characters), null without one
    #[schema(required = true)]
    pub user_agent: Option<String>,
    /// The login's client address, null when unknown
    #[schema(required = true)]
    pub ip: Option<String>,
    /// The session of the token that asked
    pub current: bool,
}

impl SessionView {
    pub fn new(s: &domain::Session, current: &domain::SessionId) -> Self {
        Self {
            id: s.id.0.clone(),
            created_at: rfc3339(s.created_at),
            last_refreshed_at: s.last_refreshed_at.map(rfc3339),
            expires_at: rfc3339(s.expires_at),
            user_agent: s.user_agent.clone(),
            ip: s.ip.clone(),
            current: *current == s.id,
        }
    }
}
