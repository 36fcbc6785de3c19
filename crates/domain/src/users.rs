//! Accounts and their queries.

use std::fmt;

use chrono::TimeDelta;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::changes::{announce, Change};
use crate::connection::{write_transaction, DbConnection};
use crate::ids::UserId;
use crate::on_backend;
use crate::schema::users;
use crate::time::Timestamp;

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>);

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub is_active: bool,
    pub is_admin: bool,
    pub date_joined: Timestamp,
    pub last_login: Option<Timestamp>,
    pub password_changed_at: Timestamp,
    /// The address was proven by a verification link (or given by the
    /// operator to `create-user`); false again only with a new address.
    pub email_verified: bool,
}

// The hash stays out of every log line, even a debug print of the whole row.
impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("email", &self.email)
            .field("password_hash", &"<redacted>")
            .field("is_active", &self.is_active)
            .field("is_admin", &self.is_admin)
            .field("date_joined", &self.date_joined)
            .field("last_login", &self.last_login)
            .field("password_changed_at", &self.password_changed_at)
            .field("email_verified", &self.email_verified)
            .finish()
    }
}

#[derive(Clone, Copy, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: Option<&'a str>,
    pub password_hash: &'a str,
    pub is_active: bool,
    pub is_admin: bool,
    pub date_joined: Timestamp,
    pub password_changed_at: Timestamp,
}

/// The form a username is stored and looked up in: Unicode NFKC, as Django's
/// `AbstractBaseUser.normalize_username` makes it, so that `ﬁle` (with the
/// ligature) and `file`, or `Ａdmin` (full-width) and `admin`, are one name
/// and one user cannot pose as another.
pub fn normalize_username(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    name.nfkc().collect()
}

/// A stored username left as it is because its NFKC form is taken (or
/// wanted by another row too): listed by `migrate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsernameCollision {
    pub id: UserId,
    pub username: String,
    pub normalized: String,
}

/// What [`User::register`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registered {
    Created(User),
    /// The proxy's resend of a registration already committed: its user.
    Resent(User),
}

impl Registered {
    pub fn into_user(self) -> User {
        match self {
            Self::Created(user) | Self::Resent(user) => user,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("the username is already taken")]
    UsernameTaken,
    #[error(transparent)]
    Database(#[from] DieselError),
}

/// The admin-editable flags; `None` leaves a flag as it is.
#[derive(Debug, Default, Clone, Copy, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserFlags {
    pub is_active: Option<bool>,
    pub is_admin: Option<bool>,
}

impl User {
    pub fn create(conn: &mut DbConnection, new: &NewUser<'_>) -> Result<User, CreateUserError> {
        Self::create_for_request(conn, new, None, TimeDelta::zero())
    }

    /// [`User::create`] for a request that a trusted proxy gave the id
    /// `request`, kept with the user. When the username is already taken by
    /// that very request, less than `resend_window` before `new.date_joined`,
    /// this is the proxy resending a registration whose replica died after
    /// committing it: the answer is the user it made, not a taken username.
    pub fn create_for_request(
        conn: &mut DbConnection,
        new: &NewUser<'_>,
        request: Option<&str>,
        resend_window: TimeDelta,
    ) -> Result<User, CreateUserError> {
        Self::register(conn, new, request, resend_window).map(Registered::into_user)
    }

