//! Query parameters that several endpoints share: typed values whose errors say what is
//! allowed (read by [`super::extract::Query`], which names the parameter), and the hand-parsed
//! helpers of the job list.

use super::error::{ApiError, Result};
use crate::limits::http::MAX_PAGE;
use serde::{Deserialize, Deserializer, de};
use std::collections::HashMap;

/// No parameters: an endpoint that takes none refuses any, by name.
#[derive(Debug, Deserialize)]
pub(super) struct NoParams {}

/// A non-negative integer (a generation number, a count).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Count(pub u64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse()
            .map(Count)
            .map_err(|_| de::Error::custom(format!("must be a non-negative integer, got {text:?}")))
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
        let text = String::deserialize(deserializer)?;
        text.parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_PAGE).contains(l))
            .map(PageLimit)
            .ok_or_else(|| {
                de::Error::custom(format!(
                    "must be an integer from 1 to {MAX_PAGE}, got {text:?}"
                ))
            })
    }
}

/// Refuses any parameter not in `allowed`, naming it and the allowed ones.
pub(super) fn only_params(params: &HashMap<String, String>, allowed: &[&str]) -> Result<()> {
    match params.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(ApiError::invalid(
            unknown.as_str(),
            format!("unknown parameter; allowed: {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

/// `limit`: a page size from 1 to [`MAX_PAGE`], 50 when absent.
pub(super) fn page_limit(params: &HashMap<String, String>) -> Result<u32> {
    match params.get("limit") {
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_PAGE).contains(l))
            .ok_or_else(|| {
                ApiError::invalid("limit", format!("must be an integer from 1 to {MAX_PAGE}"))
            }),
        None => Ok(50),
    }
}
