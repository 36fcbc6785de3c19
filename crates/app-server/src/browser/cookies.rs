//! The cookies of cookie mode and their exact attributes: HttpOnly tokens
//! with `SameSite=Strict`, and the readable CSRF token of the double submit.

use actix_web::cookie::time::Duration;
use actix_web::cookie::{Cookie, SameSite};

/// The readable cookie whose value a page sends back in [`CSRF_HEADER`].
pub const CSRF_COOKIE: &str = "csrftoken";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Only sent to the token routes that take it.
const REFRESH_PATH: &str = "/api/token/";

#[derive(Debug, Clone)]
pub struct CookieNames {
    pub refresh: &'static str,
    pub access: &'static str,
    secure: bool,
}

impl CookieNames {
    /// The prefixes make a browser refuse the cookie unless it is `Secure`
    /// (and, for `__Host-`, on `Path=/` with no `Domain`), so they go with it.
    pub fn new(secure: bool) -> Self {
        if secure {
            Self {
                refresh: "__Secure-refresh",
                access: "__Host-access",
                secure,
            }
        } else {
            Self {
                refresh: "refresh",
                access: "access",
                secure,
            }
        }
    }

    pub fn refresh_cookie(&self, token: &str, max_age: i64) -> Cookie<'static> {
        self.cookie(self.refresh, token, REFRESH_PATH, true, max_age)
    }

    pub fn access_cookie(&self, token: &str, max_age: i64) -> Cookie<'static> {
        self.cookie(self.access, token, "/", true, max_age)
    }

    pub fn csrf_cookie(&self, token: &str, max_age: i64) -> Cookie<'static> {
        self.cookie(CSRF_COOKIE, token, "/", false, max_age)
    }

    /// Every cookie again, empty, with `Max-Age=0`.
    pub fn removals(&self) -> [Cookie<'static>; 3] {
        [
            self.refresh_cookie("", 0),
            self.access_cookie("", 0),
            self.csrf_cookie("", 0),
        ]
    }

    fn cookie(
        &self,
        name: &'static str,
        value: &str,
        path: &'static str,
        http_only: bool,
        max_age: i64,
    ) -> Cookie<'static> {
        Cookie::build(name, value.to_owned())
            .path(path)
            .http_only(http_only)
            .secure(self.secure)
            .same_site(SameSite::Strict)
            .max_age(Duration::seconds(max_age))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_cookies_have_their_prefixes_and_exact_attributes() {
        let names = CookieNames::new(true);
        assert_eq!(
            names.refresh_cookie("r", 86_400).to_string(),
            "__Secure-refresh=r; HttpOnly; SameSite=Strict; Secure; Path=/api/token/; Max-Age=86400"
        );
        assert_eq!(
            names.access_cookie("a", 300).to_string(),
            "__Host-access=a; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=300"
        );
        assert_eq!(
            names.csrf_cookie("c", 86_400).to_string(),
            "csrftoken=c; SameSite=Strict; Secure; Path=/; Max-Age=86400"
        );
    }

    #[test]
    fn insecure_cookies_lose_the_prefixes() {
        let names = CookieNames::new(false);
        assert_eq!(
            names.refresh_cookie("r", 10).to_string(),
            "refresh=r; HttpOnly; SameSite=Strict; Path=/api/token/; Max-Age=10"
        );
        assert_eq!(names.access, "access");
        let removed: Vec<_> = names.removals().iter().map(|c| c.to_string()).collect();
        assert_eq!(
            removed,
            [
                "refresh=; HttpOnly; SameSite=Strict; Path=/api/token/; Max-Age=0",
                "access=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
                "csrftoken=; SameSite=Strict; Path=/; Max-Age=0",
            ]
        );
    }
}
