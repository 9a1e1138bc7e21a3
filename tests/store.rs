//! The store on a real SQLite file: queue order, leases and fencing, history charts, cascades
//! and pagination.

use sfnn::evolution::GenerationRecord;
use sfnn::evolution::run::{FitnessStats, Timing};
use sfnn::model::ModelConfig;
use sfnn::store::{
    self, Cursor, GenomeKind, JobFilter, JobKind, JobStatus, NewGenome, NewJob, Store, StoreError,
    chart,
};
use std::time::Duration;

async fn open() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(&dir.path().join("nested/dir/store.db").display().to_string())
        .await
        .unwrap();
    (store, dir)
}

fn new_job(name: &str, priority: i32) -> NewJob {
    NewJob {
        kind: JobKind::Evolve,
        name: name.into(),
        tags: vec!["t".into(), name.into()],
        spec: serde_json::json!({"envs": ["CartPole-v1"]}),
        priority,
        generations: 10,
    }
}

fn record(generation: u64, best: f64, best_so_far: f64) -> GenerationRecord {
    record_with(generation, best, best_so_far, false)
}

fn record_with(generation: u64, best: f64, best_so_far: f64, improved: bool) -> GenerationRecord {
    GenerationRecord {
        generation,
        fitness: FitnessStats {
            best,
            mean: best / 2.0,
            worst: -best,
            std: 0.0,
            q25: 0.0,
            median: 0.0,
            q75: 0.0,
        },
        best_so_far,
        improved,
        envs: vec![],
        sigma: 1.0,
        telemetry: vec![],
        env_steps: 1,
        timing: Timing::default(),
    }
}

#[tokio::test]
async fn jobs_are_claimed_by_priority_then_age_and_only_once() {
    let (store, _dir) = open().await;
    let low = store.create_job(new_job("low", 0)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3)).await;
    let high = store.create_job(new_job("high", 5)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3)).await;
    let low2 = store.create_job(new_job("low2", 0)).await.unwrap();
    let lease = Duration::from_secs(60);
    let order: Vec<String> = [
        store.claim_job("w1", lease).await.unwrap().unwrap(),
        store.claim_job("w2", lease).await.unwrap().unwrap(),
        store.claim_job("w1", lease).await.unwrap().unwrap(),
    ]
    .iter()
    .map(|c| c.job.id.clone())
    .collect();
    assert_eq!(order, [high.id, low.id, low2.id]);
    assert!(store.claim_job("w3", lease).await.unwrap().is_none());
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_the_old_worker_is_fenced_off() {
    let (store, _dir) = open().await;
    let job = store.create_job(new_job("j", 0)).await.unwrap();
    let first = store
        .claim_job("w1", Duration::from_millis(1))
        .await
        .unwrap()
        .unwrap();
    store
        .record_generation(
            &job.id,
            &first.lease_token,
            &record(0, 1.0, 1.0),
            &[],
            Some(b"{}"),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        store.requeue_expired().await.unwrap(),
        std::slice::from_ref(&job.id)
    );
    let second = store
        .claim_job("w2", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.job.attempts, 2);
    assert_ne!(second.lease_token, first.lease_token);
    // The first worker wakes up and tries to write: nothing happens.
    let stale = store
        .record_generation(&job.id, &first.lease_token, &record(1, 2.0, 2.0), &[], None)
        .await;
    assert!(matches!(stale, Err(StoreError::LeaseLost)));
    assert!(
        !store
            .heartbeat(&job.id, &first.lease_token, Duration::from_secs(1))
            .await
            .unwrap()
    );
    assert_eq!(
        store.history_page(&job.id, None, 100).await.unwrap().len(),
        1
    );
    // The second one continues; a generation cannot be recorded twice.
    store
        .record_generation(
            &job.id,
            &second.lease_token,
            &record(1, 2.0, 2.0),
            &[],
            None,
        )
        .await
        .unwrap();
    let again = store
        .record_generation(
            &job.id,
            &second.lease_token,
            &record(1, 2.0, 2.0),
            &[],
            None,
        )
        .await;
    assert!(again.is_err());
    let job = store.get_job(&job.id).await.unwrap().unwrap();
    assert_eq!(job.generation, 2);
    assert_eq!(job.best_fitness, Some(2.0));
    assert_eq!(store.load_checkpoint(&job.id).await.unwrap().unwrap().0, 1);
}

