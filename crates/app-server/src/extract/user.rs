//! The authenticated user of a protected route. The access token is checked
//! statelessly first, then its session and user are loaded: a revoked session,
//! an inactive user or a password changed since the token was issued are all
//! refused here, once for every route.

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, FromRequest, HttpRequest};
use chrono::Utc;
use domain::User;
use futures_util::future::LocalBoxFuture;

use crate::errors::ApiError;
use crate::extract::bearer::parse_authorization;
use crate::state::AppState;

pub struct CurrentUser(pub User);

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = parse_authorization(req.headers().get(AUTHORIZATION).map(|v| v.as_bytes()));
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = token?;
            let state = state.ok_or_else(|| ApiError::internal("AppState is not registered"))?;
            let claims = state.authority.decode_access(&token)?;
            let authority = state.authority.clone();
            let user = state
                .db
                .run(move |conn| authority.authenticate(conn, &claims, Utc::now()))
                .await?;
            Ok(CurrentUser(user))
        })
    }
}

/// A current user whose `is_admin` is set in the database now; the token's
/// `admin` claim is informational only.
pub struct AdminUser(pub User);

impl FromRequest for AdminUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = CurrentUser::from_request(req, payload);
        Box::pin(async move {
            let CurrentUser(user) = user.await?;
            if !user.is_admin {
                return Err(ApiError::PermissionDenied(
                    "You do not have permission to perform this action.",
                ));
            }
            Ok(AdminUser(user))
        })
    }
}
