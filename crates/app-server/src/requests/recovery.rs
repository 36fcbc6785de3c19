//! The bodies of the account-recovery routes, as dj-rest-auth names their
//! fields.

use auth::policy::{email_problems, password_problems};
use auth::SecretString;
use serde_json::Value;
use utoipa::ToSchema;

use crate::errors::ApiError;
use crate::extract::Form;

/// Django's `SetPasswordForm` message.
pub const MISMATCH: &str = "The two password fields didn’t match.";

/// `{"email"}` of the password-reset request and of the verification resend.
#[derive(ToSchema)]
pub struct EmailRequest {
    /// an address: one `@`, something either side, no space or control character
    #[schema(
        min_length = 1,
        max_length = 254,
        pattern = r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+$"
    )]
    pub email: String,
}

impl EmailRequest {
    pub fn parse(body: Value) -> Result<Self, ApiError> {
        let mut form = Form::new(body)?;
        let email = form.required_str("email");
        if !form.has_error("email") {
            form.errors("email", email_problems(&email));
        }
        form.finish()?;
        Ok(Self { email })
    }
}

/// `{"uid","token","new_password1","new_password2"}`.
#[derive(ToSchema)]
pub struct ResetConfirmRequest {
    /// base64url of the user's id, from the link
    #[schema(min_length = 1)]
    pub uid: String,
    /// from the link
    #[schema(min_length = 1)]
    pub token: String,
    #[schema(value_type = String, format = Password, min_length = 1)]
    pub new_password1: SecretString,
    #[schema(value_type = String, format = Password, min_length = 1)]
    pub new_password2: SecretString,
}

impl ResetConfirmRequest {
    /// The fields' presence and types only: the token is checked before the
    /// passwords, as dj-rest-auth does ([`ResetConfirmRequest::password_problems`]).
    pub fn parse(body: Value) -> Result<Self, ApiError> {
        let mut form = Form::new(body)?;
        let uid = form.required_str("uid");
        let token = form.required_str("token");
        let new_password1 = form.required_str("new_password1");
        let new_password2 = form.required_str("new_password2");
        form.finish()?;
        Ok(Self {
            uid,
            token,
            new_password1: SecretString::from(new_password1),
            new_password2: SecretString::from(new_password2),
        })
    }

    /// Django's `SetPasswordForm`: a mismatch, else the password policy of
    /// registration, both reported on `new_password2`.
    pub fn password_problems(&self, username: &str) -> Result<(), ApiError> {
        use auth::ExposeSecret;
        let (one, two) = (
            self.new_password1.expose_secret(),
            self.new_password2.expose_secret(),
        );
        let problems = if one != two {
            vec![MISMATCH.to_owned()]
        } else {
            password_problems(two, username)
        };
        if problems.is_empty() {
            return Ok(());
        }
        Err(ApiError::fields(
            [("new_password2".to_owned(), problems)].into(),
        ))
    }
}

/// `{"key"}` of the verification link.
#[derive(ToSchema)]
pub struct VerifyEmailRequest {
    #[schema(min_length = 1)]
    pub key: String,
}

impl VerifyEmailRequest {
    pub fn parse(body: Value) -> Result<Self, ApiError> {
        let mut form = Form::new(body)?;
        let key = form.required_str("key");
        form.finish()?;
        Ok(Self { key })
    }
}
