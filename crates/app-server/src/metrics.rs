//! Prometheus metrics: the HTTP middleware's request counts and latencies,
//! and the auth outcomes the handlers report.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    logins: IntCounterVec,
    refreshes: IntCounterVec,
    reuse_detected: IntCounter,
    pub mail: MailMetrics,
    pub session_cache: CacheMetrics,
}

/// The session cache's counters (see `session_cache`): handed to it and to
/// its listener thread.
#[derive(Clone)]
pub struct CacheMetrics {
    hits: IntCounter,
    misses: IntCounter,
    bypasses: IntCounter,
    invalidations: IntCounterVec,
    listener_connected: IntGauge,
}

impl CacheMetrics {
    fn new() -> Self {
        let counter = |name: &str, help: &str| IntCounter::new(name, help).expect("valid metric");
        let invalidations = IntCounterVec::new(
            Opts::new(
                "auth_session_cache_invalidations_total",
                "Entries forgotten: by a change (`change`), a notification that named none (`all`), or the listener going up or down (`listener`)",
            ),
            &["reason"],
        )
        .expect("valid metric");
        for reason in ["change", "all", "listener"] {
            invalidations.with_label_values(&[reason]);
        }
        Self {
            hits: counter(
                "auth_session_cache_hits_total",
                "User-loading requests answered from the session cache",
            ),
            misses: counter(
                "auth_session_cache_misses_total",
                "User-loading requests that read the database and filled the cache",
            ),
            bypasses: counter(
                "auth_session_cache_bypasses_total",
                "User-loading requests that read the database because the listener was not subscribed",
            ),
            invalidations,
            listener_connected: IntGauge::new(
                "auth_session_cache_listener_connected",
                "1 while the PostgreSQL listener is subscribed (the cache serves), else 0; always 0 on SQLite, which needs none",
            )
            .expect("valid metric"),
        }
    }

    fn collectors(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        vec![
            Box::new(self.hits.clone()),
            Box::new(self.misses.clone()),
            Box::new(self.bypasses.clone()),
            Box::new(self.invalidations.clone()),
            Box::new(self.listener_connected.clone()),
        ]
    }

    pub fn hit(&self) {
        self.hits.inc();
    }

    pub fn miss(&self) {
        self.misses.inc();
    }

    pub fn bypass(&self) {
        self.bypasses.inc();
    }

    pub fn invalidated(&self, reason: &str) {
        self.invalidations.with_label_values(&[reason]).inc();
    }

    pub fn listener_connected(&self, connected: bool) {
        self.listener_connected.set(i64::from(connected));
    }
}

#[cfg(test)]
impl CacheMetrics {
    /// Counters registered nowhere, for the cache's unit tests.
    pub fn unregistered() -> Self {
        Self::new()
    }
}

/// The mail sender's counters, by kind (`password_reset`,
/// `email_verification`): handed to its thread.
#[derive(Clone)]
pub struct MailMetrics {
    sent: IntCounterVec,
    failures: IntCounterVec,
    dropped: IntCounterVec,
}

impl MailMetrics {
    fn new() -> Self {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric")
        };
        Self {
            sent: counter(
                "auth_mail_sent_total",
                "Messages handed to the SMTP server (or written as .eml)",
                &["kind"],
            ),
            failures: counter(
                "auth_mail_delivery_failures_total",
                "Failed deliveries: transient ones are retried, permanent ones (5xx) are not",
                &["kind", "reason"],
            ),
            dropped: counter(
                "auth_mail_dropped_total",
                "Queued messages not sent: their link expired, or nobody is left to send them to",
                &["kind", "reason"],
            ),
        }
    }

    pub fn sent(&self, kind: &str) {
        self.sent.with_label_values(&[kind]).inc();
    }

    pub fn failed(&self, kind: &str, reason: &str) {
        self.failures.with_label_values(&[kind, reason]).inc();
    }

    pub fn dropped(&self, kind: &str, reason: &str) {
        self.dropped.with_label_values(&[kind, reason]).inc();
    }
}

#[derive(Debug, Clone, Copy)]
pub enum LoginOutcome {
    Success,
    InvalidCredentials,
    Throttled,
    EmailNotVerified,
}

#[derive(Debug, Clone, Copy)]
pub enum RefreshOutcome {
    Success,
    Invalid,
    Reuse,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route pattern, method and status",
            ),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route pattern and method",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["route", "method"],
        )
        .expect("valid metric");
        let logins = IntCounterVec::new(
            Opts::new("auth_logins_total", "Login attempts by outcome"),
            &["outcome"],
        )
        .expect("valid metric");
        let refreshes = IntCounterVec::new(
            Opts::new("auth_refreshes_total", "Token refreshes by outcome"),
            &["outcome"],
        )
        .expect("valid metric");
        let reuse_detected = IntCounter::new(
            "auth_refresh_reuse_detected_total",
            "Retired refresh tokens presented again (their session was revoked)",
        )
        .expect("valid metric");
        let mail = MailMetrics::new();
        let session_cache = CacheMetrics::new();
        for metric in session_cache.collectors().into_iter().chain([
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(mail.sent.clone()),
            Box::new(mail.failures.clone()),
            Box::new(mail.dropped.clone()),
            Box::new(http_duration.clone()),
            Box::new(logins.clone()),
            Box::new(refreshes.clone()),
            Box::new(reuse_detected.clone()),
        ]) {
            registry.register(metric).expect("metric names are unique");
        }
        // Expose every outcome from the start, so rates work before the first event.
        for outcome in ["success", "invalid_credentials", "throttled"] {
            logins.with_label_values(&[outcome]);
        }
        for outcome in ["success", "invalid", "reuse"] {
            refreshes.with_label_values(&[outcome]);
        }
        logins.with_label_values(&["email_not_verified"]);
        for kind in ["password_reset", "email_verification"] {
            mail.sent.with_label_values(&[kind]);
            for reason in ["transient", "permanent"] {
                mail.failures.with_label_values(&[kind, reason]);
            }
        }
        Self {
            registry,
            http_requests,
            http_duration,
            logins,
            refreshes,
            reuse_detected,
            mail,
            session_cache,
        }
    }

    pub fn login(&self, outcome: LoginOutcome) {
        let label = match outcome {
            LoginOutcome::Success => "success",
            LoginOutcome::InvalidCredentials => "invalid_credentials",
            LoginOutcome::Throttled => "throttled",
            LoginOutcome::EmailNotVerified => "email_not_verified",
        };
        self.logins.with_label_values(&[label]).inc();
    }

    pub fn refresh(&self, outcome: RefreshOutcome) {
        let label = match outcome {
            RefreshOutcome::Success => "success",
            RefreshOutcome::Invalid => "invalid",
            RefreshOutcome::Reuse => "reuse",
        };
        self.refreshes.with_label_values(&[label]).inc();
        if matches!(outcome, RefreshOutcome::Reuse) {
            self.reuse_detected.inc();
        }
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for the metric types above.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }

    fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.http_requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        self.http_duration
            .with_label_values(&[route, method])
            .observe(seconds);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Middleware: count and time every request under its route's name (the path
/// as the contract writes it, see `routes::route`), so both spellings of a
/// path are one series.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let route = req.match_name().unwrap_or("unmatched").to_owned();
    let method = req.method().as_str().to_owned();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let response = next.call(req).await;
    if let Some(metrics) = metrics {
        let status = match &response {
            Ok(r) => r.status().as_u16(),
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        metrics.observe(&route, &method, status, started.elapsed().as_secs_f64());
    }
    response
}
