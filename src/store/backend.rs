//! [`Store`]: the store the program runs on, SQLite or PostgreSQL, chosen by the database URL,
//! and the two ways its body reaches a backend: [`on_pool!`] for a statement of its own and
//! [`in_tx!`] for a statement inside a [`WriteTx`]. Each runs the same code against whichever
//! backend the store holds, with that backend's [`Statements`](super::dialect::Statements), and notes a storage failure
//! it meets (see [`WriteHealth`]).

use super::health::{WriteFailure, WriteHealth};
use super::models::Job;
use super::notice::Notice;
use super::postgres::{self, PgStore};
use super::rows::JobRow;
use super::sqlite::SqliteStore;
use super::{Result, StoreError, now_ms};
use futures_util::{Stream, StreamExt};
use sqlx::{Postgres, Sqlite, Transaction};
use tokio_stream::wrappers::BroadcastStream;

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

/// A write transaction of either backend, with the one time its statements stamp and the
/// notices of its writes.
pub(super) struct WriteTx<'s> {
    pub(super) conn: TxConn,
    pub(super) now: i64,
    pub(super) store: &'s Store,
    /// SQLite's notices, delivered when the transaction commits (PostgreSQL's travel in it).
    notices: Vec<Notice>,
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
        if rows == 1 {
            Ok(self)
        } else {
            self.fail(StoreError::LeaseLost).await
        }
    }

    /// Commits, and with it announces the transaction's notices.
    pub(super) async fn commit(self) -> Result<()> {
        let result = match (self.conn, self.store) {
            (TxConn::Sqlite(tx), Store::Sqlite(store)) => {
                store.outbox().commit(tx, self.notices).await
            }
            (TxConn::Sqlite(tx), _) => tx.commit().await,
            (TxConn::Postgres(tx), _) => tx.commit().await,
        };
        result.map_err(|e| self.store.failed(e))
    }

    /// Announces `notice` when the transaction commits, to every process sharing the store;
    /// nothing is announced if it rolls back.
    pub(super) async fn announce(&mut self, notice: Notice) -> Result<()> {
        match (&mut self.conn, self.store) {
            (TxConn::Postgres(tx), Store::Postgres(store)) => {
                postgres::notify(&mut **tx, store.channel(), &notice.encode())
                    .await
                    .map_err(|e| self.store.failed(e))
            }
            _ => {
                self.notices.push(notice);
                Ok(())
            }
        }
    }

    /// Announces that this transaction changed `job` (created, updated or deleted it).
    pub(super) async fn job_changed(&mut self, job: &Job) -> Result<()> {
        self.announce(Notice::job(job, false)).await
    }

    /// The job a fenced write returned (`returning *`), announced as changed; else the
    /// transaction ends at once with [`StoreError::LeaseLost`].
    pub(super) async fn fenced_job(mut self, row: Option<JobRow>) -> Result<(Self, Job)> {
        let Some(row) = row else {
            return self.fail(StoreError::LeaseLost).await;
        };
        let job = row.decode()?;
        self.job_changed(&job).await?;
        Ok((self, job))
    }

    /// Announces each of the jobs a write returned, and commits; returns them.
    pub(super) async fn commit_jobs(self, rows: Vec<JobRow>) -> Result<Vec<Job>> {
        self.commit_announcing(rows, false).await
    }

    /// Commits after deleting `rows` (`returning *`), announcing each deletion with the job's
    /// last state.
    pub(super) async fn commit_deleted(self, rows: Vec<JobRow>) -> Result<Vec<Job>> {
        self.commit_announcing(rows, true).await
    }

    async fn commit_announcing(mut self, rows: Vec<JobRow>, deleted: bool) -> Result<Vec<Job>> {
        let jobs = rows
            .into_iter()
            .map(JobRow::decode)
            .collect::<Result<Vec<_>>>()?;
        for job in &jobs {
            self.announce(Notice::job(job, deleted)).await?;
        }
        self.commit().await?;
        Ok(jobs)
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
            notices: Vec::new(),
        })
    }

    // ---- live events ----------------------------------------------------------------------

    /// The notices of the writes committed from now on, by this process and (PostgreSQL) by
    /// every other process sharing the store, in commit order. An [`StoreError::EventsMissed`]
    /// item means some were lost (a subscriber that fell behind, a dropped connection):
    /// resynchronise from the store.
    pub async fn listen(&self) -> Result<NoticeStream> {
        Ok(match self {
            Store::Sqlite(s) => {
                let notices = BroadcastStream::new(s.outbox().subscribe());
                Box::pin(notices.map(|item| item.map_err(|_lagged| StoreError::EventsMissed)))
            }
            Store::Postgres(s) => Box::pin(s.listen().await?.map(|item| {
                item.and_then(|payload| {
                    Notice::decode(&payload).map_err(|e| {
                        StoreError::Corrupt(format!("a notification ({payload:?}): {e}"))
                    })
                })
            })),
        })
    }
}

/// What [`Store::listen`] yields.
pub type NoticeStream = std::pin::Pin<Box<dyn Stream<Item = Result<Notice>> + Send>>;
