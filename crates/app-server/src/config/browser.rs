//! Browser apps: whether tokens travel in cookies, the origins trusted to
//! send them (the CSRF check) and the origins allowed to read answers
//! (CORS). The HTTP side is in `crate::browser`.

use url::Url;

use super::environment::Environment;
use super::variables::Variables;
use crate::env_vars::EnvError;

/// AUTH_COOKIE_MODE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieMode {
    /// Tokens in JSON bodies only, as simplejwt.
    Off,
    /// The refresh token in an HttpOnly cookie; the access token in the body.
    Refresh,
    /// Both tokens in HttpOnly cookies.
    Both,
}

impl CookieMode {
    pub fn parse(v: &str) -> Result<Self, String> {
        match v {
            "off" => Ok(Self::Off),
            "refresh" => Ok(Self::Refresh),
            "both" => Ok(Self::Both),
            _ => Err("must be off, refresh or both".to_owned()),
        }
    }

    pub fn is_on(self) -> bool {
        self != Self::Off
    }
}

/// Comma-separated origins, each exactly as a browser sends it in `Origin`:
/// scheme, host and the port when it is not the scheme's default, nothing
/// else. Compared byte for byte, so a near miss is refused here rather than
/// never matching.
pub fn origins(v: &str) -> Result<Vec<String>, String> {
    v.split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| {
            let exact = Url::parse(o)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .map(|u| u.origin().ascii_serialization());
            if exact.as_deref() == Some(o) {
                Ok(o.to_owned())
            } else {
                Err(format!(
                    "{o:?} is not an origin such as https://app.example.com \
                     (scheme, host and port only, in lower case, no trailing slash)"
                ))
            }
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct BrowserConfig {
    pub cookie_mode: CookieMode,
    /// `Secure` cookies with the `__Secure-`/`__Host-` name prefixes.
    pub cookie_secure: bool,
    /// Origins whose requests may use the cookies (the CSRF check).
    pub trusted_origins: Vec<String>,
    /// Origins that may read the answers (CORS, with credentials).
    pub cors_origins: Vec<String>,
}

impl BrowserConfig {
    pub fn from_vars(vars: &Variables) -> Result<Self, EnvError> {
        if vars.environment == Environment::Production && !vars.cookie_secure {
            return Err(EnvError::invalid(
                "AUTH_COOKIE_SECURE",
                "production refuses false: cookies that carry tokens must be Secure".to_owned(),
            ));
        }
        let trusted_origins = vars.trusted_origins.clone().unwrap_or_default();
        if vars.cookie_mode.is_on() && trusted_origins.is_empty() {
            return Err(EnvError::invalid(
                "AUTH_TRUSTED_ORIGINS",
                "is required while AUTH_COOKIE_MODE is refresh or both: \
                 the origins of the pages that log in"
                    .to_owned(),
            ));
        }
        Ok(Self {
            cookie_mode: vars.cookie_mode,
            cookie_secure: vars.cookie_secure,
            trusted_origins,
            cors_origins: vars.cors_origins.clone().unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_exact() {
        assert_eq!(
            origins(" https://app.example.com, http://localhost:8080 ,").unwrap(),
            ["https://app.example.com", "http://localhost:8080"]
        );
        for bad in [
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://APP.example.com",
            "https://app.example.com:443",
            "app.example.com",
            "ftp://app.example.com",
            "*",
            "null",
        ] {
            assert!(origins(bad).is_err(), "{bad}");
        }
    }
}
