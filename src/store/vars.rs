//! Queries of the global template variables. `value` is JSON text.

use diesel::prelude::*;

use super::schema::vars;
use super::{AnyConnection, Page, PageRequest, StoreError};
use crate::on_backend;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = vars)]
pub struct VarRow {
    pub key: String,
    pub value: String,
    pub updated_by: String,
    pub updated_at: i64,
}

/// Stores the variable; returns whether it existed before.
pub fn put(conn: &mut AnyConnection, row: &VarRow) -> Result<bool, StoreError> {
    let existed = find(conn, &row.key)?.is_some();
    on_backend!(conn, |c| diesel::insert_into(vars::table)
        .values(row)
        .on_conflict(vars::key)
        .do_update()
        .set(row)
        .execute(c))?;
    Ok(existed)
}

pub fn find(conn: &mut AnyConnection, key: &str) -> Result<Option<VarRow>, StoreError> {
    Ok(vars::table
        .find(key)
        .select(VarRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn list(conn: &mut AnyConnection, page: &PageRequest) -> Result<Page<VarRow>, StoreError> {
    let mut query = vars::table
        .select(VarRow::as_select())
        .order(vars::key.desc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(before) = &page.before {
        query = query.filter(vars::key.lt(before));
    }
    let rows = query.load(conn)?;
    Ok(Page::from_rows(rows, page, |row| &row.key))
}

/// Every variable's key and value, for the template context.
pub fn all(conn: &mut AnyConnection) -> Result<Vec<(String, String)>, StoreError> {
    Ok(vars::table
        .select((vars::key, vars::value))
        .order(vars::key.asc())
        .load(conn)?)
}

/// Returns whether the variable existed.
pub fn delete(conn: &mut AnyConnection, key: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(vars::table.find(key)).execute(conn)? > 0)
}
