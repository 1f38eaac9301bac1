//! Queries of the API-token aggregate. Only a token's hash is ever stored.

use diesel::prelude::*;

use super::schema::api_tokens;
use super::{AnyConnection, Page, PageRequest, StoreError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_tokens)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub token_hash: String,
    pub hint: String,
    pub created_by: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub fn insert(conn: &mut AnyConnection, row: &TokenRow) -> Result<(), StoreError> {
    diesel::insert_into(api_tokens::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find_by_hash(conn: &mut AnyConnection, hash: &str) -> Result<Option<TokenRow>, StoreError> {
    Ok(api_tokens::table
        .filter(api_tokens::token_hash.eq(hash))
        .select(TokenRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<TokenRow>, StoreError> {
    Ok(api_tokens::table
        .find(id)
        .select(TokenRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn list(conn: &mut AnyConnection, page: &PageRequest) -> Result<Page<TokenRow>, StoreError> {
    let mut query = api_tokens::table
        .select(TokenRow::as_select())
        .order(api_tokens::id.desc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(before) = &page.before {
        query = query.filter(api_tokens::id.lt(before));
    }
    let rows = query.load(conn)?;
    Ok(Page::from_rows(rows, page, |row| &row.id))
}

pub fn count_with_scope(conn: &mut AnyConnection, scope: &str) -> Result<i64, StoreError> {
    Ok(api_tokens::table
        .filter(api_tokens::scope.eq(scope))
        .count()
        .get_result(conn)?)
}

/// Returns whether a token with that id existed.
pub fn delete(conn: &mut AnyConnection, id: &str) -> Result<bool, StoreError> {
    let deleted = diesel::delete(api_tokens::table.find(id)).execute(conn)?;
    Ok(deleted > 0)
}

/// Records use at most once per `granularity_ms`, so authenticating stays a read on most requests.
pub fn touch_last_used(
    conn: &mut AnyConnection,
    id: &str,
    now: i64,
    granularity_ms: i64,
) -> Result<(), StoreError> {
    match conn {
        // Skips a row another transaction holds: that one records the use already, and waiting
        // for it could close a deadlock between writer threads whose batches lock other rows too.
        AnyConnection::Postgresql(c) => {
            use diesel::sql_types::{BigInt, Text};
            diesel::sql_query(
                "UPDATE api_tokens SET last_used_at = $1 WHERE id = (SELECT id FROM api_tokens \
                 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3) FOR UPDATE SKIP LOCKED)",
            )
            .bind::<BigInt, _>(now)
            .bind::<Text, _>(id)
            .bind::<BigInt, _>(now - granularity_ms)
            .execute(c)?;
        }
        AnyConnection::Sqlite(c) => {
            diesel::update(
                api_tokens::table.find(id).filter(
                    api_tokens::last_used_at
                        .is_null()
                        .or(api_tokens::last_used_at.lt(now - granularity_ms)),
                ),
            )
            .set(api_tokens::last_used_at.eq(now))
            .execute(c)?;
        }
    }
    Ok(())
}
