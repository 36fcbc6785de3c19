//! Request bodies: each is parsed from the JSON object field by field with
//! [`Form`], so every missing or mistyped field is reported, and documents
//! itself in the OpenAPI schema.

pub mod recovery;

use auth::policy::{email_problems, password_problems, username_problems};
use auth::SecretString;
use serde_json::Value;
use utoipa::ToSchema;

use crate::errors::ApiError;
use crate::extract::Form;

#[derive(ToSchema)]
pub struct LoginRequest {
    pub username: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

impl LoginRequest {
    pub fn parse(body: Value) -> Result<Self, ApiError> {
        let mut form = Form::new(body)?;
        let username = form.required_str("username");
        let password = SecretString::from(form.required_str("password"));
        form.finish()?;
        Ok(Self { username, password })
    }
}

/// `{"refresh"}` of the refresh and blacklist endpoints.
#[derive(ToSchema)]
pub struct RefreshRequest {
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

#[derive(ToSchema)]
pub struct VerifyRequest {
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
pub struct RegisterRequest {
    /// 1 to 150 letters, digits and @.+-_
    pub username: String,
    /// At least 8 characters, at most 72 bytes, not common, not the username
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
    pub email: Option<String>,
}

impl RegisterRequest {
    /// Parse and apply the username, email and password policies.
    pub fn parse(body: Value) -> Result<Self, ApiError> {
        let mut form = Form::new(body)?;
        let username = form.required_str("username");
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
pub struct PasswordChangeRequest {
    #[schema(value_type = String, format = Password)]
    pub old_password: SecretString,
    #[schema(value_type = String, format = Password)]
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
pub struct UserPatch {
    pub is_active: Option<bool>,
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
