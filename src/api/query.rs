//! Query parameters that several endpoints share: typed values whose errors say what is
//! allowed (read by [`super::extract::Query`], which names the parameter).

use crate::limits::http::{MAX_PAGE, MAX_SEARCH_CHARS};
use crate::limits::spec::check_tag;
use crate::store::JobSort;
use serde::{Deserialize, Deserializer, de};

/// No parameters: an endpoint that takes none refuses any, by name.
#[derive(Debug, Deserialize)]
pub(super) struct NoParams {}

/// Reads a parameter's text with `parse`; `None` is refused with `expected` and the text.
pub(super) fn parsed<'de, D: Deserializer<'de>, T>(
    deserializer: D,
    parse: impl FnOnce(&str) -> Option<T>,
    expected: impl FnOnce() -> String,
) -> Result<T, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text).ok_or_else(|| de::Error::custom(format!("{}, got {text:?}", expected())))
}

/// A non-negative integer (a generation number, a count).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Count(pub u64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        parsed(
            deserializer,
            |t| t.parse().ok().map(Count),
            || "must be a non-negative integer".into(),
        )
    }
}

/// `limit`: a page size from 1 to [`MAX_PAGE`], 50 when absent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct PageLimit(pub u32);

impl Default for PageLimit {
    fn default() -> Self {
        PageLimit(50)
    }
}

impl<'de> Deserialize<'de> for PageLimit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        parsed(
            deserializer,
            |t| {
                t.parse()
                    .ok()
                    .filter(|l| (1..=MAX_PAGE).contains(l))
                    .map(PageLimit)
            },
            || format!("must be an integer from 1 to {MAX_PAGE}"),
        )
    }
}

/// A tag, as a job's tags allow.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Tag(pub String);

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let tag = String::deserialize(deserializer)?;
        check_tag(&tag).map_err(de::Error::custom)?;
        Ok(Tag(tag))
    }
}

/// A search text of at most [`MAX_SEARCH_CHARS`] characters; empty matches everything.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Search(pub Option<String>);

impl<'de> Deserialize<'de> for Search {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        parsed(
            deserializer,
            |t| {
                (t.chars().count() <= MAX_SEARCH_CHARS)
                    .then(|| Search(Some(t.to_owned()).filter(|t| !t.is_empty())))
            },
            || format!("at most {MAX_SEARCH_CHARS} characters"),
        )
    }
}

/// A job list's order: `created`, `name`, … with a leading `-` for descending.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(super) struct Sort(pub JobSort);

impl<'de> Deserialize<'de> for Sort {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        parsed(
            deserializer,
            |t| JobSort::parse(t).map(Sort),
            || format!("must be one of {}", JobSort::allowed().join(", ")),
        )
    }
}

/// A job or sweep id: a UUID.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Id(pub String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        parsed(
            deserializer,
            |t| uuid::Uuid::parse_str(t).is_ok().then(|| Id(t.to_owned())),
            || "must be an id (a UUID)".into(),
        )
    }
}
