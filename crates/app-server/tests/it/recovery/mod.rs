//! Account recovery through the real server and a real SMTP server (the
//! test sink of test-support), on SQLite and on PostgreSQL: password reset,
//! e-mail verification, and delivery that survives an SMTP outage and a
//! restart.

mod delivery;
mod reset;
mod support;
mod verify;
