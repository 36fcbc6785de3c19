//! Sessions a user can see and end: their own (`/api/sessions/`), and any
//! user's for an admin. A session is one login's refresh-token family, named
//! by its tokens' `sid` claim.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use domain::{RevokeReason, Session, SessionId, User, UserId};

use crate::errors::ApiError;
use crate::extract::{AdminUser, CurrentSession};
use crate::state::AppState;
use crate::views::SessionView;

/// A session id from a path: the 32 lowercase hex digits every `sid` has.
/// Anything else names no session, so it is a 404 like an unknown one.
fn session_id(raw: &str) -> Result<SessionId, ApiError> {
    let ok = raw.len() == 32 && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    ok.then(|| SessionId(raw.to_owned()))
        .ok_or(ApiError::NotFound)
}

fn user_id(raw: &str) -> Result<UserId, ApiError> {
    raw.parse::<i64>()
        .map(UserId)
        .map_err(|_| ApiError::NotFound)
}

/// The live sessions of `user`, newest first; `None` when there is no such user.
async fn live_sessions(
    state: &AppState,
    user: UserId,
    check_user: bool,
) -> Result<Option<Vec<Session>>, ApiError> {
    let now = domain::time::to_db(Utc::now());
    state
        .db
        .run(move |conn| {
            if check_user && User::find(conn, user)?.is_none() {
                return Ok(None);
            }
            Session::live_for_user(conn, user, now).map(Some)
        })
        .await
}

/// The answer of a list: `current` marks the asker's own session.
fn listed(sessions: &[Session], current: &SessionId) -> HttpResponse {
    let views: Vec<_> = sessions
        .iter()
        .map(|s| SessionView::new(s, current))
        .collect();
    HttpResponse::Ok().json(views)
}

async fn end(
    state: &AppState,
    user: UserId,
    sid: SessionId,
    reason: RevokeReason,
) -> Result<HttpResponse, ApiError> {
    let authority = state.authority.clone();
    let ended = state
        .db
        .run(move |conn| authority.end_session(conn, user, &sid, reason, Utc::now()))
        .await?;
    if !ended {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::NoContent().finish())
}

/// List the caller's live sessions, newest first.
#[utoipa::path(
    get,
    path = "/api/sessions/",
    tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's live sessions, newest first; `current` marks the token's own", body = Vec<SessionView>),
        (status = 401, description = "No, a bad, or a revoked token", body = crate::views::ErrorBody),
    )
)]
pub async fn list_sessions(
    state: web::Data<AppState>,
    current: CurrentSession,
) -> Result<HttpResponse, ApiError> {
    let sessions = live_sessions(&state, current.user.id, false)
        .await?
        .unwrap_or_default();
    Ok(listed(&sessions, &current.sid))
}

/// End one of the caller's sessions: its refresh tokens are refused from
/// now on, and its access tokens on every route that loads the user.
#[utoipa::path(
    delete,
    path = "/api/sessions/{id}/",
    tag = "sessions",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The session's id (its tokens' `sid` claim)")),
    responses(
        (status = 204, description = "The session is ended (also when it had ended already)"),
        (status = 401, description = "No, a bad, or a revoked token", body = crate::views::ErrorBody),
        (status = 404, description = "No session of the caller with this id", body = crate::views::ErrorBody),
    )
)]
pub async fn end_session(
    state: web::Data<AppState>,
    current: CurrentSession,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sid = session_id(&path)?;
    end(&state, current.user.id, sid, RevokeReason::EndedByUser).await
}

/// List a user's live sessions, newest first.
#[utoipa::path(
    get,
    path = "/api/admin/users/{id}/sessions/",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user's live sessions, newest first; `current` marks the admin's own", body = Vec<SessionView>),
        (status = 401, description = "No, a bad, or a revoked token", body = crate::views::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::views::ErrorBody),
        (status = 404, description = "No such user", body = crate::views::ErrorBody),
    )
)]
pub async fn admin_list_sessions(
    state: web::Data<AppState>,
    admin: AdminUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = user_id(&path)?;
    let sessions = live_sessions(&state, user, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(listed(&sessions, &admin.sid))
}

/// End one session of a user.
#[utoipa::path(
    delete,
    path = "/api/admin/users/{id}/sessions/{sid}/",
    tag = "admin",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The user's id"),
        ("sid" = String, Path, description = "The session's id (its tokens' `sid` claim)"),
    ),
    responses(
        (status = 204, description = "The session is ended (also when it had ended already)"),
        (status = 401, description = "No, a bad, or a revoked token", body = crate::views::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::views::ErrorBody),
        (status = 404, description = "No such user, or no session of theirs with this id", body = crate::views::ErrorBody),
    )
)]
pub async fn admin_end_session(
    state: web::Data<AppState>,
    _admin: AdminUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (user, sid) = path.into_inner();
    let user = user_id(&user)?;
    let sid = session_id(&sid)?;
    end(&state, user, sid, RevokeReason::EndedByAdmin).await
}
