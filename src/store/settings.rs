//! Queries of the runtime settings. `value` is JSON text.

use diesel::prelude::*;

use super::schema::settings;
use super::{AnyConnection, StoreError};
use crate::on_backend;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = settings)]
pub struct SettingRow {
    pub key: String,
    pub value: String,
    pub updated_by: String,
    pub updated_at: i64,
}

pub fn put(conn: &mut AnyConnection, row: &SettingRow) -> Result<(), StoreError> {
    on_backend!(conn, |c| diesel::insert_into(settings::table)
        .values(row)
        .on_conflict(settings::key)
        .do_update()
        .set(row)
        .execute(c))?;
    Ok(())
}

/// Every stored setting's key and value.
pub fn all(conn: &mut AnyConnection) -> Result<Vec<(String, String)>, StoreError> {
    Ok(settings::table
        .select((settings::key, settings::value))
        .load(conn)?)
}
