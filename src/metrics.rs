//! Prometheus metrics: what the server and the workers export at `/metrics`.
//!
//! Workers count what they do (generations, environment steps, time per phase, leases taken
//! over or lost); the server adds what the store knows (jobs by status, queue depth), read at
//! scrape time so the figures are never stale. Rates ("generations per second") are left to
//! Prometheus (`rate(sfnn_generations_total[1m])`), as its conventions ask: counters here,
//! arithmetic there.

use crate::evolution::GenerationRecord;
use crate::store::{JobStatus, Store};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, prometheus_text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// The `Content-Type` of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkerLabels {
    worker: String,
    executor: String,
}

#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)] // label values are written as they are spelled
enum Phase {
    ask,
    evaluate,
    tell,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    executor: String,
    phase: Phase,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

type SecondsHistogram = Family<PhaseLabels, Histogram, fn() -> Histogram>;

/// One process's metrics. Cheap to share: every field is a handle into the registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    jobs: Family<StatusLabels, Gauge>,
    queue_depth: Gauge,
    generations: Family<WorkerLabels, Counter>,
    env_steps: Family<WorkerLabels, Counter>,
    steps_per_second: Family<WorkerLabels, Gauge<f64, AtomicU64>>,
    generation_seconds: SecondsHistogram,
    lease_takeovers: Counter,
    leases_lost: Counter,
    workers_configured: Gauge,
    workers_alive: Gauge,
    worker_panics: Counter,
    handler_panics: Counter,
    jobs_crashed: Counter,
    connections: ConnectionMetrics,
    event_streams: StreamMetrics,
}

/// What the HTTP server counts about its connections (handles into the registry).
#[derive(Debug, Clone, Default)]
pub struct ConnectionMetrics {
    /// Connections open now.
    pub open: Gauge,
    /// The most connections served at once (derived from the file-descriptor limit).
    pub limit: Gauge,
    /// Idle connections closed to make room for a new one at the limit.
    pub evicted: Counter,
    /// New connections turned away because every open one was busy.
    pub refused: Counter,
}

