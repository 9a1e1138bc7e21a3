//! The PostgreSQL store's own parts, for many machines on one database: connecting, its
//! migrations, its write probe, and live events (`LISTEN`/`NOTIFY`). Everything else is the
//! shared store body, with the dialect differences of [`super::dialect`].
//!
//! Differences that matter, and why:
//! - Time stamps come from the database's clock (`sfnn_now_ms()` in the migration), never from
//!   the process: leases are granted and expired by one clock, so clock skew between worker
//!   machines cannot expire a lease early or keep a dead worker's lease alive.
//! - Claiming uses `for update skip locked`, so concurrent claimers never wait on each other and
//!   never get the same job.
//! - NaN is stored as NULL (the store body binds it so), as SQLite does on its own, so
//!   aggregates (`min`, `max`) skip it the same way (PostgreSQL would otherwise order NaN above
//!   every number).
//! - Each write that changes a job or records a generation sends a notification on the store's
//!   channel in its own transaction (delivered on commit), so servers on other machines can
//!   follow live runs ([`super::Notice`]).

use super::health::{self, WriteHealth};
use super::{Result, StoreError};
use futures_util::Stream;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection, Postgres};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    channel: String,
    health: Arc<WriteHealth>,
}

/// The channel of the `public` schema; stores in other schemas use `sfnn_events_<schema>`, so
/// deployments (and tests) sharing one database do not hear each other.
pub const EVENTS_CHANNEL: &str = "sfnn_events";
impl PgStore {
    /// Connects to a `postgres://` URL and applies the migrations. The URL may choose a schema
    /// with `?options=-c%20search_path%3D<schema>` (the schema must exist).
    pub async fn open(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        // One connection first: an unreachable server or a refused login fails at once with
        // its own cause, where the pool would retry until its timeout and report only that.
        PgConnection::connect_with(&options).await?.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .after_release(health::release_outside_transaction::<Postgres>)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        let schema: String = sqlx::query_scalar("select current_schema()")
            .fetch_one(&pool)
            .await?;
        let channel = if schema == "public" {
            EVENTS_CHANNEL.to_string()
        } else {
            format!("{EVENTS_CHANNEL}_{schema}")
        };
        Ok(PgStore {
            pool,
            channel,
            health: Arc::default(),
        })
    }

    pub(super) fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn write_health(&self) -> &WriteHealth {
        &self.health
    }

    /// A committed write to the probe row: whether the database accepts writes. (PostgreSQL
    /// manages its own space; `_bytes` is what SQLite needs to check.)
    pub async fn probe_write(&self, _bytes: usize) -> Result<()> {
        sqlx::query(
            "insert into store_probe (probe_id, probed_at) values (1, sfnn_now_ms()) \
             on conflict (probe_id) do update set probed_at = excluded.probed_at",
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The notification channel this store sends on and listens to.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// Payloads sent on this store's channel, from now on. After a lost connection the listener
    /// reconnects and yields [`StoreError::EventsMissed`] once: what was sent meanwhile is gone,
    /// so the consumer should resynchronise from the store.
    pub async fn listen(
        &self,
    ) -> Result<impl Stream<Item = Result<String>> + Send + Unpin + 'static> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(&self.channel).await?;
        Ok(Box::pin(futures_util::stream::unfold(
            listener,
            |mut listener| async move {
                let item = match listener.try_recv().await {
                    Ok(Some(notification)) => Ok(notification.payload().to_string()),
                    Ok(None) => Err(StoreError::EventsMissed),
                    Err(e) => Err(StoreError::Database(e)),
                };
                Some((item, listener))
            },
        )))
    }
}

/// Sends `payload` on `channel` through `conn` (a pool: at once; a transaction: when it
/// commits).
pub(super) async fn notify<'c>(
    conn: impl Executor<'c, Database = Postgres>,
    channel: &str,
    payload: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("select pg_notify($1, $2)")
        .bind(channel)
        .bind(payload)
        .execute(conn)
        .await?;
    Ok(())
}
