//! The CSRF check's parts: where a request comes from, and the double
//! submit of the `csrftoken` cookie in the `X-CSRF-Token` header.

use actix_web::http::header::{ORIGIN, REFERER};
use actix_web::HttpRequest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;
use url::Url;

use super::cookies::{CSRF_COOKIE, CSRF_HEADER};
use crate::errors::ApiError;

pub const ORIGIN_FAILED: &str = "CSRF Failed: Origin checking failed.";
pub const TOKEN_FAILED: &str = "CSRF Failed: CSRF token missing or incorrect.";

/// The origin a browser says the request comes from: `Origin`, or lacking
/// it the origin of `Referer`. `None` when it sent neither (not a browser);
/// an opaque origin is `"null"`, which no list holds.
pub fn request_origin(req: &HttpRequest) -> Option<String> {
    let headers = req.headers();
    if let Some(origin) = headers.get(ORIGIN) {
        return Some(origin.to_str().unwrap_or("null").to_owned());
    }
    let referer = headers.get(REFERER)?;
    let origin = referer
        .to_str()
        .ok()
        .and_then(|r| Url::parse(r).ok())
        .map(|u| u.origin().ascii_serialization());
    Some(origin.unwrap_or_else(|| "null".to_owned()))
}

/// The CSRF token, when the header repeats the cookie (compared in
/// constant time; an empty one never matches).
pub fn double_submitted(req: &HttpRequest) -> Option<String> {
    let cookie = req.cookie(CSRF_COOKIE)?;
    let header = req.headers().get(CSRF_HEADER)?.as_bytes();
    let token = cookie.value();
    let same = !token.is_empty() && bool::from(token.as_bytes().ct_eq(header));
    same.then(|| token.to_owned())
}

/// A new CSRF token: 32 random bytes, URL-safe base64.
pub fn new_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(ApiError::internal)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn origin_then_referer_then_none() {
        let req = TestRequest::default()
            .insert_header(("Origin", "https://a.example"))
            .insert_header(("Referer", "https://b.example/page"))
            .to_http_request();
        assert_eq!(request_origin(&req).as_deref(), Some("https://a.example"));
        let req = TestRequest::default()
            .insert_header(("Referer", "https://b.example:8443/page?q=1"))
            .to_http_request();
        assert_eq!(
            request_origin(&req).as_deref(),
            Some("https://b.example:8443")
        );
        let req = TestRequest::default()
            .insert_header(("Referer", "not a url"))
            .to_http_request();
        assert_eq!(request_origin(&req).as_deref(), Some("null"));
        assert_eq!(
            request_origin(&TestRequest::default().to_http_request()),
            None
        );
    }

    #[test]
    fn the_header_must_repeat_a_non_empty_cookie() {
        let with = |cookie: &str, header: Option<&str>| {
            let mut req = TestRequest::default().cookie(actix_web::cookie::Cookie::new(
                CSRF_COOKIE,
                cookie.to_owned(),
            ));
            if let Some(h) = header {
                req = req.insert_header((CSRF_HEADER, h));
            }
            double_submitted(&req.to_http_request())
        };
        assert_eq!(with("abc", Some("abc")).as_deref(), Some("abc"));
        assert_eq!(with("abc", Some("abd")), None);
        assert_eq!(with("abc", None), None);
        assert_eq!(with("", Some("")), None);
        let token = new_token().unwrap();
        assert_ne!(token, new_token().unwrap());
        assert_eq!(token.len(), 43);
    }
}
