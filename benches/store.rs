//! Store benchmarks (`cargo bench --bench store`), SQLite and PostgreSQL side by side in one run.
//! PostgreSQL is measured when `SFNN_BENCH_DATABASE_URL` (or `SFNN_TEST_DATABASE_URL`) names a
//! database, in a fresh schema dropped afterwards:
//! - queue throughput: 16 workers competing for 2,000 tiny jobs, each claimed and finished at
//!   once (and checked: no job claimed twice, none left behind);
//! - the history of a 10,000-generation job: full read (`history_page`) and the chart at 500
//!   points (`history_chart`), fitness only and with its three environments and σ.

mod common;

#[path = "../tests/common/db.rs"]
#[allow(dead_code)]
mod db;

use common::record;
use db::TestDatabase;
use sfnn::evolution::JobPayload;
use sfnn::store::{ChartSeries, JobStatus, NewJob, Store};
use std::time::{Duration, Instant};

const JOBS: usize = 2_000;
const WORKERS: usize = 16;
const GENERATIONS: u64 = 10_000;
const REPEATS: usize = 20;

fn new_job(name: String, generations: u64) -> NewJob {
    let spec = format!(r#"{{"envs": ["CartPole-v1"], "generations": {generations}}}"#);
    NewJob {
        payload: JobPayload::evolve(spec.as_bytes()).unwrap(),
        name,
        tags: vec!["bench".into()],
        priority: 0,
    }
}

struct Figures {
    claims_per_s: f64,
    page_ms: f64,
    chart_ms: f64,
    series_ms: f64,
}

/// Claims per second with `WORKERS` competing claimers, each finishing its job at once.
async fn claim_throughput(store: &Store) -> f64 {
    for i in 0..JOBS {
        store
            .create_job(new_job(format!("tiny {i}"), 1))
            .await
            .unwrap();
    }
    let started = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut claimed = Vec::new();
                let worker = format!("bench-{w}");
                while let Some(claim) = store
                    .claim_job(&worker, Duration::from_secs(600))
                    .await
                    .unwrap()
                {
                    store
                        .finish_job(
                            &claim.job.id,
                            &claim.lease_token,
                            JobStatus::Succeeded,
                            None,
                            None,
                        )
                        .await
                        .unwrap();
                    claimed.push(claim.job.id);
                }
                claimed
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let claimed = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), claimed, "a job was claimed twice");
    assert_eq!(claimed, JOBS, "jobs left unclaimed");
    claimed as f64 / elapsed
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Median ms of a full history read, of its 500-point chart, and of that chart with every
/// series (three environments and σ), for a 10,000-generation job.
async fn history(store: &Store) -> (f64, f64, f64) {
    let job = store
        .create_job(NewJob {
            priority: 1000,
            ..new_job("long".into(), GENERATIONS)
        })
        .await
        .unwrap();
    let claim = store
        .claim_job("bench-filler", Duration::from_secs(3600))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claim.job.id, job.id);
    for g in 0..GENERATIONS {
        store
            .record_generation(&job.id, &claim.lease_token, &record(g), &[], None)
            .await
            .unwrap();
    }
    let mut page = Vec::new();
    let mut chart = Vec::new();
    let mut series = Vec::new();
    let all = ChartSeries {
        envs: true,
        sigma: true,
    };
    let names: Vec<String> = record(0).envs.iter().map(|e| e.env.clone()).collect();
    for _ in 0..REPEATS {
        let started = Instant::now();
        let records = store.history_page(&job.id, None, i64::MAX).await.unwrap();
        page.push(started.elapsed().as_secs_f64() * 1e3);
        assert_eq!(records.len() as u64, GENERATIONS);
        let started = Instant::now();
        let c = store
            .history_chart(&job.id, 500, ChartSeries::default(), &names)
            .await
            .unwrap();
        chart.push(started.elapsed().as_secs_f64() * 1e3);
        assert_eq!(c.generations, GENERATIONS);
        let started = Instant::now();
        let c = store
            .history_chart(&job.id, 500, all, &names)
            .await
            .unwrap();
        series.push(started.elapsed().as_secs_f64() * 1e3);
        assert_eq!(c.envs.unwrap()[2].mean_return_max.len(), 500);
    }
    (median(page), median(chart), median(series))
}

async fn measure(name: &str, db: &TestDatabase) -> Figures {
    let store = db.open().await;
    let started = Instant::now();
    let claims_per_s = claim_throughput(&store).await;
    println!("{name}: {claims_per_s:.0} claims/s ({JOBS} jobs, {WORKERS} workers)");
    let (page_ms, chart_ms, series_ms) = history(&store).await;
    println!(
        "{name}: 10,000-generation history: full read {page_ms:.1} ms, chart(500) {chart_ms:.2} ms, \
         with envs and σ {series_ms:.2} ms (whole backend run {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    Figures {
        claims_per_s,
        page_ms,
        chart_ms,
        series_ms,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sqlite = measure("sqlite", &TestDatabase::sqlite()).await;
    let url = ["SFNN_BENCH_DATABASE_URL", "SFNN_TEST_DATABASE_URL"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()));
    let Some(url) = url else {
        println!("postgres: skipped (set SFNN_BENCH_DATABASE_URL or SFNN_TEST_DATABASE_URL)");
        return;
    };
    let db = TestDatabase::postgres_at(&url).await;
    let pg = measure("postgres", &db).await;
    println!();
    println!(
        "{:<34} {:>12} {:>12} {:>10}",
        "", "sqlite", "postgres", "pg/sqlite"
    );
    let row = |label: &str, a: f64, b: f64, unit: &str| {
        println!(
            "{label:<34} {a:>9.2} {unit:<2} {b:>9.2} {unit:<2} {:>9.2}×",
            b / a
        );
    };
    row(
        "claims/s (16 workers)",
        sqlite.claims_per_s,
        pg.claims_per_s,
        "/s",
    );
    row(
        "history, full read (10k gens)",
        sqlite.page_ms,
        pg.page_ms,
        "ms",
    );
    row(
        "history chart, 500 points",
        sqlite.chart_ms,
        pg.chart_ms,
        "ms",
    );
    row("  with 3 envs and σ", sqlite.series_ms, pg.series_ms, "ms");
}
