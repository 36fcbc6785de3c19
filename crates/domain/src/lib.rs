//! The data model of the auth service: users, sessions (refresh-token
//! families) with their token records, login-failure counters and the mail
//! outbox, as diesel queries that run unchanged on PostgreSQL and SQLite.
//!
//! Every query is a plain function over `&mut DbConnection`, so callers can
//! compose them inside one transaction.

pub mod changes;
pub mod connection;
pub mod django_import;
pub mod failover;
pub mod ids;
pub mod login_failures;
pub mod migrations;
pub mod outbox;
pub mod refresh_tokens;
pub mod schema;
pub mod sessions;
pub mod time;
pub mod users;

pub use changes::{Change, Notice, Subscription};
pub use connection::{
    build_pool, write_transaction, Backend, DatabaseUrl, DatabaseUrlError, DbConnection, Pool,
    PoolOptions, PooledConnection, DEFAULT_DATA_DIR,
};
pub use failover::{is_connection_error, Attempt};
pub use ids::{SessionId, TokenId, UserId};
pub use outbox::{MailKind, OutboxMessage};
pub use refresh_tokens::RefreshToken;
pub use sessions::{RevokeReason, Session};
pub use users::{
    normalize_username, CreateUserError, NewUser, Registered, User, UserFlags, UsernameCollision,
};

pub use diesel::result::{DatabaseErrorKind, Error as QueryError};
