//! What every handler shares, built once at start.

use std::sync::Arc;

use actix_web::web::Bytes;
use auth::{Authority, LoginThrottle};
use ipnet::IpNet;

use crate::blocking::{Db, Hashing};
use crate::browser::Browser;
use crate::mail::MailState;
use crate::metrics::Metrics;
use crate::session_cache::SessionCache;

pub struct AppState {
    pub db: Db,
    /// The sessions and users of user-loading routes (see `session_cache`).
    pub sessions: SessionCache,
    pub authority: Arc<Authority>,
    pub hashing: Hashing,
    pub throttle: Arc<LoginThrottle>,
    pub allow_registration: bool,
    pub trusted_proxies: Vec<IpNet>,
    /// Shared with the metrics middleware, which finds it in the app data.
    pub metrics: Arc<Metrics>,
    /// The JWKS document, serialized once: it only changes with a restart.
    pub jwks_json: Bytes,
    /// Password reset and e-mail verification.
    pub mail: MailState,
    /// Cookie mode, CSRF and CORS.
    pub browser: Browser,
    /// web/demo/ at /demo/: in development only (nginx serves it in the stack).
    pub serve_demo: bool,
}
