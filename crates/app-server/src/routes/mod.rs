//! The route table. Every path is served with and without its trailing slash,
//! and every other method on a route gets 405 before any authentication.

pub mod account;
pub mod admin;
pub mod demo;
pub mod ops;
pub mod recovery;
pub mod sessions;
pub mod sliding;
pub mod tokens;

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::http::Method;
use actix_web::{
    guard, web, FromRequest, Handler, HttpRequest, HttpResponse, HttpResponseBuilder, Responder,
};
use auth::SlidingMode;

use crate::errors::ApiError;
use crate::state::AppState;

/// Serve `method` at `path` (written with its trailing slash) and at the same
/// path without it, answering 405, with `Allow`, to every other method.
///
/// Two resources with one static pattern each, rather than one resource with
/// both: a static pattern is matched by comparing strings, a multi-pattern
/// resource through a regex set, on every request that passes it.
fn route<F, Args>(cfg: &mut web::ServiceConfig, path: &str, method: Method, handler: F)
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    route_when(cfg, path, method, handler, None);
}

/// [`route`] for a feature that can be off: while `on` says no, the path is
/// not matched at all, so every method gets the 404 of an unknown path.
fn route_when<F, Args>(
    cfg: &mut web::ServiceConfig,
    path: &str,
    method: Method,
    handler: F,
    on: Option<fn(&AppState) -> bool>,
) where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    let bare = path.strip_suffix('/').filter(|p| !p.is_empty());
    for pattern in std::iter::once(path).chain(bare) {
        let allow = method.clone();
        let mut resource = web::resource(pattern);
        if let Some(on) = on {
            resource = resource.guard(guard::fn_guard(move |ctx| {
                ctx.app_data::<web::Data<AppState>>()
                    .is_some_and(|state| on(state))
            }));
        }
        cfg.service(
            resource
                // both spellings under one name: the metrics' route label
                .name(path)
                .route(web::method(method.clone()).to(handler.clone()))
                .default_service(web::to(move |req: HttpRequest| {
                    let allow = allow.clone();
                    async move {
                        Err::<HttpResponse, _>(ApiError::MethodNotAllowed {
                            method: req.method().clone(),
                            allow,
                        })
                    }
                })),
        );
    }
}

/// An answer that carries tokens: never cached (RFC 6749 §5.1).
pub fn no_store(mut response: HttpResponseBuilder) -> HttpResponseBuilder {
    response
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .insert_header(("Pragma", "no-cache"));
    response
}

pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    route(cfg, "/api/token/", Method::POST, tokens::obtain);
    route(cfg, "/api/token/refresh/", Method::POST, tokens::refresh);
    // Served while sliding tokens are on, `on` or `only`: a client of the
    // `on` routes keeps working when the operator moves to `only`.
    let sliding = Some(
        (|s| s.authority.settings().sliding.mode != SlidingMode::Off) as fn(&AppState) -> bool,
    );
    route_when(
        cfg,
        "/api/token/sliding/",
        Method::POST,
        sliding::obtain_sliding,
        sliding,
    );
    route_when(
        cfg,
        "/api/token/sliding/refresh/",
        Method::POST,
        sliding::refresh_sliding,
        sliding,
    );
    route(cfg, "/api/token/verify/", Method::POST, tokens::verify);
    route(
        cfg,
        "/api/token/blacklist/",
        Method::POST,
        tokens::blacklist,
    );
    route(cfg, "/api/register/", Method::POST, account::register);
    route(cfg, "/api/me/", Method::GET, account::me);
    route(
        cfg,
        "/api/me/password/",
        Method::POST,
        account::change_password,
    );
    route(cfg, "/api/logout/all/", Method::POST, account::logout_all);
    let reset = Some((|s| s.mail.reset_on) as fn(&AppState) -> bool);
    let verification = Some((|s| s.mail.verification.is_on()) as fn(&AppState) -> bool);
    let post = Method::POST;
    route_when(
        cfg,
        "/api/password/reset/",
        post.clone(),
        recovery::password_reset,
        reset,
    );
    route_when(
        cfg,
        "/api/password/reset/confirm/",
        post.clone(),
        recovery::password_reset_confirm,
        reset,
    );
    route_when(
        cfg,
        "/api/register/verify-email/",
        post.clone(),
        recovery::verify_email,
        verification,
    );
    route_when(
        cfg,
        "/api/register/resend-email/",
        post,
        recovery::resend_email,
        verification,
    );
    route(cfg, "/api/admin/users/", Method::GET, admin::list_users);
    route(
        cfg,
        "/api/admin/users/{id}/",
        Method::PATCH,
        admin::update_user,
    );
    route(
        cfg,
        "/api/admin/users/{id}/sessions/",
        Method::GET,
        sessions::admin_list_sessions,
    );
    route(
        cfg,
        "/api/admin/users/{id}/sessions/{sid}/",
        Method::DELETE,
        sessions::admin_end_session,
    );
    route(cfg, "/api/sessions/", Method::GET, sessions::list_sessions);
    route(
        cfg,
        "/api/sessions/{id}/",
        Method::DELETE,
        sessions::end_session,
    );
    // The demo page in development; `/demo` leads to it, so that its
    // relative links resolve under /demo/.
    let demo = || {
        guard::fn_guard(|ctx| {
            ctx.app_data::<web::Data<AppState>>()
                .is_some_and(|state| state.serve_demo)
        })
    };
    cfg.service(
        web::resource("/demo")
            .guard(demo())
            .route(web::get().to(|| async {
                HttpResponse::MovedPermanently()
                    .insert_header(("location", "/demo/"))
                    .finish()
            })),
    );
    cfg.service(
        web::resource("/demo/")
            .guard(demo())
            .route(web::get().to(demo::index)),
    );
    cfg.service(
        web::resource("/demo/{file}")
            .guard(demo())
            .route(web::get().to(demo::file)),
    );
    route(cfg, "/healthz", Method::GET, ops::healthz);
    route(cfg, "/readyz", Method::GET, ops::readyz);
    route(cfg, "/.well-known/jwks.json", Method::GET, ops::jwks);
    route(cfg, "/api/openapi.json", Method::GET, ops::openapi);
    route(cfg, "/metrics", Method::GET, ops::metrics);
}
