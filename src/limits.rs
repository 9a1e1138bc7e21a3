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

/// Connections: what idle, slow or stalled clients may hold.
pub mod connections {
    use std::time::Duration;

    /// Most connections served at once, whatever the file-descriptor limit allows. An idle
    /// connection costs a task and hyper's buffers (a few KiB, at most [`BUFFER`] each way), so
    /// 4096 idle clients stay within a few tens of MB.
    pub const MAX_CONNECTIONS: usize = 4096;
    /// File descriptors kept for everything but connections: the database pool (a SQLite
    /// connection holds the database, its WAL and its shared-memory file; PostgreSQL 16
    /// sockets and a listener), dashboard files being served, logs and the listener itself.
    /// Connections get the rest of `RLIMIT_NOFILE`, but never less than half of it.
    pub const FD_RESERVE: u64 = 128;
    /// A connection gets this long to send a request's headers, counted from when it opened or
    /// its previous response ended; then it is closed. This times out idle and keep-alive
    /// connections and clients that never finish their headers alike.
    pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
    /// A client that takes none of a response's bytes for this long is disconnected: a stalled
    /// reader would otherwise hold its connection (and its live-stream slot) for ever.
    pub const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
    /// Bytes buffered per connection by the HTTP layer, each way: what a stalled reader pins
    /// besides its stream's page, and the largest request head (bigger ones are answered 431).
    pub const BUFFER: usize = 64 << 10;
}

/// Live event streams (SSE): how many, and what each may hold.
pub mod events {
    /// Live event streams open at once (job streams and the job list together; a dashboard
    /// tab opens one or two). Capped further at half the connection limit, so streams never
    /// take every connection. A stalled stream holds one replay page and [`super::connections::BUFFER`].
    pub const MAX_STREAMS: usize = 256;
    /// Generation records a job stream reads from the store at a time while it replays the
    /// history; the next page is read only when the client has taken this one, so a stalled
    /// client pins one page (about 100 KiB at the reference size), not the history.
    pub const REPLAY_PAGE: i64 = 200;
    /// What a client refused at the stream cap is asked to wait before retrying.
    pub const RETRY_AFTER_SECONDS: u64 = 5;
}
