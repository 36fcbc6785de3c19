//! The app-server's integration tests, one binary: the real binary spawned
//! per test against its own database (see `test_support::server`), spoken to
//! over HTTP or run as a command line. Each module holds one part of the
//! contract in `docs/API.md`.

mod account;
mod admin;
mod browser;
mod cli;
mod compat;
mod django_hashes;
mod failover;
mod import;
mod operations;
mod recovery;
mod reuse_interval;
mod session_cache;
mod sessions;
mod sliding;
mod throttle;
mod tokens;
mod usernames;

use test_support::TestServer;

/// The app-server binary this crate built, with the test defaults.
fn app() -> TestServer {
    TestServer::new(env!("CARGO_BIN_EXE_app-server"))
}
