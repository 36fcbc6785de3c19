//! Registration and the current user's own account.

use actix_web::{web, HttpResponse};
use auth::RESEND_WINDOW;
use chrono::Utc;
use domain::time::to_db;
use domain::{outbox, write_transaction, CreateUserError, MailKind, NewUser, Registered, User};
use serde_json::Value;

use crate::config::mail::Verification;
use crate::errors::ApiError;
use crate::extract::body::REQUIRED;
use crate::extract::{CurrentUser, ProxyRequestId, UserWithBody};
use crate::requests::{PasswordChangeRequest, RegisterRequest};
use crate::state::AppState;
use crate::views::UserView;

/// Create an account.
#[utoipa::path(
    post,
    path = "/api/register/",
    tag = "account",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "The new user", body = UserView, links(
            ("LogIn" = (operation_id = "obtain", request_body = json!({
                "username": "$response.body#/username",
                "password": "$request.body#/password"
            }))),
        )),
        (status = 400, description = "Bad username, email or password, or no email while verification is mandatory (see `fields`)", body = crate::views::ErrorBody),
        (status = 403, description = "Registration is off", body = crate::views::ErrorBody),
        (status = 409, description = "`username_taken`", body = crate::views::ErrorBody),
    )
)]
pub async fn register(
    state: web::Data<AppState>,
    request_id: ProxyRequestId,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    if !state.allow_registration {
        return Err(ApiError::PermissionDenied("Registration is closed."));
    }
    let request = RegisterRequest::parse(body.into_inner())?;
    let verification = state.mail.verification;
    if verification == Verification::Mandatory && request.email.is_none() {
        return Err(ApiError::field("email", REQUIRED));
    }
    let hash = state.hashing.hash(request.password).await?;
    let user = state
        .db
        .run(move |conn| {
            let now = to_db(Utc::now());
            // The verification mail is queued with the user, or not at all.
            write_transaction(conn, |c| {
                let registered = User::register(
                    c,
                    &NewUser {
                        username: &request.username,
                        email: request.email.as_deref(),
                        password_hash: &hash,
                        is_active: true,
                        is_admin: false,
                        date_joined: now,
                        password_changed_at: now,
                    },
                    request_id.0.as_deref(),
                    RESEND_WINDOW,
                )?;
                if let Registered::Created(user) = &registered {
                    if verification.is_on() && user.email.is_some() {
                        outbox::enqueue(c, &[user.id], MailKind::EmailVerification, now)?;
                    }
                }
                Ok::<_, CreateUserError>(registered.into_user())
            })
        })
        .await?;
    if verification.is_on() && user.email.is_some() {
        state.mail.wake();
    }
    Ok(HttpResponse::Created().json(UserView::from(&user)))
}

impl From<CreateUserError> for ApiError {
    fn from(e: CreateUserError) -> Self {
        match e {
            CreateUserError::UsernameTaken => ApiError::UsernameTaken,
            CreateUserError::Database(e) => e.into(),
        }
    }
}

/// The user the access token belongs to.
#[utoipa::path(
    get,
    path = "/api/me/",
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The current user", body = UserView),
        (status = 401, description = "No, a bad, or a revoked token", body = crate::views::ErrorBody),
    )
)]
pub async fn me(CurrentUser(user): CurrentUser) -> HttpResponse {
    HttpResponse::Ok().json(UserView::from(&user))
}

/// Change the password; every session of the user ends.
#[utoipa::path(
    post,
    path = "/api/me/password/",
    tag = "account",
    security(("bearer" = [])),
    request_body = PasswordChangeRequest,
    responses(
        (status = 204, description = "Changed; log in again"),
        (status = 400, description = "Wrong old password or a refused new one (see `fields`)", body = crate::views::ErrorBody),
        (status = 401, description = "No, a bad, or a revoked token", body = crate::views::ErrorBody),
    )
)]
pub async fn change_password(
    state: web::Data<AppState>,
    UserWithBody {
        user: CurrentUser(user),
        body,
    }: UserWithBody<CurrentUser>,
) -> Result<HttpResponse, ApiError> {
    let request = PasswordChangeRequest::parse(body, &user.username)?;
    if !state
        .hashing
        .verify(request.old_password, user.password_hash.clone())
        .await?
    {
        return Err(ApiError::field(
            "old_password",
            "Your old password was entered incorrectly.",
        ));
    }
    let hash = state.hashing.hash(request.new_password).await?;
    let authority = state.authority.clone();
    state
        .db
        .run(move |conn| authority.change_password(conn, user.id, &hash, Utc::now()))
        .await?;
    // Every session ended, this one too.
    let mut response = HttpResponse::NoContent();
    state.browser.clear_cookies(&mut response);
    Ok(response.finish())
}

/// Log out everywhere: every session of the user ends.
#[utoipa::path(
    post,
    path = "/api/logout/all/",
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Every session is revoked"),
        (status = 401, description = "No, a bad, or a revoked token", body = crate::views::ErrorBody),
    )
)]
pub async fn logout_all(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<HttpResponse, ApiError> {
    let authority = state.authority.clone();
    state
        .db
        .run(move |conn| authority.logout_all(conn, user.id, Utc::now()))
        .await?;
    let mut response = HttpResponse::NoContent();
    state.browser.clear_cookies(&mut response);
    Ok(response.finish())
}
