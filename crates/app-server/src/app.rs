//! The application: routes, body limits, error envelopes, metrics and the
//! access log. Shared by `serve` and the tests.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Condition, ErrorHandlers, Logger};
use actix_web::web::{self, Bytes};
use actix_web::App;

use crate::browser;
use crate::envelope::ensure_envelope;
use crate::errors::ApiError;
use crate::extract::body::{json_error, MAX_BODY_BYTES};
use crate::metrics;
use crate::routes;
use crate::state::AppState;

pub fn build_app(
    state: web::Data<AppState>,
    openapi_json: web::Data<Bytes>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    // The middleware counts requests into the same metrics the handlers use.
    let metrics = web::Data::from(state.metrics.clone());
    let cors_origins = state.browser.cors_origins();
    let cors = browser::cors::middleware(cors_origins);
    let cors_credentials = Condition::new(
        !cors_origins.is_empty(),
        from_fn(browser::cors::credentials_only_for_allowed_origins),
    );
    App::new()
        .app_data(state)
        .app_data(metrics)
        .app_data(openapi_json)
        .app_data(
            web::JsonConfig::default()
                .limit(MAX_BODY_BYTES)
                .error_handler(json_error),
        )
        .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()))
        .configure(routes::configure)
        .default_service(web::to(routes::not_found))
        // Inside the envelope: a refused preflight gets one too.
        .wrap(cors)
        .wrap(cors_credentials)
        .wrap(ErrorHandlers::new().default_handler(ensure_envelope))
        // The path without its query string, and no headers but the request id:
        // tokens and passwords never reach the log.
        // Left out entirely when `access` logging is off (RUST_LOG=warn): the
        // logger renders its fields for every response whether or not the
        // line is then printed.
        .wrap(Condition::new(
            log::log_enabled!(target: "access", log::Level::Info),
            Logger::new("%a \"%{method}xi %U\" %s %b %Dms rid=%{x-request-id}i")
                .custom_request_replace("method", |req| req.method().to_string())
                .log_target("access"),
        ))
        .wrap(from_fn(metrics::track))
}
