//! The route table. Every path is served with and without its trailing slash,
//! and every other method on a route gets 405 before any authentication.

pub mod account;
pub mod admin;
pub mod ops;
pub mod tokens;

use actix_web::{web, HttpResponse, Route};

use crate::errors::ApiError;

/// A resource at `path` (written with its trailing slash) and at the same
/// path without it, answering 405 to the methods it does not route.
fn resource(path: &str, route: Route) -> actix_web::Resource {
    let bare = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    web::resource([path.to_owned(), bare.to_owned()])
        .route(route)
        .default_service(web::to(method_not_allowed))
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}

pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/token/", web::post().to(tokens::obtain)))
        .service(resource(
            "/api/token/refresh/",
            web::post().to(tokens::refresh),
        ))
        .service(resource(
            "/api/token/verify/",
            web::post().to(tokens::verify),
        ))
        .service(resource(
            "/api/token/blacklist/",
            web::post().to(tokens::blacklist),
        ))
        .service(resource(
            "/api/register/",
            web::post().to(account::register),
        ))
        .service(resource("/api/me/", web::get().to(account::me)))
        .service(resource(
            "/api/me/password/",
            web::post().to(account::change_password),
        ))
        .service(resource(
            "/api/logout/all/",
            web::post().to(account::logout_all),
        ))
        .service(resource(
            "/api/admin/users/",
            web::get().to(admin::list_users),
        ))
        .service(resource(
            "/api/admin/users/{id}/",
            web::patch().to(admin::update_user),
        ))
        .service(resource("/healthz", web::get().to(ops::healthz)))
        .service(resource("/readyz", web::get().to(ops::readyz)))
        .service(resource("/.well-known/jwks.json", web::get().to(ops::jwks)))
        .service(resource("/api/openapi.json", web::get().to(ops::openapi)))
        .service(resource("/metrics", web::get().to(ops::metrics)));
}
