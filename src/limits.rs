//! Every bound on what a client can make this server spend, in one place.
//!
//! A request, a job spec or an upload is checked against these before anything is allocated,
//! and errors quote them, so the numbers a user reads are the numbers the code enforces.
//! Sizes that multiply are combined with checked arithmetic.

/// A value out of its allowed range: the field's path (`strategy.popsize`, empty for the whole
/// document) and what is allowed; with the document's other errors, where it was checked whole.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The offending field, e.g. `strategy.popsize`.
    pub field: String,
    /// What is allowed.
    pub message: String,
    /// The same document's further errors, in the order they were found.
    pub also: Vec<FieldError>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
            also: Vec::new(),
        }
    }

    /// `Err` with the first of `errors`, carrying the rest; `Ok` when there are none.
    pub fn all(errors: impl IntoIterator<Item = FieldError>) -> Result<(), FieldError> {
        let mut errors = errors.into_iter().flat_map(FieldError::each);
        match errors.next() {
            Some(mut first) => {
                first.also = errors.collect();
                Err(first)
            }
            None => Ok(()),
        }
    }

    /// This error and each of its further ones, one by one.
    pub fn each(mut self) -> Vec<FieldError> {
        let also = std::mem::take(&mut self.also);
        std::iter::once(self).chain(also).collect()
    }
}

/// Checks `min <= value <= max`; the error states the range.
pub fn in_range<T: PartialOrd + std::fmt::Display>(
    field: &str,
    value: T,
    min: T,
    max: T,
) -> Result<(), FieldError> {
    if value < min || value > max {
        return Err(FieldError::new(
            field,
            format!("must be between {min} and {max}, got {value}"),
        ));
    }
    Ok(())
}

/// Job spec: sizes a spec may ask for, each on its own.
pub mod spec {
    pub const MAX_ENVS: usize = 8;
    /// The largest network the step supports: node indices are stored in a byte, which lets
    /// the synapse update gather per-node values without bounds checks (so it vectorises).
    pub const MAX_NODES: usize = 256;
    /// The widest synapse state the step supports.
    pub const MAX_MSG_DIMS: usize = 16;
    pub const MAX_NODE_TYPES: usize = 16;
    pub const MAX_EPISODES: usize = 100;
    pub const MAX_EVAL_REPEATS: usize = 32;
    /// Seeds (lifetimes) of one evaluation of a stored genome.
    pub const MAX_EVAL_SEEDS: usize = 256;
    /// Extra input nodes a meta-test evaluation may add (`variant.extra_inputs`). Their noise
    /// is drawn per lifetime: at most this × `MAX_EPISODES` × a horizon (1,000) values, 6.4 MB.
    pub const MAX_EXTRA_INPUTS: usize = 16;
    /// The largest constant extra inputs may read, in magnitude (observations are of order 1-10).
    pub const MAX_EXTRA_INPUT_VALUE: f64 = 1e3;
    pub const MAX_GENERATIONS: u64 = 10_000_000;
    /// Lifetimes simulated per generation (popsize × repeats × envs).
    pub const MAX_LIFETIMES_PER_GENERATION: usize = 1 << 18;
    pub const MAX_NAME_CHARS: usize = 200;
    /// A job's free-text notes (`PATCH /api/v1/jobs/{id}`), in characters: a page of text. Job
    /// events carry them, so they stay small next to a spec.
    pub const MAX_NOTES_CHARS: usize = 10_000;
    pub const MAX_TAGS: usize = 32;
    /// A tag's length, counted in characters (Unicode scalar values) wherever tags are checked.
    pub const MAX_TAG_CHARS: usize = 64;

    /// The length of a list of environments (a job's or an evaluation's).
    pub fn check_env_count(count: usize) -> Result<(), super::FieldError> {
        if (1..=MAX_ENVS).contains(&count) {
            Ok(())
        } else {
            Err(super::FieldError::new(
                "envs",
                format!(
                    "give 1 to {MAX_ENVS} environments, from: {}",
                    crate::envs::names().join(", ")
                ),
            ))
        }
    }

    /// A name given after submission (a job's new name, a sweep's): 1 to [`MAX_NAME_CHARS`]
    /// characters, not all blank.
    pub fn check_name(name: &str) -> Result<(), String> {
        let chars = name.chars().count();
        if name.trim().is_empty() || chars > MAX_NAME_CHARS {
            Err(format!(
                "must be 1 to {MAX_NAME_CHARS} characters, not all blank, got {chars}"
            ))
        } else {
            Ok(())
        }
    }

