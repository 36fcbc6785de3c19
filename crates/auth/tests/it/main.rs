//! The auth crate's integration tests, one binary: tokens, keys, passwords
//! and the session rules through the public API, over real databases where
//! the rules need one. Helpers come from `test_support` (`jwt`, `codecs`,
//! `users`); the fixture keys are in `tests/fixtures`.

mod fuzz_regressions;
mod keys;
mod model;
mod passwords;
mod refresh_race;
mod rejections;
mod reuse_interval;
mod rfc7515;
mod sessions;
mod sliding;
mod tamper;
mod throttle;
