//! The store: jobs, generation records, checkpoints, genomes and evaluations.
//!
//! Every SQL statement of the program lives under this module, behind [`Store`]. SQLite is the
//! embedded default; PostgreSQL serves many machines on one database. Each backend's schema comes
//! from `migrations/<backend>`, applied at start-up.
//!
//! One body serves both backends: `jobs`, `runs` and `genomes` write each statement once (with
//! the marks of `dialect` where the backends differ) and decode rows once (`rows`); `backend`
//! runs that code against whichever backend the [`Store`] holds. `sqlite` and `postgres` keep
//! only what is theirs alone: opening, migrations, the write probe, the write lock, and how
//! their notices travel (`LISTEN`/`NOTIFY`; SQLite's in-process outbox).
//! Every write that changes a job or records a generation announces a [`Notice`] in its own
//! transaction; [`Store::listen`] hears them. Nothing outside the store announces anything.
//! Worker writes are fenced by the job's lease token: a write from a worker that lost its lease
//! changes nothing and returns [`StoreError::LeaseLost`].

mod backend;
pub mod chart;
mod dialect;
mod genomes;
mod health;
mod imports;
mod jobs;
mod models;
mod notice;
mod postgres;
mod rows;
mod runs;
mod sqlite;
mod sweeps;

pub use backend::{NoticeStream, Store};
pub use chart::{Chart, ChartSeries};
pub use health::{WriteFailure, WriteHealth};
pub use imports::IMPORT_WORKER;
pub use models::*;
pub use notice::{MAX_NOTIFY_PAYLOAD, Notice};
pub use postgres::{EVENTS_CHANNEL, PgStore};
pub use sqlite::SqliteStore;

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// The store cannot work right now (a full disk, an I/O error, a lock held past the
    /// timeout, a lost connection): no fault of the request, worth retrying later.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
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
    #[error("{0}")]
    Invalid(String),
    #[error("the event listener lost its connection; events sent meanwhile were missed")]
    EventsMissed,
}

/// Crashes after which a job fails (from `limits::worker`), as the SQL binds it.
const MAX_CRASHES: i32 = crate::limits::worker::MAX_CRASHES as i32;

/// The job's crash count once one more crash is counted (SQL, the same on both backends): a
/// crash after progress past the generation of the previous crash starts the count afresh, so
/// only crashes at the same place add up. A constant: the statements it is formatted into stay
/// free of input (`AssertSqlSafe`), every value is bound.
const NEXT_CRASHES: &str = "(case when crash_generation is null or generation > crash_generation \
     then 1 else crashes + 1 end)";

/// The error of a job whose worker died `MAX_CRASHES` times.
const DIED_TOO_OFTEN: &str = "the worker running this job died each of the last times it ran \
    it, at the same generation (its lease expired without a hand-back: killed, out of memory or \
    aborted); the job is failed so that it cannot take down more workers. The worker's log has \
    the cause.";

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if health::is_unavailable(&e) {
            StoreError::Unavailable(e.to_string())
        } else {
            StoreError::Database(e)
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Opens the store a `--database` value names: a `postgres://` or `postgresql://` URL (which
/// may pick a schema with `?options=-c%20search_path%3D<schema>`), else a SQLite path or
/// `sqlite://` URL.
pub async fn open(database: &str) -> Result<Store> {
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        return Ok(Store::Postgres(PgStore::open(database).await?));
    }
    let path = database.strip_prefix("sqlite://").unwrap_or(database);
    Ok(Store::Sqlite(SqliteStore::open(Path::new(path)).await?))
}

/// `database` fit for logs and error messages: a URL's password (in the user part or as a
/// `password=` parameter) becomes `***`.
pub fn redact(database: &str) -> String {
    let Some((scheme, rest)) = database.split_once("://") else {
        return database.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<&str> = query
                .split('&')
                .map(|p| {
                    if p.starts_with("password=") {
                        "password=***"
                    } else {
                        p
                    }
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_the_logs() {
        assert_eq!(
            redact("postgres://sfnn:s3cr:et@db.example:5432/lab?sslmode=require"),
            "postgres://sfnn:***@db.example:5432/lab?sslmode=require"
        );
        assert_eq!(redact("postgres://sfnn@db/lab"), "postgres://sfnn@db/lab");
        assert_eq!(
            redact("postgresql://db/lab?user=sfnn&password=hunter2&options=-c%20x%3Dy"),
            "postgresql://db/lab?user=sfnn&password=***&options=-c%20x%3Dy"
        );
        assert_eq!(redact("/var/lib/sfnn/sfnn.db"), "/var/lib/sfnn/sfnn.db");
    }
}
