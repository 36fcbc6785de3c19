//! The authenticated user of a protected route. The access token (or a
//! sliding token, while they are on) is checked
//! statelessly first, then its session and user are loaded: a revoked session,
//! an inactive user or a password changed since the token was issued are all
//! refused here, once for every route. The session and user come from this
//! replica's session cache when it has them (see `session_cache`).

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use auth::TokenError;
use chrono::Utc;
use domain::{Session, SessionId, User};
use futures_util::future::LocalBoxFuture;
use serde_json::Value;

use crate::errors::ApiError;
use crate::session_cache::Lookup;
use crate::state::AppState;

pub struct CurrentUser(pub User);

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let current = CurrentSession::from_request(req, payload);
        Box::pin(async move { Ok(CurrentUser(current.await?.user)) })
    }
}

/// [`CurrentUser`] with the session (the `sid`) its access token belongs to.
pub struct CurrentSession {
    pub user: User,
    pub sid: SessionId,
}

impl FromRequest for CurrentSession {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = match &state {
            Some(state) => state.browser.access_token(req),
            None => Err(ApiError::internal("AppState is not registered")),
        };
        Box::pin(async move {
            let token = token?;
            let state = state.ok_or_else(|| ApiError::internal("AppState is not registered"))?;
            let claims = state.authority.decode_bearer(&token)?;
            let sid = SessionId(claims.sid.clone());
            // The lookup (and its ticket) comes before any database read.
            let ticket = match state.sessions.lookup(&sid) {
                Lookup::Hit(session, user) => {
                    state
                        .authority
                        .authenticate_loaded(&claims, &session, &user, Utc::now())?;
                    return Ok(CurrentSession {
                        user: User::clone(&user),
                        sid,
                    });
                }
                Lookup::Miss(ticket) => Some(ticket),
                Lookup::Bypass => None,
            };
            let authority = state.authority.clone();
            let cache = state.sessions.clone();
            let lookup_sid = sid.clone();
            let user = state
                .db
                .run(move |conn| {
                    let (session, user) =
                        Session::find_with_user(conn, &lookup_sid)?.ok_or(TokenError::Unknown)?;
                    if let Some(ticket) = ticket {
                        cache.fill(ticket, &session, &user);
                    }
                    authority.authenticate_loaded(&claims, &session, &user, Utc::now())?;
                    Ok::<_, TokenError>(user)
                })
                .await?;
            Ok(CurrentSession { user, sid })
        })
    }
}

/// A current user whose `is_admin` is set in the database now; the token's
/// `admin` claim is informational only. With the session of the token.
pub struct AdminUser {
    pub user: User,
    pub sid: SessionId,
}

impl FromRequest for AdminUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let current = CurrentSession::from_request(req, payload);
        Box::pin(async move {
            let CurrentSession { user, sid } = current.await?;
            if !user.is_admin {
                return Err(ApiError::PermissionDenied(
                    "You do not have permission to perform this action.",
                ));
            }
            Ok(AdminUser { user, sid })
        })
    }
}

/// A protected route's user `U`, then its JSON body, in that order. actix
/// polls a handler's extractors together, so a body refused at once (415, or
/// a 400 for bad JSON) would answer before a token check that waits on the
/// database: a revoked token would learn about the body before being told it
/// is revoked. As DRF does, authentication comes first.
pub struct UserWithBody<U> {
    pub user: U,
    pub body: Value,
}

impl<U> FromRequest for UserWithBody<U>
where
    U: FromRequest + 'static,
    U::Error: Into<actix_web::Error>,
{
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = U::from_request(req, &mut Payload::None);
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let user = user.await.map_err(Into::into)?;
            let body = web::Json::<Value>::from_request(&req, &mut payload).await?;
            Ok(Self {
                user,
                body: body.into_inner(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actix_web::http::StatusCode;
    use actix_web::{test, App, HttpResponse};

    use super::*;
    use crate::errors::ApiError;

    /// A user check that answers 401 only after waiting, as one that asks
    /// the database does.
    struct SlowRefusal;

    impl FromRequest for SlowRefusal {
        type Error = ApiError;
        type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

        fn from_request(_: &HttpRequest, _: &mut Payload) -> Self::Future {
            Box::pin(async {
                actix_web::rt::time::sleep(Duration::from_millis(20)).await;
                Err(ApiError::TokenNotValid("Token is blacklisted"))
            })
        }
    }

    async fn status(content_type: &str, body: &'static str) -> StatusCode {
        let app =
            test::init_service(App::new().route(
                "/",
                web::post().to(|_: UserWithBody<SlowRefusal>| async {
                    HttpResponse::NoContent().finish()
                }),
            ))
            .await;
        let request = test::TestRequest::post()
            .uri("/")
            .insert_header(("content-type", content_type))
            .set_payload(body)
            .to_request();
        test::call_service(&app, request).await.status()
    }

    #[actix_web::test]
    async fn the_token_is_refused_before_the_body_is_read() {
        assert_eq!(status("text/plain", "x").await, StatusCode::UNAUTHORIZED);
        assert_eq!(
            status("application/json", "{").await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status("application/json", "{}").await,
            StatusCode::UNAUTHORIZED
        );
    }
}