    /// [`User::create_for_request`], telling a new user from a resent one, so
    /// that what a registration causes (a verification mail) happens once.
    /// The insert runs in a savepoint of its own: inside a caller's
    /// transaction, a taken username must leave that transaction usable for
    /// the lookup of the resend (PostgreSQL aborts a transaction at its first
    /// failed statement otherwise).
    pub fn register(
        conn: &mut DbConnection,
        new: &NewUser<'_>,
        request: Option<&str>,
        resend_window: TimeDelta,
    ) -> Result<Registered, CreateUserError> {
        let username = normalize_username(new.username);
        let new = &NewUser {
            username: &username,
            ..*new
        };
        let created = write_transaction(conn, |c| {
            on_backend!(c, |c| diesel::insert_into(users::table)
                .values((new, users::registered_by_request.eq(request)))
                .returning(User::as_returning())
                .get_result(c))
        })
        .map_err(|e| match e {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                CreateUserError::UsernameTaken
            }
            other => CreateUserError::Database(other),
        });
        let (Err(CreateUserError::UsernameTaken), Some(request)) = (&created, request) else {
            return created.map(Registered::Created);
        };
        let since = new.date_joined - resend_window;
        let resent = on_backend!(conn, |c| users::table
            .filter(users::username.eq(new.username))
            .filter(users::registered_by_request.eq(request))
            .filter(users::date_joined.gt(since))
            .select(User::as_select())
            .get_result(c)
            .optional())?;
        let user = resent.ok_or(CreateUserError::UsernameTaken)?;
        // Worth seeing: it means a replica died after committing.
        log::info!(
            "register: request {request} resent by the proxy; answered with the user it created"
        );
        Ok(Registered::Resent(user))
    }

    pub fn find(conn: &mut DbConnection, id: UserId) -> QueryResult<Option<User>> {
        on_backend!(conn, |c| users::table
            .find(id)
            .select(User::as_select())
            .get_result(c)
            .optional())
    }

    /// Usernames compare case-sensitively, as Django's default user model
    /// does, in their NFKC form ([`normalize_username`]).
    pub fn find_by_username(conn: &mut DbConnection, username: &str) -> QueryResult<Option<User>> {
        let username = normalize_username(username);
        on_backend!(conn, |c| users::table
            .filter(users::username.eq(&username))
            .select(User::as_select())
            .get_result(c)
            .optional())
    }

    /// One page of users ordered by id, and the total count.
    pub fn page(conn: &mut DbConnection, limit: i64, offset: i64) -> QueryResult<(i64, Vec<User>)> {
        on_backend!(conn, |c| {
            let count = users::table.count().get_result(c)?;
            let page = users::table
                .order(users::id.asc())
                .limit(limit)
                .offset(offset)
                .select(User::as_select())
                .load(c)?;
            Ok((count, page))
        })
    }

    /// Announced (see [`crate::changes`]): `/api/me/` shows `last_login`.
    pub fn record_login(conn: &mut DbConnection, id: UserId, at: Timestamp) -> QueryResult<()> {
        on_backend!(conn, |c| diesel::update(users::table.find(id))
            .set(users::last_login.eq(at))
            .execute(c))?;
        announce(conn, Change::User(id))
    }

    /// Store a new hash; returns false when no such user exists. Announced
    /// (see [`crate::changes`]): tokens older than the change stop working.
    pub fn set_password_hash(
        conn: &mut DbConnection,
        id: UserId,
        hash: &str,
        at: Timestamp,
    ) -> QueryResult<bool> {
        let n = on_backend!(conn, |c| diesel::update(users::table.find(id))
            .set((
                users::password_hash.eq(hash),
                users::password_changed_at.eq(at),
            ))
            .execute(c))?;
        if n == 1 {
            announce(conn, Change::User(id))?;
        }
        Ok(n == 1)
    }

    /// Replace a hash imported from Django by its bcrypt equivalent, checked
    /// at a login. Only while the stored hash is still `old`: a password set
    /// since then wins. Not a password change: `password_changed_at` (and
    /// with it every token issued before) stays.
    pub fn upgrade_password_hash(
        conn: &mut DbConnection,
        id: UserId,
        old: &str,
        new: &str,
    ) -> QueryResult<bool> {
        let n = on_backend!(conn, |c| diesel::update(
            users::table.find(id).filter(users::password_hash.eq(old))
        )
        .set(users::password_hash.eq(new))
        .execute(c))?;
        // Cached users carry their hash (a password change checks it).
        if n == 1 {
            announce(conn, Change::User(id))?;
        }
        Ok(n == 1)
    }

