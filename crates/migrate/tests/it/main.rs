//! The migrate binary's integration tests, one binary, run as an operator
//! runs it (`test_support::Program`) on both backends.

mod cli;
mod nfkc;

/// The binary this crate built.
const BIN: &str = env!("CARGO_BIN_EXE_migrate");
