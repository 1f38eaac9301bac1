//! Both migration sets must always produce the same schema.

use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use switchyard::store::AnyConnection;
use switchyard::store::migrations;

use crate::helpers::{Backend, TestDatabase};

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Bool)]
    not_null: bool,
}

#[derive(QueryableByName)]
struct Index {
    #[diesel(sql_type = Text)]
    index_name: String,
    #[diesel(sql_type = Bool)]
    is_unique: bool,
}

const SQLITE_COLUMNS: &str = "SELECT m.name AS table_name, c.name AS column_name, lower(c.type) AS data_type, \
     (c.\"notnull\" = 1 OR c.pk > 0) AS not_null \
     FROM sqlite_master m JOIN pragma_table_info(m.name) c \
     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'";
const SQLITE_INDEXES: &str = "SELECT i.name AS index_name, i.\"unique\" = 1 AS is_unique \
     FROM sqlite_master m JOIN pragma_index_list(m.name) i \
     WHERE m.type = 'table' AND i.origin = 'c'";
const POSTGRES_COLUMNS: &str = "SELECT table_name::text, column_name::text, data_type::text, \
     is_nullable = 'NO' AS not_null FROM information_schema.columns \
     WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'";
const POSTGRES_INDEXES: &str = "SELECT indexname::text AS index_name, indexdef LIKE 'CREATE UNIQUE%' AS is_unique \
     FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT LIKE '%_pkey' \
     AND tablename <> '__diesel_schema_migrations'";

/// Every table, column (with its type family and nullability) and index, as sorted lines.
fn describe(conn: &mut AnyConnection) -> Vec<String> {
    let (columns, indexes) = match conn {
        AnyConnection::Sqlite(c) => (
            diesel::sql_query(SQLITE_COLUMNS).load::<Column>(c).unwrap(),
            diesel::sql_query(SQLITE_INDEXES).load::<Index>(c).unwrap(),
        ),
        AnyConnection::Postgresql(c) => (
            diesel::sql_query(POSTGRES_COLUMNS)
                .load::<Column>(c)
                .unwrap(),
            diesel::sql_query(POSTGRES_INDEXES)
                .load::<Index>(c)
                .unwrap(),
        ),
    };
    let mut lines: Vec<String> = columns
        .into_iter()
        .map(|c| {
            let type_family = match c.data_type.as_str() {
                "text" | "character varying" => "text",
                "bigint" | "int8" => "bigint",
                "integer" | "int" | "int4" => "integer",
                "boolean" | "bool" => "boolean",
                "double precision" | "real" | "double" => "double",
                "bytea" | "blob" => "blob",
                other => panic!(
                    "column {}.{} has a type the schema test does not know: {other}",
                    c.table_name, c.column_name
                ),
            };
            let null = if c.not_null { "not null" } else { "null" };
            format!(
                "column {}.{} {type_family} {null}",
                c.table_name, c.column_name
            )
        })
        .chain(indexes.into_iter().map(|i| {
            format!(
                "index {}{}",
                i.index_name,
                if i.is_unique { " unique" } else { "" }
            )
        }))
        .collect();
    lines.sort();
    lines
}

fn migrate(db: &TestDatabase) -> Vec<String> {
    let mut conn = db.connect();
    migrations::run_pending(&mut conn).unwrap();
    describe(&mut conn)
}

#[test]
fn both_migration_sets_have_the_same_migrations() {
    let names = |backend: &str| {
        let mut names: Vec<_> = std::fs::read_dir(format!(
            "{}/migrations/{backend}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
        names.sort();
        names
    };

    assert_eq!(names("sqlite"), names("postgres"));
    assert!(!names("sqlite").is_empty());
}

#[test]
fn sqlite_and_postgresql_schemas_are_identical() {
    let sqlite = migrate(&TestDatabase::create(&Backend::Sqlite));
    assert!(
        sqlite
            .iter()
            .any(|line| line.starts_with("column api_tokens.id text")),
        "{sqlite:#?}"
    );
    let Some(postgres_backend) = Backend::postgres() else {
        return;
    };

    let postgres = migrate(&TestDatabase::create(&postgres_backend));

    assert_eq!(
        sqlite, postgres,
        "the two migration sets have drifted apart"
    );
}

#[test]
fn migrations_are_applied_once() {
    let db = TestDatabase::create(&Backend::Sqlite);
    let mut conn = db.connect();

    assert!(migrations::run_pending(&mut conn).unwrap() > 0);
    assert_eq!(migrations::run_pending(&mut conn).unwrap(), 0);
    assert!(!migrations::has_pending(&mut conn).unwrap());
}
