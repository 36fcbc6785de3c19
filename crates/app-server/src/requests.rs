//! Request bodies: each is parsed from the JSON object field by field with
//! [`Form`], so every missing or mistyped field is reported, and documents
//! itself in the OpenAPI schema.

pub mod recovery;

use auth::policy::{email_problems, password_problems, username_problems};
use auth::SecretString;
use domain::normalize_username;
use serde_json::Value;
use utoipa::ToSchema;

use crate::errors::ApiError;
use crate::extract::Form;

#[derive(ToSchema)]
#[schema(examples(json!({"username": "alice", "password": "correct horse battery staple"})))]
pub struct LoginRequest {
    #[schema(min_length = 1)]
    pub username: String,
    #[schema(value_type = String, format = Password, min_length = 1)]
    pub password: SecretString,
}

impl LoginRequest {
    pub fn parse(body: Value) -> Result<Self, ApiError> {
        let mut form = Form::new(body)?;
        // NFKC, the stored form: the lookup and the throttle's count see
        // one name however it is spelled.
        let username = normalize_username(&form.required_str("username"));
        let password = SecretString::from(form.required_str("password"));
        form.finish()?;
        Ok(Self { username, password })
    }
}

/// `{"refresh"}` of the refresh and blacklist endpoints.
#[derive(ToSchema)]
#[schema(examples(json!({"refresh": "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"})))]
pub struct RefreshRequest {
    #[schema(min_length = 1)]
    pub refresh: String,
}

impl RefreshRequest {
    pub fn parse(body: Value) -> Result<Self, ApiError> {
        let mut form = Form::new(body)?;
        let refresh = form.required_str("refresh");
        form.finish()?;
        Ok(Self { refresh })
    }
}

/// `{"token"}` with a sliding token: the sliding refresh's body, and one
/// of the blacklist endpoint's.
#[derive(ToSchema)]
#[schema(examples(json!({"token": "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"})))]
pub struct SlidingTokenRequest {
    #[schema(min_length = 1)]
    pub token: String,
}

impl SlidingTokenRequest {
    pub fn parse(body: Value) -> Result<Self, ApiError> {
        let VerifyRequest { token } = VerifyRequest::parse(body)?;
        Ok(Self { token })
    }
}

/// The blacklist endpoint's body: simplejwt's `{"refresh"}`, or `{"token"}`
/// with a sliding token.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum BlacklistRequest {
    Refresh(RefreshRequest),
    Sliding(SlidingTokenRequest),
}

impl BlacklistRequest {
    /// `token` without `refresh` is a sliding token; anything else is read as
    /// `{"refresh"}`, whose errors a simplejwt client expects.
    pub fn parse(body: Value) -> Result<Self, ApiError> {
        let sliding = body.get("token").is_some() && body.get("refresh").is_none();
        if sliding {
            SlidingTokenRequest::parse(body).map(Self::Sliding)
        } else {
            RefreshRequest::parse(body).map(Self::Refresh)
        }
    }
}

#[derive(ToSchema)]
#[schema(examples(json!({"token": "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"})))]
pub struct VerifyRequest {
    #[schema(min_length = 1)]
    pub token: String,
}

impl VerifyRequest {
    pub fn parse(body: Value) -> Result<Self, ApiError> {
        let mut form = Form::new(body)?;
        let token = form.required_str("token");
        form.finish()?;
        Ok(Self { token })
    }
}

#[derive(ToSchema)]
#[schema(examples(json!({
    "username": "alice",
    "password": "correct horse battery staple",
    "email": "alice@example.com"
})))]
pub struct RegisterRequest {
    /// 1 to 150 Unicode letters, digits and @.+-_ (Django's
    /// UnicodeUsernameValidator), compared case-sensitively
    #[schema(min_length = 1, max_length = 150)]
    pub username: String,
    /// At least 8 characters, at most 72 bytes in UTF-8, not one of the
    /// common passwords, not the username
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 72)]
    pub password: SecretString,
    /// At most 254 characters with one @ between non-empty parts, no
    /// whitespace or control characters; empty or null means none
    #[schema(max_length = 254, pattern = "^([^@]+@[^@]+)?$")]
    pub email: Option<String>,
}

impl RegisterRequest {
    /// Parse and apply the username, email and password policies.
    pub fn parse(body: Value) -> Result<Self, ApiError> {
        let mut form = Form::new(body)?;
        // Checked and stored in its NFKC form, as Django's user model does.
        let username = normalize_username(&form.required_str("username"));
        let password = form.required_str("password");
        // An empty email is no email, as a blank Django EmailField.
        let email = form.optional_str("email").filter(|e| !e.is_empty());
        if !form.has_error("username") {
            form.errors("username", username_problems(&username));
        }
        if let Some(email) = &email {
            form.errors("email", email_problems(email));
        }
        if !form.has_error("password") {
            form.errors("password", password_problems(&password, &username));
        }
        form.finish()?;
        Ok(Self {
            username,
            password: SecretString::from(password),
            email,
        })
    }
}

#[derive(ToSchema)]
#[schema(examples(json!({
    "old_password": "correct horse battery staple",
    "new_password": "another horse, another battery"
})))]
pub struct PasswordChangeRequest {
    #[schema(value_type = String, format = Password, min_length = 1)]
    pub old_password: SecretString,
    /// The password policy of registration
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 72)]
    pub new_password: SecretString,
}

impl PasswordChangeRequest {
    /// Parse and apply the password policy to the new password.
    pub fn parse(body: Value, username: &str) -> Result<Self, ApiError> {
        let mut form = Form::new(body)?;
        let old_password = form.required_str("old_password");
        let new_password = form.required_str("new_password");
        if !form.has_error("new_password") {
            form.errors("new_password", password_problems(&new_password, username));
        }
        form.finish()?;
        Ok(Self {
            old_password: SecretString::from(old_password),
            new_password: SecretString::from(new_password),
        })
    }
}

/// The admin-editable flags; an absent flag is left as it is.
#[derive(ToSchema)]
#[schema(examples(json!({"is_active": false})))]
pub struct UserPatch {
    // may be absent, never null: typed as the flag itself
    #[schema(value_type = bool, required = false)]
    pub is_active: Option<bool>,
    #[schema(value_type = bool, required = false)]
    pub is_admin: Option<bool>,
}

impl UserPatch {
    pub fn parse(body: Value) -> Result<Self, ApiError> {
        let mut form = Form::new(body)?;
        let is_active = form.optional_bool("is_active");
        let is_admin = form.optional_bool("is_admin");
        form.finish()?;
        Ok(Self {
            is_active,
            is_admin,
        })
    }
}
