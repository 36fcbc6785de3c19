//! The migrations: up, down to nothing, up again, on both backends; and the
//! two migration sets describe the same schema.

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use domain::{migrations, Backend, DbConnection};
use test_support::{backend_tests, TestDb};

const TABLES: [&str; 5] = [
    "users",
    "sessions",
    "refresh_tokens",
    "login_failures",
    "mail_outbox",
];

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Bool)]
    nullable: bool,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

/// (table, column, nullable) of our tables, backend-neutral.
fn columns(conn: &mut DbConnection) -> BTreeSet<(String, String, bool)> {
    let rows: Vec<Column> = match conn.backend() {
        Backend::Postgres => diesel::sql_query(
            "SELECT table_name::text AS table_name, column_name::text AS column_name, \
             (is_nullable = 'YES') AS nullable FROM information_schema.columns \
             WHERE table_schema = current_schema()",
        )
        .load(conn)
        .unwrap(),
        Backend::Sqlite => TABLES
            .iter()
            .flat_map(|t| {
                diesel::sql_query(format!(
                    "SELECT '{t}' AS table_name, name AS column_name, (\"notnull\" = 0 AND pk = 0) AS nullable \
                     FROM pragma_table_info('{t}')"
                ))
                .load::<Column>(conn)
                .unwrap()
            })
            .collect(),
    };
    rows.into_iter()
        .filter(|c| TABLES.contains(&c.table_name.as_str()))
        .map(|c| (c.table_name, c.column_name, c.nullable))
        .collect()
}

fn index_names(conn: &mut DbConnection) -> BTreeSet<String> {
    let sql = match conn.backend() {
        Backend::Postgres => {
            "SELECT indexname::text AS name FROM pg_indexes WHERE schemaname = current_schema() \
             AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key'"
        }
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex_%'"
        }
    };
    diesel::sql_query(sql)
        .load::<Name>(conn)
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect()
}

fn expected_indexes() -> BTreeSet<String> {
    [
        "sessions_user_id_idx",
        "sessions_expires_at_idx",
        "refresh_tokens_session_id_idx",
        "refresh_tokens_expires_at_idx",
        "login_failures_window_start_idx",
        "users_email_lower_idx",
        "mail_outbox_pending_idx",
        "mail_outbox_done_at_idx",
        "mail_outbox_user_id_idx",
    ]
    .map(String::from)
    .into()
}

fn up_down_up(db: &TestDb) {
    let mut conn = db.connect();
    let folders = test_support::migration_names(db.backend());
    let before = migrations::status(&mut conn).unwrap();
    assert_eq!(
        before.iter().map(|m| m.name.clone()).collect::<Vec<_>>(),
        folders,
        "every folder, in order"
    );
    assert!(before.iter().all(|m| !m.applied));

    let applied = migrations::run_pending(&mut conn).unwrap();
    assert_eq!(applied, folders);
    assert!(migrations::pending(&mut conn).unwrap().is_empty());
    let schema = columns(&mut conn);
    assert_eq!(index_names(&mut conn), expected_indexes());

    let mut reverted = Vec::new();
    while let Some(name) = migrations::revert_last(&mut conn).unwrap() {
        reverted.push(name);
    }
    let names: Vec<String> = before.iter().map(|m| m.name.clone()).rev().collect();
    assert_eq!(reverted, names, "reverted newest first");
    assert!(columns(&mut conn).is_empty(), "down.sql drops every table");

    migrations::run_pending(&mut conn).unwrap();
    assert_eq!(columns(&mut conn), schema, "up again gives the same schema");
    assert!(migrations::status(&mut conn)
        .unwrap()
        .iter()
        .all(|m| m.applied));
}

fn running_twice_applies_nothing(db: &TestDb) {
    let mut conn = db.migrated();
    assert!(migrations::run_pending(&mut conn).unwrap().is_empty());
}

backend_tests!(up_down_up, running_twice_applies_nothing);

#[test]
fn both_backends_have_the_same_schema() {
    let (pg, lite) = (TestDb::postgres(), TestDb::sqlite());
    let (mut pg, mut lite) = (pg.migrated(), lite.migrated());
    let pg_columns = columns(&mut pg);
    assert_eq!(pg_columns, columns(&mut lite));
    assert_eq!(
        pg_columns
            .iter()
            .map(|c| c.0.as_str())
            .collect::<BTreeSet<_>>(),
        TABLES.into_iter().collect()
    );
    let names = |c: &mut DbConnection| -> Vec<String> {
        migrations::status(c)
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect()
    };
    assert_eq!(
        names(&mut pg),
        names(&mut lite),
        "same migration names, same order"
    );
}
