//! The route table. Every path is served with and without its trailing slash,
//! and every other method on a route gets 405 before any authentication.

pub mod account;
pub mod admin;
pub mod ops;
pub mod tokens;

use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, HttpRequest, HttpResponse, Responder};

use crate::errors::ApiError;

/// A resource at `path` (written with its trailing slash) and at the same
/// path without it, routing `method` to `handler` and answering 405, with
/// `Allow`, to every other method.
fn resource<F, Args>(path: &str, method: Method, handler: F) -> actix_web::Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    let bare = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    let allow = method.clone();
    web::resource([path.to_owned(), bare.to_owned()])
        .route(web::method(method).to(handler))
        .default_service(web::to(move |req: HttpRequest| {
            let allow = allow.clone();
            async move {
                Err::<HttpResponse, _>(ApiError::MethodNotAllowed {
                    method: req.method().clone(),
                    allow,
                })
            }
        }))
}

pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/token/", Method::POST, tokens::obtain))
        .service(resource(
            "/api/token/refresh/",
            Method::POST,
            tokens::refresh,
        ))
        .service(resource("/api/token/verify/", Method::POST, tokens::verify))
        .service(resource(
            "/api/token/blacklist/",
            Method::POST,
            tokens::blacklist,
        ))
        .service(resource("/api/register/", Method::POST, account::register))
        .service(resource("/api/me/", Method::GET, account::me))
        .service(resource(
            "/api/me/password/",
            Method::POST,
            account::change_password,
        ))
        .service(resource(
            "/api/logout/all/",
            Method::POST,
            account::logout_all,
        ))
        .service(resource(
            "/api/admin/users/",
            Method::GET,
            admin::list_users,
        ))
        .service(resource(
            "/api/admin/users/{id}/",
            Method::PATCH,
            admin::update_user,
        ))
        .service(resource("/healthz", Method::GET, ops::healthz))
        .service(resource("/readyz", Method::GET, ops::readyz))
        .service(resource("/.well-known/jwks.json", Method::GET, ops::jwks))
        .service(resource("/api/openapi.json", Method::GET, ops::openapi))
        .service(resource("/metrics", Method::GET, ops::metrics));
}
