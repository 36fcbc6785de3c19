//! The one test harness of the workspace; every crate's integration tests
//! build on it, so each helper is written once.
//!
//! - [`db`]: a throwaway database per test, an SQLite file or a PostgreSQL
//!   schema ([`TestDb`], [`backend_tests!`]), or a whole PostgreSQL database
//!   to cut off ([`PgDatabase`]).
//! - [`server`]: the app-server binary configured by the [`TestServer`]
//!   builder and run as a [`Server`] on a free port; [`http`] speaks to it
//!   and checks answers against the contract.
//! - [`process`]: any of our binaries run with exactly the given environment
//!   ([`Program`]).
//! - [`jwt`]: tokens read and forged as a client or an attacker would, with
//!   the test [`SECRET`]; [`codecs`]: the `auth` crate's keys, codecs and
//!   authorities over the fixture keys; [`users`]: users written straight
//!   into a database; [`keyfiles`]: key files made with openssl.

pub mod codecs;
pub mod db;
pub mod http;
pub mod jwt;
pub mod keyfiles;
pub mod process;
pub mod server;
pub mod smtp;
pub mod users;

pub use db::{migration_names, postgres_admin_url, PgDatabase, TestDb, PG_ENV};
pub use http::{assert_user_shape, keys, Resp, PASSWORD};
pub use jwt::SECRET;
pub use process::{Output, Program};
pub use server::{Server, TestServer};