#[tokio::test]
async fn truncation_forgets_work_after_the_checkpoint() {
    let (store, _dir) = open().await;
    let job = store.create_job(new_job("j", 0)).await.unwrap();
    let claim = store
        .claim_job("w", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let genome = |g: u64| NewGenome {
        job_id: Some(job.id.clone()),
        generation: Some(g),
        kind: GenomeKind::GenerationBest,
        fitness: Some(g as f64),
        model: ModelConfig::default(),
        values: vec![g as f32; 565],
        name: None,
    };
    for g in 0..6 {
        let checkpoint = (g == 2).then_some(&b"state"[..]);
        store
            .record_generation(
                &job.id,
                &claim.lease_token,
                &record(g, g as f64, g as f64),
                &[genome(g)],
                checkpoint,
            )
            .await
            .unwrap();
    }
    store
        .truncate_from(&job.id, &claim.lease_token, 3, Some(2.0))
        .await
        .unwrap();
    let history = store.history_page(&job.id, None, 100).await.unwrap();
    assert_eq!(
        history.iter().map(|r| r.generation).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    let genomes = store.job_genomes(&job.id).await.unwrap();
    assert_eq!(
        genomes
            .iter()
            .map(|g| g.generation.unwrap())
            .collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert_eq!(genomes[2].sha256, store::genome_sha256(&[2.0; 565]));
    let job = store.get_job(&job.id).await.unwrap().unwrap();
    assert_eq!((job.generation, job.best_fitness), (3, Some(2.0)));
}

#[tokio::test]
async fn the_sql_chart_equals_the_reference_downsampling() {
    let (store, _dir) = open().await;
    let job = store.create_job(new_job("j", 0)).await.unwrap();
    let claim = store
        .claim_job("w", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let mut best_so_far = f64::NEG_INFINITY;
    for g in 0..2_345u64 {
        let best = ((g * 7919) % 1009) as f64 / 1009.0;
        let improved = best > best_so_far;
        best_so_far = best_so_far.max(best);
        store
            .record_generation(
                &job.id,
                &claim.lease_token,
                &record_with(g, best, best_so_far, improved),
                &[],
                None,
            )
            .await
            .unwrap();
    }
    let points = store.history_points(&job.id).await.unwrap();
    for max_points in [2, 7, 100, 1000, 5000] {
        let sql = store.history_chart(&job.id, max_points).await.unwrap();
        assert_eq!(
            sql,
            chart::downsample(&points, max_points),
            "max_points {max_points}"
        );
        assert!(sql.generation.len() <= max_points);
    }
    let empty = store.create_job(new_job("empty", 0)).await.unwrap();
    let chart = store.history_chart(&empty.id, 10).await.unwrap();
    assert_eq!(chart.generations, 0);
    assert!(chart.generation.is_empty() && chart.best_so_far.generation.is_empty());
}

#[tokio::test]
async fn cancel_resume_delete_and_pagination() {
    let (store, _dir) = open().await;
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(
            store
                .create_job(new_job(&format!("j{i}"), 0))
                .await
                .unwrap()
                .id,
        );
    }
    // A queued job is cancelled at once; a running one is asked to stop.
    let running = store
        .claim_job("w", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let asked = store.request_cancel(&running.job.id).await.unwrap();
    assert_eq!(
        (asked.status, asked.cancel_requested),
        (JobStatus::Running, true)
    );
    let queued = store.request_cancel(&ids[1]).await.unwrap();
    assert_eq!(queued.status, JobStatus::Cancelled);
    assert!(matches!(
        store.delete_job(&running.job.id).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.resume_job(&ids[2]).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.resume_job(&ids[1]).await.unwrap().status,
        JobStatus::Queued
    );
    // Bulk cancel by tag.
    let filter = JobFilter {
        tag: Some("j3".into()),
        ..JobFilter::default()
    };
    assert_eq!(store.cancel_matching(&filter).await.unwrap(), 1);
    // Pages of 3 visit every job exactly once, newest first.
    let mut seen = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = store
            .list_jobs(&JobFilter::default(), 3, cursor.as_ref())
            .await
            .unwrap();
        seen.extend(page.jobs.iter().map(|j| j.id.clone()));
        match page.next_cursor {
            Some(c) => cursor = Some(Cursor::decode(&c).unwrap()),
            None => break,
        }
    }
    let mut expected = ids.clone();
    expected.sort();
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, expected);
    assert_eq!(seen.len(), 7);
    // Deleting a job deletes its genomes.
    let meta = store
        .insert_genome(&NewGenome {
            job_id: Some(ids[4].clone()),
            generation: Some(0),
            kind: GenomeKind::FinalBest,
            fitness: None,
            model: ModelConfig::default(),
            values: vec![0.5; 565],
            name: None,
        })
        .await
        .unwrap();
    store.delete_job(&ids[4]).await.unwrap();
    assert!(store.genome_meta(&meta.id).await.unwrap().is_none());
    assert!(matches!(
        store.delete_job(&ids[4]).await,
        Err(StoreError::NotFound(_))
    ));
    let counts = store.count_by_status().await.unwrap();
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    assert_eq!(total, 6);
}
