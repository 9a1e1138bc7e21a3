//! Every bound on what a client can make this server spend, in one place.
//!
//! A request, a job spec or an upload is checked against these before anything is allocated,
//! and errors quote them, so the numbers a user reads are the numbers the code enforces.
//! Sizes that multiply are combined with checked arithmetic.

/// Job spec: sizes a spec may ask for, each on its own.
pub mod spec {
    pub const MAX_ENVS: usize = 8;
    /// What the network step supports (node indices are bytes).
    pub const MAX_NODES: usize = crate::model::MAX_NODES;
    pub const MAX_MSG_DIMS: usize = crate::model::MAX_MSG_DIMS;
    pub const MAX_NODE_TYPES: usize = 16;
    pub const MAX_EPISODES: usize = 100;
    pub const MAX_EVAL_REPEATS: usize = 32;
    pub const MAX_GENERATIONS: u64 = 10_000_000;
    /// Lifetimes simulated per generation (popsize × repeats × envs).
    pub const MAX_LIFETIMES_PER_GENERATION: usize = 1 << 18;
    pub const MAX_NAME_CHARS: usize = 200;
    pub const MAX_TAGS: usize = 32;
    /// A tag's length, counted in characters (Unicode scalar values) wherever tags are checked.
    pub const MAX_TAG_CHARS: usize = 64;
}

/// HTTP: what one request may cost.
pub mod http {
    use std::time::Duration;

    /// Largest request body accepted (a genome upload of the largest model is well below this).
    pub const BODY_LIMIT: usize = 4 << 20;
    /// A request (other than a live event stream) that takes longer is answered 408.
    pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
    /// Largest page of a list.
    pub const MAX_PAGE: u32 = 500;
}
