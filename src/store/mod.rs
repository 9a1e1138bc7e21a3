//! The store: jobs, generation records, checkpoints, genomes and evaluations.
//!
//! Every SQL statement of the program lives under this module, behind [`Store`]. SQLite is the
//! embedded default; the schema comes from `migrations/sqlite`, applied at start-up.
//! Worker writes are fenced by the job's lease token: a write from a worker that lost its lease
//! changes nothing and returns [`StoreError::LeaseLost`].

pub mod chart;
mod models;
mod sqlite;

pub use chart::Chart;
pub use models::*;
pub use sqlite::{LeaseState, SqliteStore};

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the job's lease was lost (another worker owns it now)")]
    LeaseLost,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The store the program runs on.
pub type Store = SqliteStore;

/// Opens the store a `--database` value names: a path, or a `sqlite://` URL.
pub async fn open(database: &str) -> Result<Store> {
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        return Err(StoreError::Conflict(
            "PostgreSQL is not supported by this build yet; use a SQLite path".into(),
        ));
    }
    let path = database.strip_prefix("sqlite://").unwrap_or(database);
    SqliteStore::open(Path::new(path)).await
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
