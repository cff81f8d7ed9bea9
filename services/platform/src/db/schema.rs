//! Column and index helpers for migrations, so every service's tables spell the same kinds of
//! column the same way (text is `varchar`/`TEXT`, instants are `timestamptz`, ids are
//! `varchar(64)` primary keys).

use sea_orm_migration::prelude::*;

/// A text primary key (UUIDs and other ids; 64 characters at most).
pub fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string_len(64).not_null().primary_key().to_owned()
}

/// Required text.
pub fn text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string().not_null().to_owned()
}

/// Optional text.
pub fn nullable_text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string().null().to_owned()
}

/// A required 32-bit integer.
pub fn int(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).integer().not_null().to_owned()
}

/// A required 64-bit integer.
pub fn big_int(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().to_owned()
}

/// A required instant (`timestamptz`).
pub fn time(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().not_null().to_owned()
}

/// An optional instant.
pub fn nullable_time(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().null().to_owned()
}

/// Required bytes (`bytea` / `BLOB`).
pub fn bytes(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).blob().not_null().to_owned()
}

/// A 64-bit auto-increment primary key.
pub fn serial(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().auto_increment().primary_key().to_owned()
}

/// Creates `index` unless it exists.
pub async fn index(manager: &SchemaManager<'_>, mut index: IndexCreateStatement) -> Result<(), DbErr> {
    manager.create_index(index.if_not_exists().to_owned()).await
}

/// True when `table` exists in the service's schema (PostgreSQL) or file (SQLite): the test a
/// data-preserving migration makes before it copies an older table's rows.
pub async fn table_exists(manager: &SchemaManager<'_>, table: &str) -> Result<bool, DbErr> {
    manager.has_table(table).await
}
