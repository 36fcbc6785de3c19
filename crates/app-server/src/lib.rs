//! The actix-web server of the auth service, as a library so that the binary,
//! the integration tests and the fuzz targets share one application.

pub mod app;
pub mod blocking;
pub mod browser;
pub mod cli;
pub mod config;
pub mod env_vars;
pub mod envelope;
pub mod errors;
pub mod extract;
pub mod import;
pub mod mail;
pub mod metrics;
pub mod openapi;
pub mod requests;
pub mod routes;
pub mod session_cache;
pub mod startup;
pub mod state;
pub mod views;
