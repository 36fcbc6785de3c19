//! Browser apps (docs/API.md, "Browser apps"): tokens in HttpOnly cookies,
//! the CSRF check that every cookie-fed request passes, and CORS. With
//! cookie mode off none of it changes an answer.

pub mod cookies;
pub mod cors;
pub mod csrf;

use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use auth::TokenPair;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::config::browser::{BrowserConfig, CookieMode};
use crate::errors::ApiError;
use crate::routes::no_store;
use crate::views::BrowserTokensView;
use cookies::CookieNames;

/// What handlers ask of cookie mode.
#[derive(Debug, Clone)]
pub struct Browser {
    config: BrowserConfig,
    names: CookieNames,
}

/// A refresh token that came from its cookie, with the request's CSRF
/// token, which the answer sets again.
pub struct CookieToken {
    pub token: String,
    pub csrf: String,
}

impl Browser {
    pub fn new(config: BrowserConfig) -> Self {
        let names = CookieNames::new(config.cookie_secure);
        Self { config, names }
    }

    pub fn mode(&self) -> CookieMode {
        self.config.cookie_mode
    }

    pub fn cors_origins(&self) -> &[String] {
        &self.config.cors_origins
    }

    /// Whether a login answers with cookies: `true` for a page of a trusted
    /// origin, `false` with cookie mode off or without `Origin` and
    /// `Referer` (not a browser), `csrf_failed` for any other origin.
    pub fn login_sets_cookies(&self, req: &HttpRequest) -> Result<bool, ApiError> {
        if !self.mode().is_on() {
            return Ok(false);
        }
        match csrf::request_origin(req) {
            None => Ok(false),
            Some(origin) if self.is_trusted(&origin) => Ok(true),
            Some(_) => Err(ApiError::CsrfFailed(csrf::ORIGIN_FAILED)),
        }
    }

    /// The refresh token of a refresh or logout whose body carries none of
    /// `fields`: the cookie's, once the CSRF check passed. `None` when the
    /// body has a token (it wins), is not an object, or there is no cookie:
    /// the body's own parsing then answers.
    pub fn refresh_cookie(
        &self,
        req: &HttpRequest,
        body: &Value,
        fields: &[&str],
    ) -> Result<Option<CookieToken>, ApiError> {
        let Value::Object(object) = body else {
            return Ok(None);
        };
        if !self.mode().is_on() || fields.iter().any(|f| object.contains_key(*f)) {
            return Ok(None);
        }
        let csrf = self.check_csrf(req)?;
        Ok(req.cookie(self.names.refresh).map(|c| CookieToken {
            token: c.value().to_owned(),
            csrf,
        }))
    }

    /// The access token of a protected route: the `Authorization` header's
    /// when there is one, else (cookie mode `both`) the access cookie's,
    /// which a request that changes something may use only past the CSRF
    /// check.
    pub fn access_token(&self, req: &HttpRequest) -> Result<String, ApiError> {
        let header = req.headers().get(actix_web::http::header::AUTHORIZATION);
        if header.is_some() || self.mode() != CookieMode::Both {
            return crate::extract::bearer::parse_authorization(header.map(|v| v.as_bytes()));
        }
        let Some(cookie) = req.cookie(self.names.access) else {
            return Err(ApiError::NotAuthenticated);
        };
        if !req.method().is_safe() {
            self.check_csrf(req)?;
        }
        Ok(cookie.value().to_owned())
    }

    /// The tokens of a login or refresh for a browser: in cookies, with the
    /// CSRF token; the body has `expires_in` of the access token, and the
    /// access token itself unless it is in a cookie too.
    pub fn tokens_response(&self, pair: &TokenPair, csrf: &str) -> HttpResponse {
        let now = Utc::now();
        let remaining = |exp: DateTime<Utc>| (exp - now).num_seconds().max(0);
        let access_life = remaining(pair.access_exp);
        let mut response = no_store(HttpResponse::Ok());
        if let (Some(refresh), Some(exp)) = (&pair.refresh, pair.refresh_exp) {
            let life = remaining(exp);
            response.cookie(self.names.refresh_cookie(refresh, life));
            response.cookie(self.names.csrf_cookie(csrf, life));
        }
        let access = match self.mode() {
            CookieMode::Both => {
                response.cookie(self.names.access_cookie(&pair.access, access_life));
                None
            }
            _ => Some(pair.access.clone()),
        };
        response.json(BrowserTokensView {
            access,
            expires_in: access_life,
        })
    }

    /// The cookies of a logout: expired, with the attributes they were set
    /// with. Added to `response` while cookie mode is on.
    pub fn clear_cookies(&self, response: &mut HttpResponseBuilder) {
        if !self.mode().is_on() {
            return;
        }
        for cookie in self.names.removals() {
            response.cookie(cookie);
        }
    }

    fn is_trusted(&self, origin: &str) -> bool {
        self.config.trusted_origins.iter().any(|o| o == origin)
    }

    /// Double submit: an `Origin` (or `Referer`) of a trusted origin and an
    /// `X-CSRF-Token` equal to the `csrftoken` cookie. The token, on success.
    fn check_csrf(&self, req: &HttpRequest) -> Result<String, ApiError> {
        match csrf::request_origin(req) {
            Some(origin) if self.is_trusted(&origin) => {}
            _ => return Err(ApiError::CsrfFailed(csrf::ORIGIN_FAILED)),
        }
        csrf::double_submitted(req).ok_or(ApiError::CsrfFailed(csrf::TOKEN_FAILED))
    }
}
