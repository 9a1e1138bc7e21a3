//! How one statement text serves both backends: the few words SQLite and PostgreSQL spell
//! differently, and the statement builders the store body uses.
//!
//! Statements are written once, with `$1`, `$2`, … placeholders (both backends read them) and
//! these marks for what differs:
//! - `{now}`: the time stamp. PostgreSQL asks its own clock (`sfnn_now_ms()`, one value per
//!   transaction), so that leases on many machines follow one clock. SQLite serves one
//!   process, whose clock is bound as a parameter: the store takes it once per transaction, so
//!   every stamp of one transaction agrees there too.
//! - `{tags}`: a job's tags (stored as a JSON array) as rows with a `value` column.
//! - `{bytewise}`: after a text expression, orders it by its bytes (PostgreSQL's `collate "C"`;
//!   SQLite compares text that way already), so both backends list names in one order.
//! - `{for_update}`, `{skip_locked}`: row locks, which PostgreSQL needs for fencing and
//!   claiming while SQLite's single writer already serialises every write transaction.

use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{AssertSqlSafe, Database, Encode, FromRow, Postgres, Sqlite, Type};
use std::borrow::Cow;
use std::marker::PhantomData;

/// The SQL words one backend spells its own way (see the module comment for each mark).
pub(super) trait Dialect: Database {
    /// `Some(sql)`: the database's clock; `None`: the time stamp is bound as a parameter.
    const NOW: Option<&'static str>;
    const TAGS: &'static str;
    const BYTEWISE: &'static str;
    const FOR_UPDATE: &'static str;
    const SKIP_LOCKED: &'static str;
}

impl Dialect for Sqlite {
    const NOW: Option<&'static str> = None;
    const TAGS: &'static str = "json_each(job.tags)";
    const BYTEWISE: &'static str = "";
    const FOR_UPDATE: &'static str = "";
    const SKIP_LOCKED: &'static str = "";
}

impl Dialect for Postgres {
    const NOW: Option<&'static str> = Some("sfnn_now_ms()");
    const TAGS: &'static str = "json_array_elements_text(job.tags::json)";
    const BYTEWISE: &'static str = "collate \"C\"";
    const FOR_UPDATE: &'static str = "for update";
    const SKIP_LOCKED: &'static str = "for update skip locked";
}

/// Whether `text` stamps rows with the process clock on backend `D` (then the stamp is bound
/// as `$1` and the statement's own parameters move up by one).
fn binds_now<D: Dialect>(text: &str) -> bool {
    D::NOW.is_none() && text.contains("{now}")
}

/// `text` in backend `D`'s words.
pub(super) fn render<D: Dialect>(text: &'static str) -> Cow<'static, str> {
    if !text.contains('{') {
        return Cow::Borrowed(text);
    }
    let text = if binds_now::<D>(text) {
        shift_parameters(text).replace("{now}", "$1")
    } else {
        text.replace("{now}", D::NOW.unwrap_or_default())
    };
    Cow::Owned(
        text.replace("{tags}", D::TAGS)
            .replace("{bytewise}", D::BYTEWISE)
            .replace("{for_update}", D::FOR_UPDATE)
            .replace("{skip_locked}", D::SKIP_LOCKED),
    )
}

/// `$n` becomes `$n+1`, freeing `$1`.
fn shift_parameters(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<u32>() {
            Ok(n) => out.push_str(&(n + 1).to_string()),
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

/// Builds backend `D`'s statements from shared text, with the time stamp `now` bound where
/// the backend takes it from the process.
pub(super) struct Statements<D> {
    now: i64,
    backend: PhantomData<D>,
}

impl<D: Dialect> Statements<D>
where
    i64: for<'q> Encode<'q, D> + Type<D>,
{
    pub(super) fn at(now: i64) -> Self {
        Statements {
            now,
            backend: PhantomData,
        }
    }

    pub(super) fn query<'q>(&self, text: &'static str) -> Query<'q, D, D::Arguments> {
        let query = sqlx::query(AssertSqlSafe(render::<D>(text)));
        if binds_now::<D>(text) {
            query.bind(self.now)
        } else {
            query
        }
    }

    pub(super) fn query_as<'q, O>(&self, text: &'static str) -> QueryAs<'q, D, O, D::Arguments>
    where
        O: for<'r> FromRow<'r, D::Row>,
    {
        let query = sqlx::query_as(AssertSqlSafe(render::<D>(text)));
        if binds_now::<D>(text) {
            query.bind(self.now)
        } else {
            query
        }
    }

    pub(super) fn query_scalar<'q, O>(
        &self,
        text: &'static str,
    ) -> QueryScalar<'q, D, O, D::Arguments>
    where
        (O,): for<'r> FromRow<'r, D::Row>,
    {
        let query = sqlx::query_scalar(AssertSqlSafe(render::<D>(text)));
        if binds_now::<D>(text) {
            query.bind(self.now)
        } else {
            query
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_binds_the_stamp_first_and_postgres_asks_its_clock() {
        let text = "update job set updated_at = {now}, x = $1 where job_id = $2 {for_update}";
        assert_eq!(
            render::<Sqlite>(text),
            "update job set updated_at = $1, x = $2 where job_id = $3 "
        );
        assert_eq!(
            render::<Postgres>(text),
            "update job set updated_at = sfnn_now_ms(), x = $1 where job_id = $2 for update"
        );
        assert!(matches!(
            render::<Sqlite>("select $10"),
            Cow::Borrowed("select $10")
        ));
        assert_eq!(shift_parameters("$9, $10 and $"), "$10, $11 and $");
    }
}