    /// A job's tags wherever they are given (a spec, a patch, an import): at most [`MAX_TAGS`],
    /// each by [`check_tag`]; the error names `tags` or `tags[i]`.
    pub fn check_tags(tags: &[String]) -> Result<(), super::FieldError> {
        if tags.len() > MAX_TAGS {
            return Err(super::FieldError::new(
                "tags",
                format!("at most {MAX_TAGS} tags, got {}", tags.len()),
            ));
        }
        for (i, tag) in tags.iter().enumerate() {
            check_tag(tag)
                .map_err(|message| super::FieldError::new(format!("tags[{i}]"), message))?;
        }
        Ok(())
    }

    /// A stored genome's name (an upload's, an import's): 1 to [`MAX_NAME_CHARS`] characters.
    pub fn check_genome_name(name: &str) -> Result<(), String> {
        let chars = name.chars().count();
        if (1..=MAX_NAME_CHARS).contains(&chars) {
            Ok(())
        } else {
            Err(format!(
                "must be 1 to {MAX_NAME_CHARS} characters, got {chars}"
            ))
        }
    }

    /// An id a spec may name (`init_genome`), in bytes: ids are UUIDs (36), with room.
    pub const MAX_ID_CHARS: usize = 128;

    /// An integer field of the job spec with its allowed range, declared once:
    /// `JobSpec::validate` checks it, and the OpenAPI document states it (`minimum`,
    /// `maximum`), where the dashboard's form reads it.
    #[derive(Debug, Clone, Copy)]
    pub struct Range {
        /// The field's path in the spec, e.g. `strategy.popsize`.
        pub field: &'static str,
        pub min: i64,
        pub max: i64,
    }

    impl Range {
        pub fn check<T: TryInto<i64> + Copy + std::fmt::Display>(
            &self,
            value: T,
        ) -> Result<(), super::FieldError> {
            match value.try_into() {
                Ok(v) if (self.min..=self.max).contains(&v) => Ok(()),
                _ => Err(super::FieldError::new(
                    self.field,
                    format!("must be between {} and {}, got {value}", self.min, self.max),
                )),
            }
        }
    }

    const fn range(field: &'static str, min: i64, max: u64) -> Range {
        Range {
            field,
            min,
            max: max as i64,
        }
    }

    pub const GENERATIONS: Range = range("generations", 1, MAX_GENERATIONS);
    pub const CHECKPOINT_INTERVAL: Range = range("checkpoint_interval", 1, MAX_GENERATIONS);
    pub const MEAN_GENOME_INTERVAL: Range = range("mean_genome_interval", 1, MAX_GENERATIONS);
    pub const PRIORITY: Range = Range {
        field: "priority",
        min: -1000,
        max: 1000,
    };
    pub const STAGNATION: Range = range("stop.stagnation_generations", 1, MAX_GENERATIONS);
    /// The least nodes: an environment needs more (its inputs, outputs and the reward node),
    /// which `JobSpec::validate` checks against the spec's environments.
    pub const NODES: Range = range("model.nodes", 2, MAX_NODES as u64);
    pub const MSG_DIMS: Range = range("model.msg_dims", 1, MAX_MSG_DIMS as u64);
    pub const NODE_TYPES: Range = range("model.node_types", 1, MAX_NODE_TYPES as u64);
    pub const EPISODES: Range = range("lifetime.episodes", 1, MAX_EPISODES as u64);
    pub const EVAL_REPEATS: Range = range("lifetime.eval_repeats", 1, MAX_EVAL_REPEATS as u64);
    /// Products with the other sizes are bounded by `JobCost`.
    pub const POPSIZE: Range = range("strategy.popsize", 2, MAX_LIFETIMES_PER_GENERATION as u64);

    /// Every declared range, for the OpenAPI document.
    pub const RANGES: [Range; 11] = [
        GENERATIONS,
        CHECKPOINT_INTERVAL,
        MEAN_GENOME_INTERVAL,
        PRIORITY,
        STAGNATION,
        NODES,
        MSG_DIMS,
        NODE_TYPES,
        EPISODES,
        EVAL_REPEATS,
        POPSIZE,
    ];

    /// The one tag rule, for specs and for the list filter alike: 1 to [`MAX_TAG_CHARS`]
    /// characters.
    pub fn check_tag(tag: &str) -> Result<(), String> {
        let chars = tag.chars().count();
        if (1..=MAX_TAG_CHARS).contains(&chars) {
            Ok(())
        } else {
            Err(format!(
                "must be 1 to {MAX_TAG_CHARS} characters, got {chars}"
            ))
        }
    }
}

