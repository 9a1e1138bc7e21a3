//! [`Store`]: the store the program runs on, SQLite or PostgreSQL, chosen by the database URL,
//! and the two ways its body reaches a backend: [`on_pool!`] for a statement of its own and
//! [`in_tx!`] for a statement inside a [`WriteTx`]. Each runs the same code against whichever
//! backend the store holds, with that backend's [`Statements`](super::dialect::Statements), and notes a storage failure
//! it meets (see [`WriteHealth`]).

use super::health::{WriteFailure, WriteHealth};
use super::notice::Notice;
use super::postgres::{self, PgStore};
use super::sqlite::SqliteStore;
use super::{Result, StoreError, now_ms};
use futures_util::Stream;
use sqlx::{Postgres, Sqlite, Transaction};

/// The store the program runs on. Cloning is cheap (backends share a connection pool).
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl From<SqliteStore> for Store {
    fn from(store: SqliteStore) -> Self {
        Store::Sqlite(store)
    }
}

impl From<PgStore> for Store {
    fn from(store: PgStore) -> Self {
        Store::Postgres(store)
    }
}

/// Runs `$body` (a `Result<_, sqlx::Error>`) with `$sql` the [`Statements`](super::dialect::Statements) of the backend
/// `$store` holds and `$pool` its pool: one text, compiled once per backend. Evaluates to a
/// [`Result`]; a storage failure is noted in the store's [`WriteHealth`].
macro_rules! on_pool {
    ($store:expr, |$sql:ident, $pool:ident| $body:expr) => {{
        let store: &$crate::store::Store = $store;
        let result: ::std::result::Result<_, ::sqlx::Error> = match store {
            $crate::store::Store::Sqlite(s) => {
                let $sql = $crate::store::dialect::Statements::<::sqlx::Sqlite>::at(
                    $crate::store::now_ms(),
                );
                let $pool = s.pool();
                $body
            }
            $crate::store::Store::Postgres(s) => {
                let $sql = $crate::store::dialect::Statements::<::sqlx::Postgres>::at(
                    $crate::store::now_ms(),
                );
                let $pool = s.pool();
                $body
            }
        };
        result.map_err(|e| store.failed(e))
    }};
}
pub(super) use on_pool;

/// [`on_pool!`] inside the transaction `$tx` (a `&mut` [`WriteTx`]): `$conn` is its
/// connection, and `$sql` stamps with the transaction's one time.
macro_rules! in_tx {
    ($tx:expr, |$sql:ident, $conn:ident| $body:expr) => {{
        let tx: &mut $crate::store::backend::WriteTx = $tx;
        let result: ::std::result::Result<_, ::sqlx::Error> = match &mut tx.conn {
            $crate::store::backend::TxConn::Sqlite(c) => {
                let $sql = $crate::store::dialect::Statements::<::sqlx::Sqlite>::at(tx.now);
                let $conn = &mut **c;
                $body
            }
            $crate::store::backend::TxConn::Postgres(c) => {
                let $sql = $crate::store::dialect::Statements::<::sqlx::Postgres>::at(tx.now);
                let $conn = &mut **c;
                $body
            }
        };
        result.map_err(|e| tx.store.failed(e))
    }};
}
pub(super) use in_tx;

/// A write transaction of either backend, with the one time its statements stamp.
pub(super) struct WriteTx<'s> {
    pub(super) conn: TxConn,
    pub(super) now: i64,
    pub(super) store: &'s Store,
}

pub(super) enum TxConn {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl WriteTx<'_> {
    /// Rolls back now and returns `error`. A transaction that is only dropped queues its
    /// rollback until its connection is next used, and its locks stay held until then: a
    /// schema migration or drop waits on them.
    async fn fail<T>(self, error: StoreError) -> Result<T> {
        // The rollback's own failure matters less than the error being reported.
        let _ = match self.conn {
            TxConn::Sqlite(tx) => tx.rollback().await,
            TxConn::Postgres(tx) => tx.rollback().await,
        };
        Err(error)
    }

    /// `Ok` when a fenced write changed its one row; else the transaction ends at once
    /// ([`WriteTx::fail`]) with [`StoreError::LeaseLost`].
    pub(super) async fn fenced(self, rows: u64) -> Result<Self> {
        match super::jobs::fenced(rows) {
            Ok(()) => Ok(self),
            Err(error) => self.fail(error).await,
        }
    }

    pub(super) async fn commit(self) -> Result<()> {
        let result = match self.conn {
            TxConn::Sqlite(tx) => tx.commit().await,
            TxConn::Postgres(tx) => tx.commit().await,
        };
        result.map_err(|e| self.store.failed(e))
    }

