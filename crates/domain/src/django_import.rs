//! Users brought over from Django (`app-server import-django-users`): the
//! writes into our `users` table, batch by batch inside the caller's one
//! transaction, and the read-only reader of a Django project's `auth_user`
//! table. Parsing a dump and judging hashes happen in the caller.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};

use crate::connection::DbConnection;
use crate::ids::UserId;
use crate::on_backend;
use crate::schema::users;
use crate::sessions::{RevokeReason, Session};
use crate::time::Timestamp;

/// One Django user, mapped to our columns: `pk` kept as the id, `is_staff`
/// or `is_superuser` as admin, the hash as stored here (the caller replaces
/// a hash that cannot be verified by an unusable one).
#[derive(Clone, Insertable, AsChangeset)]
#[diesel(table_name = users)]
pub struct ImportedUser {
    pub id: UserId,
    pub username: String,
    #[diesel(treat_none_as_null = true)]
    pub email: Option<String>,
    pub password_hash: String,
    pub is_active: bool,
    pub is_admin: bool,
    pub date_joined: Timestamp,
    #[diesel(treat_none_as_null = true)]
    pub last_login: Option<Timestamp>,
    pub password_changed_at: Timestamp,
}

// The hash stays out of every log line.
impl std::fmt::Debug for ImportedUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportedUser")
            .field("id", &self.id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// A username or id already here stops the import; every one is listed.
    Fail,
    /// Such a user is left as it is.
    Skip,
    /// Such a user takes the imported fields (its id stays).
    Update,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportCounts {
    pub created: u64,
    pub skipped: u64,
    pub updated: u64,
}

/// Applies batches of imported users on one connection, inside the caller's
/// transaction, keeping counts and (with [`OnConflict::Fail`]) conflicts.
pub struct Importer {
    on_conflict: OnConflict,
    pub counts: ImportCounts,
    /// One line per conflict: unresolvable ones in any mode, all in `Fail`.
    pub conflicts: Vec<String>,
}

impl Importer {
    pub fn new(on_conflict: OnConflict) -> Self {
        Self {
            on_conflict,
            counts: ImportCounts::default(),
            conflicts: Vec::new(),
        }
    }

    /// Import one batch: one query finds the rows already here by id or by
    /// username, one insert writes the new ones. `first_index` is the record
    /// index of `batch[0]`, for the conflict lines.
    pub fn apply(
        &mut self,
        conn: &mut DbConnection,
        batch: &[ImportedUser],
        first_index: usize,
    ) -> QueryResult<()> {
        let ids: Vec<UserId> = batch.iter().map(|u| u.id).collect();
        let names: Vec<&str> = batch.iter().map(|u| u.username.as_str()).collect();
        let existing: Vec<(UserId, String)> = on_backend!(conn, |c| users::table
            .filter(users::id.eq_any(&ids))
            .or_filter(users::username.eq_any(&names))
            .select((users::id, users::username))
            .load(c))?;
        let by_id: HashMap<UserId, &str> =
            existing.iter().map(|(id, n)| (*id, n.as_str())).collect();
        let by_name: HashMap<&str, UserId> =
            existing.iter().map(|(id, n)| (n.as_str(), *id)).collect();

        // A dump that names one user twice is malformed, whatever the mode.
        let mut first_of_id: HashMap<UserId, usize> = HashMap::new();
        let mut first_of_name: HashMap<&str, usize> = HashMap::new();
        let mut new = Vec::new();
        for (offset, user) in batch.iter().enumerate() {
            let index = first_index + offset;
            let repeated = [
                first_of_id
                    .insert(user.id, index)
                    .map(|i| format!("id {} repeats record {i}", user.id)),
                first_of_name
                    .insert(&user.username, index)
                    .map(|i| format!("username {:?} repeats record {i}", user.username)),
            ];
            if let Some(what) = repeated.into_iter().flatten().next() {
                self.conflicts.push(format!("record {index}: {what}"));
                continue;
            }
            // What is here already: the row with this id (its username),
            // the row with this username (its id).
            let found = match (
                by_id.get(&user.id).copied(),
                by_name.get(user.username.as_str()).copied(),
            ) {
                (None, None) => {
                    new.push(user);
                    continue;
                }
                (Some(name), Some(id)) if id == user.id => Found::Same(name),
                (Some(name), Some(id)) => Found::Two(name, id),
                (Some(name), None) => Found::Id(name),
                (None, Some(id)) => Found::Username(id),
            };
            let describe = || match found {
                Found::Same(name) => format!("user {} {name:?} is already here", user.id),
                Found::Two(name, id) => format!(
                    "id {} is user {name:?} here, and username {:?} is user {id}",
                    user.id, user.username
                ),
                Found::Id(name) => format!("id {} is user {name:?} here", user.id),
                Found::Username(id) => format!("username {:?} is user {id} here", user.username),
            };
            // One row to update: the one with this id, whose new username
            // must not be another row's; or, with the id free, the one with
            // this username.
            let target = match found {
                Found::Same(_) | Found::Id(_) => Some(user.id),
                Found::Username(id) => Some(id),
                Found::Two(..) => None,
            };
            match (self.on_conflict, target) {
                (OnConflict::Fail, _) => {
                    self.conflicts
                        .push(format!("record {index}: {}", describe()));
                }
                (OnConflict::Skip, _) => self.counts.skipped += 1,
                (OnConflict::Update, None) => {
                    self.conflicts.push(format!(
                        "record {index}: {} (cannot update both)",
                        describe()
                    ));
                }
                (OnConflict::Update, Some(target)) => {
                    let changes = ImportedUser {
                        id: target,
                        ..user.clone()
                    };
                    on_backend!(conn, |c| diesel::update(users::table.find(target))
                        .set(&changes)
                        .execute(c))?;
                    // A password change: the user's sessions end (their
                    // tokens of the same second too). Ending them announces
                    // the user to the session caches; a user without a live
                    // session has nothing cached to forget.
                    Session::revoke_all_for_user(
                        conn,
                        target,
                        user.password_changed_at,
                        RevokeReason::PasswordChanged,
                    )?;
                    self.counts.updated += 1;
                }
            }
        }
        if !new.is_empty() && self.conflicts.is_empty() {
            let rows: Vec<ImportedUser> = new.into_iter().cloned().collect();
            self.counts.created += on_backend!(conn, |c| diesel::insert_into(users::table)
                .values(&rows)
                .execute(c))? as u64;
        } else {
            // Nothing is written once the import is known to fail, but the
            // remaining batches are still read, so every conflict is listed.
            self.counts.created += new.len() as u64;
        }
        Ok(())
    }

    /// After the last batch: on PostgreSQL the id sequence moves past the
    /// largest id, so the next registration does not collide with an
    /// imported id (SQLite's AUTOINCREMENT follows explicit ids by itself).
    pub fn finish(&self, conn: &mut DbConnection) -> QueryResult<()> {
        if let DbConnection::Pg(c) = conn {
            diesel::sql_query(
                "SELECT setval(pg_get_serial_sequence('users', 'id'), \
                 GREATEST((SELECT MAX(id) FROM users), 1))",
            )
            .execute(c)?;
        }
        Ok(())
    }
}

/// The rows already here that an imported user meets.
#[derive(Clone, Copy)]
enum Found<'a> {
    /// The row with its id has its username too (named).
    Same(&'a str),
    /// Its id is the row named; its username is the row with that id.
    Two(&'a str, UserId),
    /// Only its id is taken, by the row named.
    Id(&'a str),
    /// Only its username is taken, by the row with that id.
    Username(UserId),
}

/// A row of Django's `auth_user`, as text where the backends differ.
#[derive(QueryableByName)]
pub struct DjangoRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub username: String,
    #[diesel(sql_type = Text)]
    pub password: String,
    #[diesel(sql_type = Text)]
    pub email: String,
    #[diesel(sql_type = Bool)]
    pub is_active: bool,
    #[diesel(sql_type = Bool)]
    pub is_staff: bool,
    #[diesel(sql_type = Bool)]
    pub is_superuser: bool,
    /// ISO 8601, with an offset on PostgreSQL (read in UTC), naive UTC on SQLite.
    #[diesel(sql_type = Text)]
    pub date_joined: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub last_login: Option<String>,
}

/// A Django project's database, opened so that nothing can be written:
/// SQLite read-only (`mode=ro`), PostgreSQL in read-only transactions.
pub struct DjangoSource {
    conn: DbConnection,
}

#[derive(Debug, thiserror::Error)]
pub enum DjangoSourceError {
    #[error("unsupported URL (expected postgres://, postgresql:// or sqlite://)")]
    Url,
    #[error("cannot open it: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("cannot read auth_user: {0}")]
    Query(#[from] diesel::result::Error),
}

impl DjangoSource {
    pub fn open(url: &str) -> Result<Self, DjangoSourceError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut conn = diesel::PgConnection::establish(url)?;
            diesel::connection::SimpleConnection::batch_execute(
                &mut conn,
                "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY; SET TIME ZONE 'UTC'",
            )?;
            return Ok(Self {
                conn: DbConnection::Pg(conn),
            });
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or(DjangoSourceError::Url)?;
        if !std::path::Path::new(path).is_file() {
            return Err(DjangoSourceError::Connect(
                diesel::ConnectionError::BadConnection(format!("no such file: {path}")),
            ));
        }
        // A URI filename: read-only, and no file is ever created.
        let conn = diesel::SqliteConnection::establish(&format!("file:{path}?mode=ro"))?;
        Ok(Self {
            conn: DbConnection::Sqlite(conn),
        })
    }

    /// Up to `limit` users with an id above `after`, by id: pages by key, so
    /// memory holds one page whatever the table's size.
    pub fn page(&mut self, after: i64, limit: i64) -> Result<Vec<DjangoRow>, DjangoSourceError> {
        const COLUMNS_AFTER_ID: &str =
            "username, password, email, is_active, is_staff, is_superuser";
        Ok(match &mut self.conn {
            DbConnection::Pg(c) => diesel::sql_query(format!(
                "SELECT CAST(id AS BIGINT) AS id, {COLUMNS_AFTER_ID}, to_char(date_joined, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS date_joined, \
                 to_char(last_login, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS last_login \
                 FROM auth_user WHERE id > $1 ORDER BY id LIMIT $2"
            ))
            .bind::<BigInt, _>(after)
            .bind::<BigInt, _>(limit)
            .load(c)?,
            DbConnection::Sqlite(c) => diesel::sql_query(format!(
                "SELECT id, {COLUMNS_AFTER_ID}, CAST(date_joined AS TEXT) AS date_joined, \
                 CAST(last_login AS TEXT) AS last_login \
                 FROM auth_user WHERE id > ? ORDER BY id LIMIT ?"
            ))
            .bind::<BigInt, _>(after)
            .bind::<BigInt, _>(limit)
            .load(c)?,
        })
    }
}