/// Sweeps: one request that queues a job per combination of its axes.
pub mod sweep {
    /// Jobs one sweep may create: enough for 4 variants × 8 seeds twice over; more is a
    /// scripted campaign, which can submit several sweeps.
    pub const MAX_JOBS: usize = 64;
    /// Spec fields one sweep varies.
    pub const MAX_AXES: usize = 6;
    /// Values one axis lists.
    pub const MAX_AXIS_VALUES: usize = 64;
    /// Names in an axis path (`strategy.sigma0` has 2); specs nest no deeper.
    pub const MAX_AXIS_DEPTH: usize = 4;
    /// Characters of an axis path.
    pub const MAX_AXIS_PATH_CHARS: usize = 64;
}

/// Genome files (uploads and `sfnn eval`).
pub mod genome {
    /// The job spec a genome file carries (informative only): a spec is a few kilobytes.
    pub const MAX_SPEC_BYTES: usize = 64 << 10;
}

/// Imports (`POST /api/v1/imports`, `sfnn push`): a run recorded elsewhere, uploaded in pieces
/// that each stay within [`http::BODY_LIMIT`].
pub mod import {
    /// Generation records in one upload. A record at the reference size is about 1 KiB of JSON
    /// (one with 8 environments and a full telemetry list a few KiB), so a batch stays well
    /// under the 4 MiB body limit, and a 10,000-generation run goes up in 10 requests.
    pub const MAX_BATCH_RECORDS: usize = 1000;
    /// Named telemetry values in one record (the strategies report a handful).
    pub const MAX_TELEMETRY: usize = 32;
    /// Characters of a telemetry value's name.
    pub const MAX_TELEMETRY_NAME_CHARS: usize = 64;
    /// Bytes of JSON `sfnn push` puts in one batch, besides the record count: half the body
    /// limit, so that records larger than expected still fit.
    pub const PUSH_BATCH_BYTES: usize = super::http::BODY_LIMIT / 2;
}

/// Traces (`sfnn eval --trace`): one lifetime, step by step.
pub mod trace {
    /// Environment steps in one trace (episodes × horizon): about 100 bytes of JSON each, so a
    /// trace stays under about 5 MB. The reference lifetime (8 × 500 CartPole steps) has 4000.
    pub const MAX_STEPS: usize = 50_000;
}

/// Lifetime replays for the dashboard (`GET /api/v1/genomes/{id}/replay`): one traced lifetime
/// plus the synapse-state norms, computed on the server's CPU while the client waits.
pub mod replay {
    use std::time::Duration;

    /// Environment steps of one replay (episodes × horizon): the reference lifetime (8 × 500
    /// CartPole steps) fits twice; about 200 bytes of JSON a step with the heat map (20
    /// CartPole episodes at N = 32 measured 1.9 MB).
    pub const MAX_STEPS: usize = 10_000;
    /// Synapse updates of one replay (steps × wired edges), counted at [`REFERENCE_MSG_DIMS`]:
    /// the CPU time it costs. A synapse's GRU costs about d² multiply-adds, so at `msg_dims`
    /// d one update counts ⌈d²/16⌉. Measured on the 2-core development machine (release build,
    /// one blocking thread): the reference lifetime (4,000 CartPole steps, about 430 edges)
    /// takes 0.05 s, and the heaviest replays the bound lets through (N = 64, 20 episodes; N =
    /// 128, 5 episodes; N = 256, 1 episode; N = 64 at d = 16, 1 episode) 0.1–0.4 s.
    pub const MAX_SYNAPSE_STEPS: usize = 20_000_000;
    /// The `msg_dims` at which a synapse update counts once in [`MAX_SYNAPSE_STEPS`].
    pub const REFERENCE_MSG_DIMS: usize = 4;
    /// Initial synapse-state values (edges × msg_dims) a replay's trace carries, about 10 bytes
    /// of JSON each: N = 256 at d = 4 fits (about 130,000), so the answer stays within about 3 MB.
    pub const MAX_SYNAPSE_STATE_VALUES: usize = 140_000;
    /// Values of the synapse-norm heat map (columns × edges, about 10 bytes of JSON each, so
    /// about 1 MB). When `steps × edges` is larger, a column is kept every `every` steps (at
    /// least one column, whatever the edge count).
    pub const MAX_NORM_VALUES: usize = 100_000;
    /// Replays computed at once, server-wide; more are answered 429 (`busy`) at once rather
    /// than queued, so a flood of them holds at most this many blocking threads.
    pub const MAX_CONCURRENT: usize = 2;
    /// What a client refused for `busy` is asked to wait.
    pub const RETRY_AFTER: Duration = Duration::from_secs(1);
}