    /// Store every username in its NFKC form where that form is free: taken
    /// by no other row, and wanted by no other row being normalized. The
    /// rows left as they are are returned (see [`User::username_collisions`]).
    pub fn normalize_usernames(conn: &mut DbConnection) -> QueryResult<Vec<UsernameCollision>> {
        write_transaction(conn, |c| {
            let rows: Vec<(UserId, String)> = on_backend!(c, |c| users::table
                .select((users::id, users::username))
                .load(c))?;
            let taken: std::collections::HashSet<&str> =
                rows.iter().map(|(_, name)| name.as_str()).collect();
            let mut wanted: std::collections::HashMap<String, Vec<UserId>> =
                std::collections::HashMap::new();
            for (id, name) in &rows {
                let normalized = normalize_username(name);
                if normalized != *name {
                    wanted.entry(normalized).or_default().push(*id);
                }
            }
            for (normalized, ids) in &wanted {
                if let ([id], false) = (ids.as_slice(), taken.contains(normalized.as_str())) {
                    on_backend!(c, |c| diesel::update(users::table.find(*id))
                        .set(users::username.eq(normalized))
                        .execute(c))?;
                }
            }
            Self::username_collisions(c)
        })
    }

    /// The rows whose username is not in its NFKC form: after
    /// [`User::normalize_usernames`], those whose form is taken. An operator
    /// resolves each (renames one of the users) by hand.
    pub fn username_collisions(conn: &mut DbConnection) -> QueryResult<Vec<UsernameCollision>> {
        let rows: Vec<(UserId, String)> = on_backend!(conn, |c| users::table
            .select((users::id, users::username))
            .order(users::id.asc())
            .load(c))?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, username)| {
                let normalized = normalize_username(&username);
                (normalized != username).then_some(UsernameCollision {
                    id,
                    username,
                    normalized,
                })
            })
            .collect())
    }

    /// The active users with this address, compared case-insensitively
    /// (ASCII letters on SQLite, whose `lower` knows no others), by id.
    pub fn find_active_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Vec<User>> {
        let wanted = email.to_lowercase();
        on_backend!(conn, |c| users::table
            .filter(lower(users::email).eq(&wanted))
            .filter(users::is_active.eq(true))
            .order(users::id.asc())
            .select(User::as_select())
            .load(c))
    }

    /// The user, its row locked until the transaction ends, so that a check
    /// made on it (a reset token over its hash) still holds at the write.
    /// Call inside [`write_transaction`]: on SQLite its `BEGIN IMMEDIATE`
    /// already holds the database's write lock.
    pub fn find_for_update(conn: &mut DbConnection, id: UserId) -> QueryResult<Option<User>> {
        let query = users::table.find(id);
        match conn {
            DbConnection::Pg(c) => query
                .select(User::as_select())
                .for_update()
                .get_result(c)
                .optional(),
            DbConnection::Sqlite(c) => query.select(User::as_select()).get_result(c).optional(),
        }
    }

    /// Mark the address proven, if it is still `email`; false otherwise (a
    /// changed address, or none). Announced (see [`crate::changes`]).
    pub fn set_email_verified(
        conn: &mut DbConnection,
        id: UserId,
        email: &str,
    ) -> QueryResult<bool> {
        let n = on_backend!(conn, |c| diesel::update(
            users::table.find(id).filter(users::email.eq(email))
        )
        .set(users::email_verified.eq(true))
        .execute(c))?;
        if n == 1 {
            announce(conn, Change::User(id))?;
        }
        Ok(n == 1)
    }

    /// Apply the flags and return the updated user, or `None` when there is
    /// no such user. Announced (see [`crate::changes`]).
    pub fn set_flags(
        conn: &mut DbConnection,
        id: UserId,
        flags: UserFlags,
    ) -> QueryResult<Option<User>> {
        if flags.is_active.is_none() && flags.is_admin.is_none() {
            // diesel refuses an empty SET clause
            return User::find(conn, id);
        }
        let updated = on_backend!(conn, |c| diesel::update(users::table.find(id))
            .set(&flags)
            .returning(User::as_returning())
            .get_result(c))
        .optional()?;
        if updated.is_some() {
            announce(conn, Change::User(id))?;
        }
        Ok(updated)
    }
}
