//! The `Authorization: Bearer <token>` header (RFC 6750 §2.1).

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest};

use crate::errors::ApiError;

pub struct BearerToken(pub String);

impl FromRequest for BearerToken {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let header = req.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
        ready(parse_authorization(header).map(BearerToken))
    }
}

/// The token of a Bearer header. The scheme is case-insensitive (RFC 7235);
/// no header, or another scheme such as `Basic`, means no credentials.
pub fn parse_authorization(header: Option<&[u8]>) -> Result<String, ApiError> {
    let Some(header) = header else {
        return Err(ApiError::NotAuthenticated);
    };
    let mut parts = header
        .split(|b| b.is_ascii_whitespace())
        .filter(|p| !p.is_empty());
    match parts.next() {
        Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer") => {}
        _ => return Err(ApiError::NotAuthenticated),
    }
    let Some(token) = parts.next() else {
        return Err(ApiError::BadAuthorizationHeader(
            "Invalid Authorization header. No credentials provided.",
        ));
    };
    if parts.next().is_some() {
        return Err(ApiError::BadAuthorizationHeader(
            "Invalid Authorization header. Credentials string should not contain spaces.",
        ));
    }
    // RFC 6750 b64token: visible ASCII only
    if !token.iter().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::BadAuthorizationHeader(
            "Invalid Authorization header. Credentials are not ASCII.",
        ));
    }
    Ok(String::from_utf8_lossy(token).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(header: Option<&str>) -> Result<String, &'static str> {
        parse_authorization(header.map(str::as_bytes)).map_err(|e| e.code())
    }

    #[test]
    fn reads_the_token_with_any_case_of_scheme() {
        for h in [
            "Bearer abc.def.ghi",
            "bearer abc.def.ghi",
            "BEARER abc.def.ghi",
            "Bearer   abc.def.ghi  ",
        ] {
            assert_eq!(code(Some(h)), Ok("abc.def.ghi".to_owned()), "{h:?}");
        }
    }

    #[test]
    fn other_schemes_and_no_header_are_no_credentials() {
        for h in [
            None,
            Some(""),
            Some("Basic dXNlcjpwYXNz"),
            Some("Token abc"),
            Some("Bearerabc"),
        ] {
            assert_eq!(code(h), Err("not_authenticated"), "{h:?}");
        }
    }

    #[test]
    fn bearer_without_exactly_one_token_is_a_bad_header() {
        for h in ["Bearer", "Bearer ", "Bearer a b", "Bearer a\tb"] {
            assert_eq!(code(Some(h)), Err("bad_authorization_header"), "{h:?}");
        }
        assert_eq!(
            parse_authorization(Some(b"Bearer caf\xc3\xa9")).map_err(|e| e.code()),
            Err("bad_authorization_header")
        );
    }
}
