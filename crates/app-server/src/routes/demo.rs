//! The demo page of `web/demo/` in development, at `/demo/`: what
//! `cargo run` shows a newcomer. In the stack nginx serves the same files
//! (nginx/nginx.conf); production replicas do not.

use actix_web::http::header::{self, ContentType};
use actix_web::{web, HttpResponse};

use crate::errors::ApiError;

/// name, content type, content: the three files, built in.
const FILES: [(&str, &str, &str); 3] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../../../web/demo/index.html"),
    ),
    (
        "demo.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../../web/demo/demo.js"),
    ),
    (
        "demo.css",
        "text/css; charset=utf-8",
        include_str!("../../../../web/demo/demo.css"),
    ),
];

/// The page may load its own script and style and call its own origin,
/// nothing else; `same-origin` keeps the `Origin` of its requests, which
/// the CSRF check reads (`no-referrer` would turn it into `null`).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   img-src 'self'; connect-src 'self'; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

pub async fn index() -> Result<HttpResponse, ApiError> {
    file(web::Path::from("index.html".to_owned())).await
}

pub async fn file(name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (_, content_type, body) = FILES
        .iter()
        .find(|(n, _, _)| *n == name.as_str())
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header(ContentType(
            content_type.parse().map_err(ApiError::internal)?,
        ))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(*body))
}
