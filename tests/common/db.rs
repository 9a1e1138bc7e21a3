//! Databases for tests, on either backend. SQLite: a file in a temporary directory. PostgreSQL
//! (only when `SFNN_TEST_DATABASE_URL` is set): a fresh schema of that database, named by a
//! URL that any process can open (`sfnn serve --database <url>` included), dropped at the end.

use sfnn::store::{self, Store};
use sqlx::Connection;
use std::time::Duration;

pub const PG_URL_VAR: &str = "SFNN_TEST_DATABASE_URL";

/// A database that lives as long as this value.
pub struct TestDatabase {
    /// What `--database` and `store::open` take.
    pub url: String,
    /// The PostgreSQL schema, if any.
    pub schema: Option<String>,
    _keep: Keep,
}

enum Keep {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Schema(PgSchema),
}

impl TestDatabase {
    pub fn sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().unwrap();
        TestDatabase {
            url: dir.path().join("nested/dir/store.db").display().to_string(),
            schema: None,
            _keep: Keep::Dir(dir),
        }
    }

    /// A fresh schema, or `None` when `SFNN_TEST_DATABASE_URL` is unset. Panics when it is set
    /// and the server cannot be reached: a configured database that is down is a failure.
    pub async fn postgres() -> Option<TestDatabase> {
        let base = std::env::var(PG_URL_VAR).ok().filter(|v| !v.is_empty())?;
        Some(TestDatabase::postgres_at(&base).await)
    }

    /// A fresh schema in the database at `base`; panics if it cannot be reached.
    pub async fn postgres_at(base: &str) -> TestDatabase {
        let base = base.to_string();
        let name = format!("sfnn_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn =
            tokio::time::timeout(Duration::from_secs(10), sqlx::PgConnection::connect(&base))
                .await
                .unwrap_or_else(|_| panic!("{base}: PostgreSQL did not answer in 10 s"))
                .unwrap_or_else(|e| panic!("{base}: cannot connect to PostgreSQL: {e}"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("create schema {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.ok();
        TestDatabase {
            url: schema_url(&base, &name),
            schema: Some(name.clone()),
            _keep: Keep::Schema(PgSchema { base, name }),
        }
    }

    pub async fn open(&self) -> Store {
        store::open(&self.url).await.unwrap()
    }
}

/// `base` with `search_path` set to `schema` for every connection; sqlx passes `options` to the
/// server as the `-c` startup option, as libpq does.
pub fn schema_url(base: &str, schema: &str) -> String {
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}options=-c%20search_path%3D{schema}")
}

struct PgSchema {
    base: String,
    name: String,
}

impl Drop for PgSchema {
    /// Best effort: drops the schema on a thread of its own, since `Drop` cannot await and may
    /// run inside (or after) the test's runtime.
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        let dropper = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&base).await.ok()?;
                // A lock some test left held must not hang the suite: give up on the drop.
                let sql = format!("set lock_timeout = '30s'; drop schema if exists {name} cascade");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .ok()?;
                conn.close().await.ok()
            })
        });
        let _ = dropper.join();
    }
}