/// Job cost: what products of a spec's sizes may add up to (see `evolution::cost`).
pub mod cost {
    /// Multiply-adds of one generation of the paper configuration (CMA-ES, popsize 128,
    /// CartPole + Acrobot + MountainCar, 8 episodes, N = 32, d = 4): the unit in which errors
    /// state the work bound. A test checks that the cost model gives exactly this.
    pub const PAPER_GENERATION_WORK: u64 = 203_171_074_050;
    /// Work of one generation: 512 paper generations, popsize 8,192 at the paper's sizes with
    /// room to spare (about 20 ms × 512 on an H200, an hour on a 2-core CPU).
    pub const MAX_GENERATION_WORK: u64 = 512 * PAPER_GENERATION_WORK;
    /// A strategy's state, and so each checkpoint: CMA-ES up to 4,096 parameters.
    pub const MAX_STRATEGY_STATE_BYTES: u64 = 256 << 20;
    /// Peak memory of one generation (strategy, population, host-drawn lifetimes): several
    /// workers must fit on one machine.
    pub const MAX_GENERATION_MEMORY_BYTES: u64 = 4 << 30;
}

/// Workers: how often a job may crash them.
pub mod worker {
    /// Runs of one job in a row that may end in a crash (a panic, or a worker that died and let
    /// its lease expire) at the same place, without progress past the previous crash's
    /// generation, before the job is failed: enough to ride out an unlucky kill or two, few
    /// enough that a job which aborts the process cannot keep a server in a crash loop. A
    /// server killed now and then mid-job makes progress between kills and never gets here.
    pub const MAX_CRASHES: u32 = 3;
    /// How often a running generation looks for a cancel (one small read): a cancel takes
    /// effect within this plus one lifetime per thread.
    pub const CANCEL_POLL: std::time::Duration = std::time::Duration::from_millis(250);
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
    /// Buckets of a history chart (`GET /jobs/{id}/history/chart?max_points=`): the fewest,
    /// the most and the default.
    pub const CHART_POINTS: std::ops::RangeInclusive<usize> = 2..=100_000;
    pub const DEFAULT_CHART_POINTS: usize = 1000;
    /// The job list's name search (`q`), in characters: a name is at most
    /// [`super::spec::MAX_NAME_CHARS`].
    pub const MAX_SEARCH_CHARS: usize = super::spec::MAX_NAME_CHARS;
}

/// Storage: how the server behaves while the store cannot write (a full disk, an I/O error).
pub mod storage {
    use std::time::Duration;

    /// A failing store is healthy again once it commits a write of this many bytes: more than a
    /// generation writes at the reference size (its record, two genomes and a CMA-ES checkpoint
    /// of about 1.2 MB), so a disk with room for a small write but not for the next generation
    /// still counts as full.
    pub const WRITE_PROBE_BYTES: usize = 4 << 20;
    /// While the store fails, it is probed at most this often (each probe writes
    /// [`WRITE_PROBE_BYTES`] twice: the bytes, then their removal).
    pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);
    /// `Retry-After` of a request refused while the store cannot write.
    pub const RETRY_AFTER: Duration = Duration::from_secs(10);
    /// A worker that met a storage failure waits this long before looking at the store again,
    /// doubling each time it still fails, up to [`BACKOFF_MAX`]: a disk that stays full for
    /// minutes costs a few probes, not the job's attempts.
    pub const BACKOFF_MIN: Duration = Duration::from_secs(1);
    pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
}

/// Admission: how fast jobs may be queued and how many may wait. The defaults never bother one
/// person at a keyboard or a script submitting a sweep (a 100-job burst, then 20 per second),
/// yet keep a runaway client from filling the store with millions of queued jobs. Each is a
/// `sfnn serve` flag; 0 turns a limit off.
pub mod admission {
    use std::time::Duration;

    /// Jobs (evolution and evaluation) that may be queued at once, server-wide
    /// (`--max-queued-jobs`). Ten thousand queued jobs are weeks of work for one worker.
    pub const DEFAULT_MAX_QUEUED_JOBS: u64 = 10_000;
    /// Sustained job submissions per second, server-wide (`--submit-rate`).
    pub const DEFAULT_SUBMIT_RATE: f64 = 20.0;
    /// Submissions allowed at once above the rate (`--submit-burst`): a sweep of 100 specs
    /// goes in without waiting.
    pub const DEFAULT_SUBMIT_BURST: u32 = 100;
    /// `Retry-After` when the queue is full: workers take jobs at their own pace, so this is a
    /// hint, not a promise.
    pub const QUEUE_FULL_RETRY_AFTER: Duration = Duration::from_secs(30);
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
    /// Notices and events a broadcast ring holds for its slowest subscriber; one that falls
    /// further behind is told so (`resync`) and rereads the store.
    pub const RING: usize = 1024;
}
