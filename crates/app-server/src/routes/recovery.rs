//! Account recovery, with dj-rest-auth's paths and bodies: password reset
//! (request, confirm) and e-mail verification (verify, resend). Each route
//! exists only while its feature is on (see `routes::route_when`).
//!
//! The request routes answer the same whether or not the address belongs to
//! anyone, and do the same work either way: the throttle counts, the lookup,
//! one outbox insert (see `auth::Recovery::request`). Only the sender, after
//! the answer, knows whether there is anything to send.

use actix_web::{web, HttpResponse};
use auth::{RecoveryError, Throttled};
use chrono::Utc;
use domain::MailKind;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::errors::ApiError;
use crate::extract::ClientAddr;
use crate::requests::recovery::{EmailRequest, ResetConfirmRequest, VerifyEmailRequest};
use crate::state::AppState;

pub const RESET_SENT: &str = "Password reset e-mail has been sent.";
pub const RESET_DONE: &str = "Password has been reset with the new password.";
pub const OK: &str = "ok";
const INVALID: &str = "Invalid value";

/// `{"detail": ...}`: dj-rest-auth's success bodies.
#[derive(Debug, Serialize, ToSchema)]
pub struct Detail {
    pub detail: &'static str,
}

fn detail(text: &'static str) -> HttpResponse {
    HttpResponse::Ok().json(Detail { detail: text })
}

impl From<RecoveryError> for ApiError {
    fn from(e: RecoveryError) -> Self {
        match e {
            RecoveryError::BadUid => ApiError::field("uid", INVALID),
            RecoveryError::BadToken => ApiError::field("token", INVALID),
            RecoveryError::BadKey => ApiError::field("key", INVALID),
            RecoveryError::Database(e) => e.into(),
        }
    }
}

/// Queue a message of `kind` for the address (if anyone has it) and wake
/// this replica's sender.
async fn request_mail(
    state: &AppState,
    kind: MailKind,
    client: ClientAddr,
    body: Value,
) -> Result<(), ApiError> {
    let email = EmailRequest::parse(body)?.email;
    let recovery = state.mail.recovery.clone();
    let address = client.0.map(|ip| ip.to_string());
    let queued = state
        .db
        .run(move |conn| recovery.request(conn, kind, &email, address.as_deref(), Utc::now()))
        .await?;
    // Woken whatever was queued: nothing after the commit depends on the address.
    state.mail.wake();
    queued
        .map(drop)
        .map_err(|Throttled { retry_after_secs }| ApiError::Throttled {
            retry_after: retry_after_secs,
        })
}

/// Send a password-reset link to the address, if an active user has it.
#[utoipa::path(
    post,
    path = "/api/password/reset/",
    tag = "recovery",
    request_body = EmailRequest,
    responses(
        (status = 200, description = "The same whether or not the address is known", body = Detail),
        (status = 400, description = "Not an address (see `fields`)", body = crate::views::ErrorBody),
        (status = 404, description = "Password reset is off", body = crate::views::ErrorBody),
        (status = 429, description = "`throttled`, with Retry-After", body = crate::views::ErrorBody),
    )
)]
pub async fn password_reset(
    state: web::Data<AppState>,
    client: ClientAddr,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    request_mail(&state, MailKind::PasswordReset, client, body.into_inner()).await?;
    Ok(detail(RESET_SENT))
}

/// Set a new password with the link's uid and token; every session ends.
#[utoipa::path(
    post,
    path = "/api/password/reset/confirm/",
    tag = "recovery",
    request_body = ResetConfirmRequest,
    responses(
        (status = 200, description = "The password is set; log in again", body = Detail),
        (status = 400, description = "A bad `uid` or `token` (invalid, expired, used), or `new_password2` mismatched or refused by the policy", body = crate::views::ErrorBody),
        (status = 404, description = "Password reset is off", body = crate::views::ErrorBody),
    )
)]
pub async fn password_reset_confirm(
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let request = ResetConfirmRequest::parse(body.into_inner())?;
    let recovery = state.mail.recovery.clone();
    let (uid, token) = (request.uid.clone(), request.token.clone());
    // The token first: no bcrypt for a bad link.
    let user = state
        .db
        .run(move |conn| recovery.check_reset(conn, &uid, &token, Utc::now()))
        .await?;
    request.password_problems(&user.username)?;
    let hash = state.hashing.hash(request.new_password1).await?;
    let recovery = state.mail.recovery.clone();
    let token = request.token;
    state
        .db
        .run(move |conn| recovery.complete_reset(conn, user.id, &token, &hash, Utc::now()))
        .await?;
    Ok(detail(RESET_DONE))
}

/// Prove the address with the key of the verification link.
#[utoipa::path(
    post,
    path = "/api/register/verify-email/",
    tag = "recovery",
    request_body = VerifyEmailRequest,
    responses(
        (status = 200, description = "The address is verified", body = Detail),
        (status = 400, description = "`key`: invalid, expired or used", body = crate::views::ErrorBody),
        (status = 404, description = "E-mail verification is off", body = crate::views::ErrorBody),
    )
)]
pub async fn verify_email(
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let key = VerifyEmailRequest::parse(body.into_inner())?.key;
    let recovery = state.mail.recovery.clone();
    state
        .db
        .run(move |conn| recovery.verify_email(conn, &key, Utc::now()))
        .await?;
    Ok(detail(OK))
}

/// Send the verification link again, if an active user has the address unverified.
#[utoipa::path(
    post,
    path = "/api/register/resend-email/",
    tag = "recovery",
    request_body = EmailRequest,
    responses(
        (status = 200, description = "The same whether or not the address is known", body = Detail),
        (status = 400, description = "Not an address (see `fields`)", body = crate::views::ErrorBody),
        (status = 404, description = "E-mail verification is off", body = crate::views::ErrorBody),
        (status = 429, description = "`throttled`, with Retry-After", body = crate::views::ErrorBody),
    )
)]
pub async fn resend_email(
    state: web::Data<AppState>,
    client: ClientAddr,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    request_mail(
        &state,
        MailKind::EmailVerification,
        client,
        body.into_inner(),
    )
    .await?;
    Ok(detail(OK))
}