/// What the API counts about live event streams (handles into the registry).
#[derive(Debug, Clone, Default)]
pub struct StreamMetrics {
    /// Live event streams open now.
    pub open: Gauge,
    /// Streams refused (503) because the limit was reached.
    pub refused: Counter,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("sfnn");
        let jobs = Family::<StatusLabels, Gauge>::default();
        registry.register("jobs", "Jobs by status", jobs.clone());
        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "Jobs waiting for a worker",
            queue_depth.clone(),
        );
        let generations = Family::<WorkerLabels, Counter>::default();
        registry.register(
            "generations",
            "Generations recorded, by worker and executor",
            generations.clone(),
        );
        let env_steps = Family::<WorkerLabels, Counter>::default();
        registry.register(
            "env_steps",
            "Environment (SFNN) steps simulated, by worker and executor",
            env_steps.clone(),
        );
        let steps_per_second = Family::<WorkerLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "worker_env_steps_per_second",
            "Environment steps per second of the worker's last generation",
            steps_per_second.clone(),
        );
        let generation_seconds: SecondsHistogram = Family::new_with_constructor(|| {
            // 1 ms to about 65 s: a tiny CPU job's tell to a large population's evaluation.
            Histogram::new(exponential_buckets(0.001, 2.0, 17))
        });
        registry.register(
            "generation_phase_seconds",
            "Time of one generation's phases: ask (sampling and lifetime inputs), evaluate \
             (the executor and fitness), tell (the strategy update)",
            generation_seconds.clone(),
        );
        let lease_takeovers = Counter::default();
        registry.register(
            "lease_takeovers",
            "Jobs re-queued because their worker's lease expired",
            lease_takeovers.clone(),
        );
        let leases_lost = Counter::default();
        registry.register(
            "leases_lost",
            "Jobs this process stopped writing because another worker took them over",
            leases_lost.clone(),
        );
        let workers_configured = Gauge::default();
        registry.register(
            "workers_configured",
            "Workers this process runs",
            workers_configured.clone(),
        );
        let workers_alive = Gauge::default();
        registry.register(
            "workers_alive",
            "Workers of this process that are running (one that panicked is restarted)",
            workers_alive.clone(),
        );
        let worker_panics = Counter::default();
        registry.register(
            "worker_panics",
            "Panics caught in this process's workers (in a job or in the worker loop)",
            worker_panics.clone(),
        );
        let handler_panics = Counter::default();
        registry.register(
            "http_handler_panics",
            "Requests whose handler panicked (answered 500 internal)",
            handler_panics.clone(),
        );
        let jobs_crashed = Counter::default();
        registry.register(
            "jobs_crashed",
            "Runs of a job that ended in a crash: a panic, or a worker that died (lease expired)",
            jobs_crashed.clone(),
        );
        let connections = ConnectionMetrics::default();
        registry.register(
            "http_connections",
            "HTTP connections open",
            connections.open.clone(),
        );
        registry.register(
            "http_connection_limit",
            "HTTP connections served at once, at most (from the file-descriptor limit)",
            connections.limit.clone(),
        );
        registry.register(
            "http_connections_evicted",
            "Idle HTTP connections closed to make room for new ones at the limit",
            connections.evicted.clone(),
        );
        registry.register(
            "http_connections_refused",
            "HTTP connections turned away at the limit because every open one was busy",
            connections.refused.clone(),
        );
        let event_streams = StreamMetrics::default();
        registry.register(
            "event_streams",
            "Live event streams (SSE) open",
            event_streams.open.clone(),
        );
        registry.register(
            "event_streams_refused",
            "Live event streams refused (503) at the limit",
            event_streams.refused.clone(),
        );
        Arc::new(Metrics {
            registry,
            jobs,
            queue_depth,
            generations,
            env_steps,
            steps_per_second,
            generation_seconds,
            lease_takeovers,
            leases_lost,
            workers_configured,
            workers_alive,
            worker_panics,
            handler_panics,
            jobs_crashed,
            connections,
            event_streams,
        })
    }

    /// Counts one recorded generation.
    pub fn record_generation(&self, worker: &str, executor: &str, record: &GenerationRecord) {
        let labels = WorkerLabels {
            worker: worker.to_string(),
            executor: executor.to_string(),
        };
        self.generations.get_or_create(&labels).inc();
        self.env_steps
            .get_or_create(&labels)
            .inc_by(record.env_steps);
        let timing = &record.timing;
        let seconds = timing.ask + timing.evaluate + timing.tell;
        if seconds > 0.0 {
            self.steps_per_second
                .get_or_create(&labels)
                .set(record.env_steps as f64 / seconds);
        }
        for (phase, seconds) in [
            (Phase::ask, timing.ask),
            (Phase::evaluate, timing.evaluate),
            (Phase::tell, timing.tell),
        ] {
            self.generation_seconds
                .get_or_create(&PhaseLabels {
                    executor: executor.to_string(),
                    phase,
                })
                .observe(seconds);
        }
    }

    pub fn lease_takeovers(&self, jobs: u64) {
        self.lease_takeovers.inc_by(jobs);
    }

    pub fn lease_lost(&self) {
        self.leases_lost.inc();
    }

    /// Counts workers as they are spawned.
    pub fn worker_spawned(&self) {
        self.workers_configured.inc();
    }

    /// A worker's loop started (or was restarted) or ended.
    pub fn worker_alive(&self, alive: bool) {
        if alive {
            self.workers_alive.inc();
        } else {
            self.workers_alive.dec();
        }
    }

    pub fn worker_panicked(&self) {
        self.worker_panics.inc();
    }

    /// A request handler panicked; its client was answered 500.
    pub fn handler_panicked(&self) {
        self.handler_panics.inc();
    }

    pub fn jobs_crashed(&self, runs: u64) {
        self.jobs_crashed.inc_by(runs);
    }

    /// Workers (configured, alive) and panics caught so far, for health checks.
    pub fn workers(&self) -> WorkerHealth {
        WorkerHealth {
            configured: self.workers_configured.get().max(0) as u64,
            alive: self.workers_alive.get().max(0) as u64,
            panics: self.worker_panics.get(),
        }
    }

    /// The HTTP server's connection figures.
    pub fn connections(&self) -> &ConnectionMetrics {
        &self.connections
    }

    /// The live event stream figures.
    pub fn event_streams(&self) -> &StreamMetrics {
        &self.event_streams
    }

    /// Reads jobs by status and the queue depth from the store.
    pub async fn refresh_jobs(&self, store: &Store) -> crate::store::Result<()> {
        let counts = store.count_by_status().await?;
        for status in JobStatus::ALL {
            let count = counts
                .iter()
                .find(|(s, _)| *s == status)
                .map_or(0, |&(_, n)| n);
            self.jobs
                .get_or_create(&StatusLabels {
                    status: status.as_str().to_string(),
                })
                .set(count as i64);
            if status == JobStatus::Queued {
                self.queue_depth.set(count as i64);
            }
        }
        Ok(())
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_text::encode(&mut text, &self.registry).expect("writing to a String");
        text
    }
}

/// The workers of one process, as `/healthz` shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct WorkerHealth {
    pub configured: u64,
    /// Running now; fewer than configured while a panicked worker waits to restart.
    pub alive: u64,
    /// Panics caught since start (each failed or re-queued its job, or restarted its worker).
    pub panics: u64,
}