    /// Sends `notice` to every process when the transaction commits (PostgreSQL); nothing on
    /// SQLite, whose one process hears its events in-process.
    pub(super) async fn announce(&mut self, notice: &Notice) -> Result<()> {
        let (TxConn::Postgres(tx), Store::Postgres(store)) = (&mut self.conn, self.store) else {
            return Ok(());
        };
        postgres::notify(&mut **tx, store.channel(), &notice.encode())
            .await
            .map_err(|e| self.store.failed(e))
    }
}

impl Store {
    /// "sqlite" or "postgres".
    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Whether processes sharing this store hear each other's events through it
    /// ([`Store::notify`] and [`Store::listen`]): PostgreSQL serves many processes and carries
    /// notifications between them; a SQLite file serves one process, whose in-process event
    /// hub already carries every event.
    pub fn shares_events_across_processes(&self) -> bool {
        matches!(self, Store::Postgres(_))
    }

    /// Whether the database answers (a read).
    pub async fn healthy(&self) -> bool {
        let probe = "select 1";
        match self {
            Store::Sqlite(s) => sqlx::query(probe).execute(s.pool()).await.is_ok(),
            Store::Postgres(s) => sqlx::query(probe).execute(s.pool()).await.is_ok(),
        }
    }

    /// The record of storage failures this store met.
    pub fn write_health(&self) -> &WriteHealth {
        match self {
            Store::Sqlite(s) => s.write_health(),
            Store::Postgres(s) => s.write_health(),
        }
    }

    /// `e` as a [`StoreError`], noted in [`Store::write_health`] when it is a storage failure.
    pub(super) fn failed(&self, e: sqlx::Error) -> StoreError {
        let error = StoreError::from(e);
        self.write_health().note(&error);
        error
    }

    /// `Ok` when the store can write: no storage failure since the last successful probe, or a
    /// probe write made now succeeds (probes run at most every
    /// [`PROBE_INTERVAL`](crate::limits::storage::PROBE_INTERVAL)).
    pub async fn writable(&self) -> Result<(), WriteFailure> {
        self.write_health()
            .check(|bytes| async move {
                match self {
                    Store::Sqlite(s) => s.probe_write(bytes).await,
                    Store::Postgres(s) => s.probe_write(bytes).await,
                }
            })
            .await
    }

    /// Refuses new work while the store cannot write, rather than accepting it into a store
    /// that cannot run it (or failing halfway).
    pub(super) async fn admit(&self) -> Result<()> {
        self.writable()
            .await
            .map_err(|failure| StoreError::Unavailable(failure.reason))
    }

    /// A write transaction: on SQLite it takes the write lock at once (see
    /// [`SqliteStore::write_transaction`]).
    pub(super) async fn begin(&self) -> Result<WriteTx<'_>> {
        let conn = match self {
            Store::Sqlite(s) => s.write_transaction().await.map(TxConn::Sqlite),
            Store::Postgres(s) => s.pool().begin().await.map(TxConn::Postgres),
        };
        Ok(WriteTx {
            conn: conn.map_err(|e| self.failed(e))?,
            now: now_ms(),
            store: self,
        })
    }

    // ---- live events across machines -----------------------------------------------------

    /// Sends `payload` to the listeners of this store on every machine (PostgreSQL `NOTIFY`,
    /// delivered when the sending statement commits). Payloads of 8000 bytes or more are refused
    /// with [`StoreError::Invalid`] on both backends. On SQLite this sends nothing (see
    /// [`Store::shares_events_across_processes`]).
    pub async fn notify(&self, payload: &str) -> Result<()> {
        postgres::check_payload(payload)?;
        match self {
            Store::Sqlite(_) => Ok(()),
            Store::Postgres(s) => Ok(postgres::notify(s.pool(), s.channel(), payload).await?),
        }
    }

    /// Sends `notice` as [`Store::notify`] does.
    pub async fn announce(&self, notice: &Notice) -> Result<()> {
        self.notify(&notice.encode()).await
    }

    /// The payloads sent to this store from now on, by [`Store::notify`] and by
    /// `record_generation` (a [`Notice::Generation`]), on any machine. `None` on SQLite, which
    /// has no other machines to hear from. An [`StoreError::EventsMissed`] item means the
    /// connection was lost and re-established: resynchronise from the store.
    pub async fn listen(
        &self,
    ) -> Result<Option<impl Stream<Item = Result<String>> + Send + Unpin + 'static>> {
        match self {
            Store::Sqlite(_) => Ok(None),
            Store::Postgres(s) => Ok(Some(s.listen().await?)),
        }
    }
}
