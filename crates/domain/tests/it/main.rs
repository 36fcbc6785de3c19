//! The domain crate's integration tests, one binary: every query and the
//! migrations, each body run on a real SQLite file and a real PostgreSQL
//! schema (`test_support::backend_tests!`).

mod changes;
mod migrations;
mod outbox;
mod queries;
