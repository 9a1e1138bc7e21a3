//! Query parameters that several endpoints share, parsed by hand so that every bad one is
//! named in the error.

use super::error::{ApiError, Result};
use crate::limits::http::MAX_PAGE;
use std::collections::HashMap;

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
