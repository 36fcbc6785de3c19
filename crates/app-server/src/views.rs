//! Response bodies.

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
    pub email: Option<String>,
    pub is_admin: bool,
    pub is_active: bool,
    /// RFC 3339
    pub date_joined: String,
    /// RFC 3339, null before the first login
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
    pub refresh: Option<String>,
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
    pub detail: String,
    pub code: String,
    #[schema(value_type = Option<Object>)]
    pub fields: Option<std::collections::BTreeMap<String, Vec<String>>>,
}
