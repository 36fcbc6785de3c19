//! The claims of our token types, as simplejwt 5.5 names them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
    /// simplejwt's `SlidingToken`: authenticates like an access token and is
    /// refreshed by itself until `refresh_exp`.
    Sliding,
}

/// One struct for every type: `/api/token/verify/` accepts any, and the
/// claims of one type only are simply absent from the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub token_type: TokenType,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    /// The user id as a string.
    pub sub: String,
    /// The same id, as simplejwt 5.5 writes it.
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Informational for clients; admin rights come from the database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<bool>,
    /// The session (refresh-token family) the token was issued from.
    pub sid: String,
    /// Sliding tokens only: until when the token can be refreshed (simplejwt's
    /// `SLIDING_TOKEN_REFRESH_EXP_CLAIM`), kept by every refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}
