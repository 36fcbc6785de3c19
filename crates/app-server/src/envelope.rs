//! A safety net under [`crate::errors::ApiError`]: any error response that is
//! not JSON already (one made by actix itself) is rewritten into the envelope,
//! so no status >= 400 ever leaves without `detail` and `code`.

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::HttpResponse;
use serde_json::json;

pub fn ensure_envelope<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (code, detail) = match status.as_u16() {
        400 => ("invalid", "Bad request."),
        401 => (
            "not_authenticated",
            "Authentication credentials were not provided.",
        ),
        403 => (
            "permission_denied",
            "You do not have permission to perform this action.",
        ),
        404 => ("not_found", "Not found."),
        405 => ("method_not_allowed", "Method not allowed."),
        413 => ("payload_too_large", "Request body is too large."),
        415 => (
            "unsupported_media_type",
            "Unsupported media type; send application/json.",
        ),
        429 => ("throttled", "Request was throttled."),
        503 => ("unavailable", "The service is temporarily unavailable."),
        s if s >= 500 => ("internal", "Internal server error."),
        _ => ("invalid", "Bad request."),
    };
    let (req, original) = res.into_parts();
    let mut replacement = HttpResponse::build(status);
    for (name, value) in original.headers() {
        if name != CONTENT_TYPE && name != CONTENT_LENGTH {
            replacement.append_header((name.clone(), value.clone()));
        }
    }
    let response = replacement.json(json!({ "detail": detail, "code": code }));
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, response).map_into_right_body(),
    ))
}
