//! The SQLite store's own parts: one file, WAL journal, foreign keys on, its migrations, its
//! write probe, its write lock and its outbox. Everything else is the shared store body.

use super::health::{self, WriteHealth};
use super::notice::Notice;
use super::{Result, StoreError, now_ms};
use crate::limits::events::RING;
use sqlx::Sqlite;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    health: Arc<WriteHealth>,
    outbox: Arc<Outbox>,
}

/// Where committed notices go: the subscribers of this process (a SQLite file serves one), in
/// commit order.
#[derive(Debug)]
pub(super) struct Outbox {
    sender: broadcast::Sender<Notice>,
    /// Held from a commit until its notices are sent, so that no later commit's notices
    /// overtake them.
    order: tokio::sync::Mutex<()>,
}

impl Outbox {
    /// Commits `tx`, then delivers `notices`, the notices of its writes.
    pub(super) async fn commit(
        &self,
        tx: sqlx::Transaction<'static, Sqlite>,
        notices: Vec<Notice>,
    ) -> Result<(), sqlx::Error> {
        let _order = self.order.lock().await;
        tx.commit().await?;
        for notice in notices {
            // No subscribers is fine.
            let _ = self.sender.send(notice);
        }
        Ok(())
    }

    /// Notices committed from now on; a receiver that falls [`RING`] behind is told how many
    /// it missed.
    pub(super) fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.sender.subscribe()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies the migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Conflict(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL with synchronous=NORMAL survives a process crash (kill -9) without loss; only a
            // power failure can drop the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // 64 MiB of page cache per connection (negative: KiB), for long histories.
            .pragma("cache_size", "-65536");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .after_release(health::release_outside_transaction::<Sqlite>)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore {
            pool,
            health: Arc::default(),
            outbox: Arc::new(Outbox {
                sender: broadcast::channel(RING).0,
                order: tokio::sync::Mutex::new(()),
            }),
        })
    }

    pub(super) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub fn write_health(&self) -> &WriteHealth {
        &self.health
    }

    pub(super) fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Commits `bytes` bytes (zeros) to the probe row, then commits their removal: whether the
    /// store has room for a generation's worth of writes. Each statement is its own transaction.
    pub async fn probe_write(&self, bytes: usize) -> Result<()> {
        sqlx::query(
            "insert into store_probe (probe_id, filler, probed_at) values (1, zeroblob(?1), ?2) \
             on conflict (probe_id) do update set filler = excluded.filler, \
             probed_at = excluded.probed_at",
        )
        .bind(bytes as i64)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        sqlx::query("update store_probe set filler = x'' where probe_id = 1")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A transaction that takes the write lock at once. A deferred one would read first and
    /// then fail with "database is locked" when another process wrote in between, without
    /// waiting: SQLite cannot upgrade a stale read snapshot. Taken up front, the lock is waited
    /// for (busy timeout) like any single write.
    pub(super) async fn write_transaction(
        &self,
    ) -> Result<sqlx::Transaction<'static, Sqlite>, sqlx::Error> {
        self.pool.begin_with("begin immediate").await
    }
}
