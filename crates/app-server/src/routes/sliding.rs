//! simplejwt's sliding views: `TokenObtainSlidingView` at
//! `/api/token/sliding/` and `TokenRefreshSlidingView` at
//! `/api/token/sliding/refresh/` (or at the pair's paths with
//! `AUTH_SLIDING_TOKENS=only`). The login is the pair's
//! ([`check_credentials`]); the token rules are auth's `authority::sliding`.

use actix_web::{web, HttpRequest, HttpResponse};
use auth::SlidingMode;
use chrono::Utc;
use serde_json::Value;

use super::no_store;
use super::tokens::{check_credentials, refresh_outcome, run_token_op};
use crate::errors::ApiError;
use crate::extract::ClientAddr;
use crate::metrics::{LoginOutcome, RefreshOutcome};
use crate::requests::{LoginRequest, SlidingTokenRequest};
use crate::state::AppState;
use crate::views::SlidingTokenView;

/// Whether `/api/token/` and `/api/token/refresh/` are simplejwt's sliding
/// views (`AUTH_SLIDING_TOKENS=only`).
pub(super) fn only(state: &AppState) -> bool {
    state.authority.settings().sliding.mode == SlidingMode::Only
}

/// Tokens must never be cached (RFC 6749 §5.1).
fn sliding_response(token: String) -> HttpResponse {
    no_store(HttpResponse::Ok()).json(SlidingTokenView { token })
}

/// A sliding login: the pair's login rules, then a sliding session.
pub(super) async fn login(
    state: &AppState,
    client: ClientAddr,
    req: &HttpRequest,
    credentials: LoginRequest,
) -> Result<HttpResponse, ApiError> {
    let verified = check_credentials(state, client, req, credentials).await?;
    let now = Utc::now();
    let authority = state.authority.clone();
    let token = state
        .db
        .run(move |conn| {
            verified.store_upgrade(conn)?;
            authority.login_sliding(conn, &verified.user, &verified.client, now)
        })
        .await?;
    state.metrics.login(LoginOutcome::Success);
    Ok(sliding_response(token))
}

/// Obtain a sliding token with a username and password.
///
/// simplejwt's `TokenObtainSlidingView`. With `AUTH_SLIDING_TOKENS=only`,
/// `/api/token/` answers the same way.
#[utoipa::path(
    post,
    path = "/api/token/sliding/",
    tag = "tokens",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "A new session's sliding token", body = SlidingTokenView, links(
            ("RefreshTheSlidingToken" = (operation_id = "refresh_sliding", request_body = json!({"token": "$response.body#/token"}))),
            ("VerifyTheSlidingToken" = (operation_id = "verify", request_body = json!({"token": "$response.body#/token"}))),
            ("LogOut" = (operation_id = "blacklist", request_body = json!({"token": "$response.body#/token"}))),
        )),
        (status = 400, description = "Malformed body", body = crate::views::ErrorBody),
        (status = 401, description = "`no_active_account`: wrong password, unknown or inactive user; `email_not_verified`: the right password, while verification is mandatory and the address is not proven", body = crate::views::ErrorBody),
        (status = 404, description = "`not_found`: sliding tokens are off", body = crate::views::ErrorBody),
        (status = 429, description = "`throttled`, with Retry-After", body = crate::views::ErrorBody),
    )
)]
pub async fn obtain_sliding(
    state: web::Data<AppState>,
    client: ClientAddr,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let credentials = LoginRequest::parse(body.into_inner())?;
    login(&state, client, &req, credentials).await
}

/// Trade a sliding token for its successor.
///
/// simplejwt's `TokenRefreshSlidingView`: a new `exp` and `iat`, the same
/// `jti`, `refresh_exp` and `sid`. With `AUTH_SLIDING_TOKENS=only`,
/// `/api/token/refresh/` answers the same way.
#[utoipa::path(
    post,
    path = "/api/token/sliding/refresh/",
    tag = "tokens",
    request_body = SlidingTokenRequest,
    responses(
        (status = 200, description = "The refreshed sliding token", body = SlidingTokenView, links(
            ("RefreshAgain" = (operation_id = "refresh_sliding", request_body = json!({"token": "$response.body#/token"}))),
            ("LogOut" = (operation_id = "blacklist", request_body = json!({"token": "$response.body#/token"}))),
        )),
        (status = 400, description = "Malformed body", body = crate::views::ErrorBody),
        (status = 401, description = "`token_not_valid`: expired, past its `refresh_exp`, or its session revoked", body = crate::views::ErrorBody),
        (status = 404, description = "`not_found`: sliding tokens are off", body = crate::views::ErrorBody),
    )
)]
pub async fn refresh_sliding(
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    refresh_token(&state, body.into_inner()).await
}

/// A sliding refresh of the body `{"token"}`, counted as a refresh.
pub(super) async fn refresh_token(state: &AppState, body: Value) -> Result<HttpResponse, ApiError> {
    let token = SlidingTokenRequest::parse(body)?.token;
    let result = run_token_op(state, move |a, conn| {
        a.refresh_sliding(conn, &token, Utc::now())
    })
    .await?;
    match result {
        Ok(token) => {
            state.metrics.refresh(RefreshOutcome::Success);
            Ok(sliding_response(token))
        }
        Err(e) => {
            state.metrics.refresh(refresh_outcome(&e));
            Err(e.into())
        }
    }
}
