//! The one error type of the HTTP layer. Its single `ResponseError` match sets
//! the status, the contract's `code`, and the headers (`WWW-Authenticate`,
//! `Retry-After`); every body is the envelope
//! `{"detail": ..., "code": ...[, "fields": {...}]}`.
//!
//! Causes of 500s and 503s are logged here and never sent to the client.

use std::collections::BTreeMap;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use auth::TokenError;
use domain::QueryError;
use serde::Serialize;

pub type FieldErrors = BTreeMap<String, Vec<String>>;

pub const REALM: &str = "Bearer realm=\"api\"";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{detail}")]
    Invalid {
        detail: String,
        fields: Option<FieldErrors>,
    },
    #[error("Authentication credentials were not provided.")]
    NotAuthenticated,
    #[error("{0}")]
    BadAuthorizationHeader(&'static str),
    #[error("{0}")]
    TokenNotValid(&'static str),
    #[error("No active account found with the given credentials")]
    NoActiveAccount,
    /// Mandatory verification: the password was right, the address is not proven.
    #[error("E-mail is not verified.")]
    EmailNotVerified,
    #[error("{0}")]
    PermissionDenied(&'static str),
    /// A cookie-fed request from an untrusted origin or without the
    /// double-submitted CSRF token.
    #[error("{0}")]
    CsrfFailed(&'static str),
    #[error("Not found.")]
    NotFound,
    #[error("Method \"{method}\" not allowed.")]
    MethodNotAllowed {
        method: actix_web::http::Method,
        allow: actix_web::http::Method,
    },
    #[error("A user with that username already exists.")]
    UsernameTaken,
    #[error("Request body is too large.")]
    PayloadTooLarge,
    #[error("Unsupported media type; send application/json.")]
    UnsupportedMediaType,
    #[error("Request was throttled. Expected available in {retry_after} seconds.")]
    Throttled { retry_after: u64 },
    #[error("The service is temporarily unavailable.")]
    Unavailable,
    #[error("Internal server error.")]
    Internal,
}

#[derive(Serialize)]
struct Envelope<'a> {
    detail: String,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a FieldErrors>,
}

impl ApiError {
    /// A 400 for one field.
    pub fn field(name: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            detail: "Invalid input.".to_owned(),
            fields: Some(BTreeMap::from([(name.to_owned(), vec![message.into()])])),
        }
    }

    pub fn fields(fields: FieldErrors) -> Self {
        Self::Invalid {
            detail: "Invalid input.".to_owned(),
            fields: Some(fields),
        }
    }

    /// A 500 whose cause goes to the log only.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        log::error!("internal error: {cause}");
        Self::Internal
    }

    /// A 503 whose cause goes to the log only.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        log::warn!("database unavailable: {cause}");
        Self::Unavailable
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid",
            Self::NotAuthenticated => "not_authenticated",
            Self::BadAuthorizationHeader(_) => "bad_authorization_header",
            Self::TokenNotValid(_) => "token_not_valid",
            Self::NoActiveAccount => "no_active_account",
            Self::EmailNotVerified => "email_not_verified",
            Self::PermissionDenied(_) => "permission_denied",
            Self::CsrfFailed(_) => "csrf_failed",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::UsernameTaken => "username_taken",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Throttled { .. } => "throttled",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    /// The `WWW-Authenticate` value of a 401 (RFC 6750 §3).
    fn challenge(&self) -> Option<&'static str> {
        match self {
            Self::NotAuthenticated | Self::NoActiveAccount | Self::EmailNotVerified => Some(REALM),
            Self::BadAuthorizationHeader(_) => {
                Some("Bearer realm=\"api\", error=\"invalid_request\"")
            }
            Self::TokenNotValid(_) => Some("Bearer realm=\"api\", error=\"invalid_token\""),
            _ => None,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Invalid { .. } => StatusCode::BAD_REQUEST,
            Self::NotAuthenticated
            | Self::BadAuthorizationHeader(_)
            | Self::TokenNotValid(_)
            | Self::NoActiveAccount
            | Self::EmailNotVerified => StatusCode::UNAUTHORIZED,
            Self::PermissionDenied(_) | Self::CsrfFailed(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::UsernameTaken => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Some(challenge) = self.challenge() {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            ));
        }
        if let Self::Throttled { retry_after } = self {
            response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        if let Self::MethodNotAllowed { allow, .. } = self {
            response.insert_header((header::ALLOW, allow.as_str()));
        }
        if matches!(self, Self::Unavailable) {
            response.insert_header((header::RETRY_AFTER, "5"));
        }
        let fields = match self {
            Self::Invalid { fields, .. } => fields.as_ref(),
            _ => None,
        };
        response.json(Envelope {
            detail: self.to_string(),
            code: self.code(),
            fields,
        })
    }
}

impl From<r2d2::Error> for ApiError {
    /// The pool gave up waiting: the database is down or saturated.
    fn from(e: r2d2::Error) -> Self {
        Self::unavailable(e)
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        use domain::QueryError as E;
        match &e {
            E::NotFound => Self::NotFound,
            _ if is_unavailable(&e) => Self::unavailable(&e),
            _ => Self::internal(&e),
        }
    }
}

/// Errors that mean "try again later", not "this request is wrong": the
/// server is gone or read-only (a failover, `domain::failover`), SQLite is
/// locked, or a statement was cancelled.
fn is_unavailable(e: &QueryError) -> bool {
    if domain::is_connection_error(e) {
        return true;
    }
    let QueryError::DatabaseError(_, info) = e else {
        return false;
    };
    let message = info.message();
    message.contains("database is locked")
        || message.contains("could not connect")
        // statement_timeout (a lock held elsewhere, a stalled server), lock
        // timeouts and an administrator's pg_cancel_backend
        || message.contains("canceling statement due to")
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::internal(e)
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Database(e) => e.into(),
            TokenError::Sign(e) => Self::internal(e),
            TokenError::Invalid(auth::VerifyError::Expired) => {
                Self::TokenNotValid("Token is expired")
            }
            TokenError::Invalid(auth::VerifyError::WrongType) => {
                Self::TokenNotValid("Token has wrong type")
            }
            TokenError::Invalid(_) | TokenError::Unknown => Self::TokenNotValid("Token is invalid"),
            TokenError::Revoked | TokenError::Reused | TokenError::SessionEnded => {
                Self::TokenNotValid("Token is blacklisted")
            }
            TokenError::UserInactive => Self::TokenNotValid("User is inactive"),
            TokenError::RefreshExpired => {
                Self::TokenNotValid("Token 'refresh_exp' claim has expired")
            }
        }
    }
}

impl From<auth::VerifyError> for ApiError {
    fn from(e: auth::VerifyError) -> Self {
        TokenError::Invalid(e).into()
    }
}
