//! Request extractors, each written once: the JSON body, the Bearer token,
//! the authenticated user (and admin), the client address and the proxy's
//! request id.

pub mod bearer;
pub mod body;
pub mod client;
pub mod user;

pub use bearer::BearerToken;
pub use body::Form;
pub use client::{ClientAddr, ProxyRequestId};
pub use user::{AdminUser, CurrentSession, CurrentUser, UserWithBody};
