//! Database time: UTC as `NaiveDateTime`, cut to microseconds.
//!
//! PostgreSQL keeps microseconds; cutting here makes a value read back equal to
//! the value written on both backends. Every query takes `now` from its caller
//! so that expiry rules can be tested without waiting.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};

pub type Timestamp = NaiveDateTime;

pub fn to_db(at: DateTime<Utc>) -> Timestamp {
    at.naive_utc().trunc_subsecs(6)
}

pub fn from_db(at: Timestamp) -> DateTime<Utc> {
    at.and_utc()
}
