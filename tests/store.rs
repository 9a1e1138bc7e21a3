//! The store on both backends (SQLite file; PostgreSQL when `SFNN_TEST_DATABASE_URL` is set):
//! queue order, leases and fencing, history charts, cascades, pagination and live events.

mod common;

use sfnn::evolution::run::{EnvStats, FitnessStats, Timing};
use sfnn::evolution::{GenerationRecord, JobPayload};
use sfnn::model::ModelConfig;
use sfnn::store::{
    self, Cursor, GenomeKind, JobFilter, JobSort, JobStatus, JobUpdate, NewGenome, NewJob, Notice,
    RunPlacement, Store, StoreError, chart,
};
use std::time::Duration;

/// Each test body runs twice: `sqlite::<name>` on a SQLite file, and `postgres::<name>` in a
/// fresh schema when `SFNN_TEST_DATABASE_URL` is set (it says SKIP and passes otherwise).
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = crate::common::db::TestDatabase::sqlite();
                    let store = db.open().await;
                    assert_eq!(store.backend(), "sqlite");
                    super::$name(&store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = crate::common::db::TestDatabase::postgres().await else {
                        eprintln!("SKIP: {} is not set", crate::common::db::PG_URL_VAR);
                        return;
                    };
                    let store = db.open().await;
                    assert_eq!(store.backend(), "postgres");
                    super::$name(&store).await;
                }
            )*
        }
    };
}

on_both_backends!(
    jobs_are_claimed_by_priority_then_age_and_only_once,
    an_expired_lease_is_taken_over_and_the_old_worker_is_fenced_off,
    truncation_forgets_work_after_the_checkpoint,
    the_sql_chart_equals_the_reference_downsampling,
    cancel_resume_delete_and_pagination,
    concurrent_claimers_never_share_a_job,
    a_heartbeat_extends_only_its_own_lease,
    floats_read_back_bit_for_bit_and_nan_like_sqlite,
    every_write_to_a_job_announces_it_once_on_commit,
    a_job_whose_worker_keeps_dying_is_failed_not_claimed_forever,
    a_caught_panic_requeues_then_fails_the_job,
    crashes_with_progress_between_them_never_fail_a_job,
    a_worker_claims_only_jobs_its_executor_may_run,
    jobs_are_updated_searched_and_paged_in_every_sort,
    an_export_that_loses_its_job_ends_in_an_error_not_a_short_history,
    a_sweep_is_deleted_whole_or_not_at_all,
);

async fn a_sweep_is_deleted_whole_or_not_at_all(store: &Store) {
    let request = serde_json::json!({
        "spec": {"envs": ["CartPole-v1"], "generations": 2},
        "axes": {"seed": [1, 2, 3]},
    });
    let plan = sfnn::evolution::sweep::SweepPlan::parse(request.to_string().as_bytes()).unwrap();
    let sweep = store.create_sweep(&plan).await.unwrap();
    let bystander = store.create_job(new_job("bystander", -1)).await.unwrap();
    let claim = store
        .claim_job("w", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claim.job.sweep.as_ref().unwrap().id, sweep.id);
    // One of its jobs runs: nothing is deleted.
    assert!(matches!(
        store.delete_sweep(&sweep.id).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.sweep(&sweep.id).await.unwrap().unwrap().jobs.len(), 3);
    let of_sweep = JobFilter {
        sweep: Some(sweep.id.clone()),
        ..JobFilter::default()
    };
    assert_eq!(store.cancel_matching(&of_sweep).await.unwrap(), 3);
    store
        .finish_job(
            &claim.job.id,
            &claim.lease_token,
            JobStatus::Cancelled,
            None,
            None,
        )
        .await
        .unwrap();
    store.delete_sweep(&sweep.id).await.unwrap();
    assert!(store.sweep(&sweep.id).await.unwrap().is_none());
    assert!(
        store
            .list_jobs(&of_sweep, 100, None)
            .await
            .unwrap()
            .jobs
            .is_empty()
    );
    assert!(store.get_job(&bystander.id).await.unwrap().is_some());
    assert!(matches!(
        store.delete_sweep(&sweep.id).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn jobs_are_updated_searched_and_paged_in_every_sort(store: &Store) {
    // Ties on every key: equal best fitness, equal progress, names equal but for case, no
    // fitness at all; and names with LIKE's wildcards.
    // The jobs that run come first: a queued job would be claimed before a later one.
    let runs: [(&str, Option<(u64, f64)>); 8] = [
        ("Beta", Some((2, 1.5))),
        ("beta", Some((2, 1.5))),
        ("alpha", Some((0, -3.0))),
        ("a_b", Some((4, 7.25))),
        ("Gamma", Some((0, 1.5))),
        ("100%", None),
        ("axb", None),
        ("delta", None),
    ];
    let lease = Duration::from_secs(60);
    let mut ids = Vec::new();
    for (name, run) in runs {
        let job = store.create_job(new_job(name, 0)).await.unwrap();
        if let Some((generation, best)) = run {
            let claim = store.claim_job("w", lease).await.unwrap().unwrap();
            assert_eq!(claim.job.id, job.id);
            store
                .record_generation(
                    &job.id,
                    &claim.lease_token,
                    &record(generation, best, best),
                    &[],
                    None,
                )
                .await
                .unwrap();
            let status = if generation == 4 {
                JobStatus::Failed
            } else {
                JobStatus::Succeeded
            };
            store
                .finish_job(&job.id, &claim.lease_token, status, None, None)
                .await
                .unwrap();
        }
        ids.push(job.id);
    }

    // Notes, names and tags change; what is not given stays.
    let update = JobUpdate {
        notes: Some("a note\nwith two lines".into()),
        ..JobUpdate::default()
    };
    let job = store.update_job(&ids[7], &update).await.unwrap();
    assert_eq!(
        (job.notes.as_str(), job.name.as_str()),
        ("a note\nwith two lines", "delta")
    );
    let update = JobUpdate {
        name: Some("Delta".into()),
        tags: Some(vec!["renamed".into()]),
        notes: None,
    };
    let job = store.update_job(&ids[7], &update).await.unwrap();
    assert_eq!(store.get_job(&ids[7]).await.unwrap().unwrap(), job);
    assert_eq!(
        (job.name.as_str(), job.notes.as_str()),
        ("Delta", "a note\nwith two lines")
    );
    assert_eq!(job.tags, ["renamed"]);
    let missing = store
        .update_job(&uuid::Uuid::new_v4().to_string(), &update)
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound("job"))),
        "{missing:?}"
    );

    // Search: a substring ignoring case, wildcards taken literally.
    let named = |text: &str| {
        let filter = JobFilter {
            name_contains: Some(text.into()),
            ..JobFilter::default()
        };
        async move {
            let page = store.list_jobs(&filter, 100, None).await.unwrap();
            let mut names: Vec<String> = page.jobs.into_iter().map(|j| j.name).collect();
            names.sort();
            names
        }
    };
    assert_eq!(named("BET").await, ["Beta", "beta"]);
    assert_eq!(named("%").await, ["100%"]);
    assert_eq!(named("a_").await, ["a_b"]);
    assert_eq!(named("x").await, ["axb"]);

    for sort in JobSort::allowed() {
        let sort = JobSort::parse(&sort).unwrap();
        let all = store
            .list_jobs_sorted(&JobFilter::default(), sort, 100, None)
            .await
            .unwrap();
        assert_eq!(all.jobs.len(), runs.len());
        assert_eq!(all.next_cursor, None);
        let key = |j: &store::Job| -> (f64, String, String) {
            use store::SortKey::*;
            match sort.key {
                Created => (j.created_at as f64, String::new(), j.id.clone()),
                Generation => (j.generation as f64, String::new(), j.id.clone()),
                Best => (
                    j.best_fitness.unwrap_or(f64::MIN),
                    String::new(),
                    j.id.clone(),
                ),
                Name => (0.0, j.name.to_lowercase(), j.id.clone()),
                Status => (0.0, j.status.as_str().into(), j.id.clone()),
            }
        };
        for pair in all.jobs.windows(2) {
            let order = key(&pair[0]).partial_cmp(&key(&pair[1])).unwrap();
            assert_eq!(
                order.is_gt(),
                sort.descending,
                "{sort:?}: {:?}",
                all.jobs.iter().map(key).collect::<Vec<_>>()
            );
        }
        // Pages of 3 give the same jobs in the same order, each once.
        let mut paged = Vec::new();
        let mut cursor: Option<Cursor> = None;
        loop {
            let page = store
                .list_jobs_sorted(&JobFilter::default(), sort, 3, cursor.as_ref())
                .await
                .unwrap();
            paged.extend(page.jobs.into_iter().map(|j| j.id));
            match page.next_cursor {
                Some(c) => cursor = Some(Cursor::decode(&c).unwrap()),
                None => break,
            }
        }
        let expected: Vec<String> = all.jobs.iter().map(|j| j.id.clone()).collect();
        assert_eq!(paged, expected, "{sort:?}");
    }
}

async fn a_worker_claims_only_jobs_its_executor_may_run(store: &Store) {
    let lease = Duration::from_secs(60);
    let on = |executor: &str| NewJob {
        priority: 1,
        ..new_job(executor, 0)
    };
    let with = |executor: &str| {
        let spec = format!(r#"{{"envs": ["CartPole-v1"], "executor": "{executor}"}}"#);
        NewJob {
            payload: JobPayload::evolve(spec.as_bytes()).unwrap(),
            ..on(executor)
        }
    };
    let cuda = store.create_job(with("cuda")).await.unwrap();
    let cpu = store.create_job(with("cpu")).await.unwrap();
    // A CPU worker passes over the CUDA job, takes the CPU one, then nothing.
    let claim = store
        .claim_job_for("cpu-worker", lease, Some("cpu"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claim.job.id, cpu.id);
    assert!(
        store
            .claim_job_for("cpu-worker", lease, Some("cpu"))
            .await
            .unwrap()
            .is_none()
    );
    let auto = store.create_job(with("auto")).await.unwrap();
    let claim = store
        .claim_job_for("cuda-worker", lease, Some("cuda"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claim.job.id, cuda.id);
    let claim = store
        .claim_job_for("cpu-worker", lease, Some("cpu"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claim.job.id, auto.id);
    // The run records why it ran where it did.
    store
        .set_executor(
            &auto.id,
            &claim.lease_token,
            &store::RunPlacement {
                executor: "cpu",
                device: "test CPU",
                machine: "test CPU × 1 thread",
                reason: "because",
            },
        )
        .await
        .unwrap();
    let job = store.get_job(&auto.id).await.unwrap().unwrap();
    assert_eq!(job.placement.as_deref(), Some("because"));
}

/// A history export streams the records that existed when it began, page by page. A job
/// deleted half-way must not look like a shorter complete history: the stream ends in an error
/// (which the API turns into an aborted body). Records added meanwhile are not part of it.
async fn an_export_that_loses_its_job_ends_in_an_error_not_a_short_history(store: &Store) {
    use futures_util::StreamExt;
    const RECORDS: u64 = 4_500; // more than two of the export's pages
    let imported = |name: &str| NewJob {
        payload: JobPayload::evolve(br#"{"envs": ["CartPole-v1"], "generations": 10000}"#).unwrap(),
        ..new_job(name, 0)
    };
    let fill = |id: String, from: u64, to: u64| async move {
        let records: Vec<_> = (from..to).map(|g| record(g, g as f64, g as f64)).collect();
        for chunk in records.chunks(1_000) {
            store.import_generations(&id, chunk).await.unwrap();
        }
    };

    // Undisturbed: every record once, in order, and nothing after the error-free end.
    let whole = store.create_import(imported("whole")).await.unwrap();
    fill(whole.id.clone(), 0, RECORDS).await;
    let mut export = Box::pin(store.history_stream(whole.id.clone()));
    let first = export.next().await.unwrap().unwrap();
    assert_eq!(first.generation, 0);
    // Generations recorded after the export began are not part of it.
    fill(whole.id.clone(), RECORDS, RECORDS + 10).await;
    let rest: Vec<_> = export.map(|r| r.unwrap().generation).collect().await;
    assert_eq!(rest, (1..RECORDS).collect::<Vec<_>>());

    // Deleted after the first page was read: the export does not end cleanly.
    let lost = store.create_import(imported("lost")).await.unwrap();
    fill(lost.id.clone(), 0, RECORDS).await;
    store
        .finish_import(&lost.id, RECORDS, 0, "generations")
        .await
        .unwrap();
    let mut export = Box::pin(store.history_stream(lost.id.clone()));
    assert_eq!(export.next().await.unwrap().unwrap().generation, 0);
    store.delete_job(&lost.id).await.unwrap();
    let mut delivered = 1;
    let error = loop {
        match export.next().await {
            Some(Ok(_)) => delivered += 1,
            Some(Err(e)) => break e,
            None => panic!("the export ended cleanly after {delivered} of {RECORDS} records"),
        }
    };
    assert!(delivered < RECORDS, "{delivered}");
    assert!(
        error
            .to_string()
            .contains(&format!("{delivered} of {RECORDS}")),
        "{error}"
    );
    assert!(export.next().await.is_none(), "nothing follows the error");
}

fn new_job(name: &str, priority: i32) -> NewJob {
    NewJob {
        payload: JobPayload::evolve(br#"{"envs": ["CartPole-v1"], "generations": 10}"#).unwrap(),
        name: name.into(),
        tags: vec!["t".into(), name.into()],
        priority,
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
        env_steps: 1 + generation,
        // Sums of quarters are exact in any order, so the store's sums match the reference's.
        timing: Timing {
            ask: 0.25,
            evaluate: 0.5 + (generation % 4) as f64,
            tell: 0.25,
            cpu: 1.0,
        },
    }
}

async fn jobs_are_claimed_by_priority_then_age_and_only_once(store: &Store) {
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

async fn an_expired_lease_is_taken_over_and_the_old_worker_is_fenced_off(store: &Store) {
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

/// A job that aborts its process is claimed again after every restart; each expired lease is
/// a crash, and the `MAX_CRASHES`th fails the job instead of re-queueing it.
async fn a_job_whose_worker_keeps_dying_is_failed_not_claimed_forever(store: &Store) {
    use sfnn::limits::worker::MAX_CRASHES;
    let job = store.create_job(new_job("poison", 0)).await.unwrap();
    for crash in 1..=MAX_CRASHES {
        let claim = store
            .claim_job("doomed", Duration::from_millis(1))
            .await
            .unwrap()
            .expect("the job is queued again until its last crash");
        assert_eq!(claim.job.id, job.id);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            store.requeue_expired().await.unwrap(),
            std::slice::from_ref(&job.id)
        );
        let after = store.get_job(&job.id).await.unwrap().unwrap();
        assert_eq!(after.crashes, crash);
        let expected = if crash < MAX_CRASHES {
            JobStatus::Queued
        } else {
            JobStatus::Failed
        };
        assert_eq!(after.status, expected);
    }
    let failed = store.get_job(&job.id).await.unwrap().unwrap();
    assert!(failed.error.unwrap().contains("died"));
    assert!(failed.finished_at.is_some());
    assert!(
        store
            .claim_job("next", Duration::from_secs(60))
            .await
            .unwrap()
            .is_none()
    );
}

/// A server killed now and then mid-job: each kill is a crash, but the job got further each
/// time, so the count starts afresh and the job is never failed for it.
async fn crashes_with_progress_between_them_never_fail_a_job(store: &Store) {
    use sfnn::limits::worker::MAX_CRASHES;
    let job = store.create_job(new_job("killed", 0)).await.unwrap();
    for (run, generation) in (0..u64::from(MAX_CRASHES) + 2).enumerate() {
        let claim = store
            .claim_job("w", Duration::from_millis(1))
            .await
            .unwrap()
            .expect("still queued");
        store
            .record_generation(
                &job.id,
                &claim.lease_token,
                &record(generation, 1.0, 1.0),
                &[],
                None,
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            store.requeue_expired().await.unwrap(),
            std::slice::from_ref(&job.id)
        );
        let after = store.get_job(&job.id).await.unwrap().unwrap();
        assert_eq!(
            (after.status, after.crashes),
            (JobStatus::Queued, 1),
            "run {run}"
        );
    }
    // Crashes without progress add up from there.
    for crash in 2..=MAX_CRASHES {
        store
            .claim_job("w", Duration::from_millis(1))
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        store.requeue_expired().await.unwrap();
        let after = store.get_job(&job.id).await.unwrap().unwrap();
        assert_eq!(after.crashes, crash);
    }
    let failed = store.get_job(&job.id).await.unwrap().unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
}

async fn a_caught_panic_requeues_then_fails_the_job(store: &Store) {
    use sfnn::limits::worker::MAX_CRASHES;
    let job = store.create_job(new_job("panics", 0)).await.unwrap();
    for crash in 1..=MAX_CRASHES {
        let claim = store
            .claim_job("w", Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        let status = store
            .record_crash(&job.id, &claim.lease_token, "boom")
            .await
            .unwrap();
        let expected = if crash < MAX_CRASHES {
            JobStatus::Queued
        } else {
            JobStatus::Failed
        };
        assert_eq!(status, expected);
        // The crashed run's token is fenced off like any lost lease.
        assert!(matches!(
            store
                .record_crash(&job.id, &claim.lease_token, "again")
                .await,
            Err(StoreError::LeaseLost)
        ));
    }
    let failed = store.get_job(&job.id).await.unwrap().unwrap();
    assert_eq!(failed.error.as_deref(), Some("boom"));
    assert_eq!((failed.crashes, failed.worker_id), (MAX_CRASHES, None));
}

async fn truncation_forgets_work_after_the_checkpoint(store: &Store) {
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
        topology: None,
    };
    // Each generation with one environment's returns (its own table), so re-recording a
    // forgotten generation would collide there if truncation kept it.
    let with_env = |g: u64, mean_return: f64| GenerationRecord {
        envs: vec![EnvStats {
            env: "CartPole-v1".into(),
            mean_return,
            best_return: mean_return + 1.0,
            mean_score: 0.5,
        }],
        env_steps: 1000 + g,
        timing: Timing {
            ask: 0.25,
            evaluate: 1.0,
            tell: 0.25,
            cpu: 2.0 + g as f64,
        },
        ..record(g, g as f64, g as f64)
    };
    for g in 0..6 {
        let checkpoint = (g == 2).then_some(&b"state"[..]);
        store
            .record_generation(
                &job.id,
                &claim.lease_token,
                &with_env(g, g as f64),
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
    // The compute account is the kept generations' (0, 1, 2), not the six that ran: the
    // forgotten ones will be recorded again, and counted once then.
    assert_eq!(
        (
            job.compute.cpu_seconds,
            job.compute.wall_seconds,
            job.compute.env_steps,
            job.compute.sfnn_steps
        ),
        (2.0 + 3.0 + 4.0, 4.5, 3003, 3003)
    );
    // The resumed run records generation 3 afresh; the chart shows its returns, not the old.
    store
        .record_generation(&job.id, &claim.lease_token, &with_env(3, 30.0), &[], None)
        .await
        .unwrap();
    let series = store::ChartSeries {
        envs: true,
        sigma: true,
    };
    let names = ["CartPole-v1".to_string()];
    let chart = store
        .history_chart(&job.id, 100, series, &names)
        .await
        .unwrap();
    let job = store.get_job(&job.id).await.unwrap().unwrap();
    assert_eq!(job.compute.cpu_seconds, 2.0 + 3.0 + 4.0 + 5.0);
    assert_eq!(job.compute.env_steps, 4006);
    let envs = chart.envs.unwrap();
    assert_eq!(envs[0].mean_return_max, [0.0, 1.0, 2.0, 30.0]);
    assert_eq!(envs[0].best_return_max, [1.0, 2.0, 3.0, 31.0]);
    assert_eq!(chart.sigma.unwrap().max.len(), 4);
}

async fn the_sql_chart_equals_the_reference_downsampling(store: &Store) {
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
        let sql = store
            .history_chart(&job.id, max_points, Default::default(), &[])
            .await
            .unwrap();
        assert_eq!(
            sql,
            chart::downsample(&points, max_points),
            "max_points {max_points}"
        );
        assert!(sql.generation.len() <= max_points);
    }
    let empty = store.create_job(new_job("empty", 0)).await.unwrap();
    let chart = store
        .history_chart(&empty.id, 10, Default::default(), &[])
        .await
        .unwrap();
    assert_eq!(chart.generations, 0);
    assert!(chart.generation.is_empty() && chart.best_so_far.generation.is_empty());
}

async fn cancel_resume_delete_and_pagination(store: &Store) {
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(
            store
                // j0 first in the queue, whatever the clock's resolution.
                .create_job(new_job(&format!("j{i}"), i32::from(i == 0)))
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
            topology: None,
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

async fn concurrent_claimers_never_share_a_job(store: &Store) {
    let jobs = 60;
    for i in 0..jobs {
        store
            .create_job(new_job(&format!("j{i}"), (i % 3) as i32))
            .await
            .unwrap();
    }
    let claimers: Vec<_> = (0..16)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut claimed = Vec::new();
                while let Some(claim) = store
                    .claim_job(&format!("w{w}"), Duration::from_secs(60))
                    .await
                    .unwrap()
                {
                    assert_eq!(claim.job.status, JobStatus::Running);
                    claimed.push(claim.job.id);
                }
                claimed
            })
        })
        .collect();
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    let claimed = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), claimed, "a job was claimed twice");
    assert_eq!(claimed, jobs);
    let running = store
        .list_jobs(
            &JobFilter {
                status: Some(JobStatus::Running),
                ..JobFilter::default()
            },
            100,
            None,
        )
        .await
        .unwrap();
    assert!(running.jobs.iter().all(|j| j.attempts == 1));
}

async fn a_heartbeat_extends_only_its_own_lease(store: &Store) {
    let job = store.create_job(new_job("j", 0)).await.unwrap();
    let claim = store
        .claim_job("w", Duration::from_millis(200))
        .await
        .unwrap()
        .unwrap();
    let first = claim.job.lease_expires_at.unwrap();
    assert!(first >= claim.job.updated_at + 200, "{:?}", claim.job);
    assert!(
        store
            .heartbeat(&job.id, &claim.lease_token, Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(
        !store
            .heartbeat(&job.id, "not-the-token", Duration::from_secs(600))
            .await
            .unwrap()
    );
    let extended = store.get_job(&job.id).await.unwrap().unwrap();
    let expires = extended.lease_expires_at.unwrap();
    assert!(
        expires >= first + 59_000 && expires < first + 61_000,
        "{expires} vs {first}"
    );
    // Still leased well past the first expiry: nothing to requeue.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(store.requeue_expired().await.unwrap().is_empty());
    assert_eq!(
        store
            .lease_state(&job.id, &claim.lease_token)
            .await
            .unwrap(),
        store::LeaseState::Held
    );
    store.request_cancel(&job.id).await.unwrap();
    assert_eq!(
        store
            .lease_state(&job.id, &claim.lease_token)
            .await
            .unwrap(),
        store::LeaseState::CancelRequested
    );
    assert_eq!(
        store.lease_state(&job.id, "other").await.unwrap(),
        store::LeaseState::Lost
    );
}

async fn floats_read_back_bit_for_bit_and_nan_like_sqlite(store: &Store) {
    let job = store.create_job(new_job("j", 0)).await.unwrap();
    let claim = store
        .claim_job("w", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let tiny = f64::from_bits(1); // the smallest subnormal
    let bests = [
        0.1 + 0.2,
        tiny,
        -1e308,
        f64::NAN,
        f64::INFINITY,
        1.0 / 3.0,
        f64::NEG_INFINITY,
    ];
    let mut best_so_far = f64::NEG_INFINITY;
    for (g, best) in bests.iter().enumerate() {
        let improved = *best > best_so_far;
        if improved {
            best_so_far = *best;
        }
        store
            .record_generation(
                &job.id,
                &claim.lease_token,
                &record_with(g as u64, *best, best_so_far, improved),
                &[],
                None,
            )
            .await
            .unwrap();
    }
    let points = store.history_points(&job.id).await.unwrap();
    // Bit for bit, except that NaN is stored as NULL (SQLite does so by itself) and reads back
    // as the one canonical NaN.
    let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    for (p, best) in points.iter().zip(bests) {
        assert!(
            same(p.best, best),
            "generation {}: {} vs {best}",
            p.generation,
            p.best
        );
        assert!(
            same(p.worst, -best),
            "generation {}: {}",
            p.generation,
            p.worst
        );
    }
    assert!(points[3].best.is_nan());
    // The job's best fitness is the last finite best-so-far; infinities are not stored there.
    let stored = store.get_job(&job.id).await.unwrap().unwrap();
    assert_eq!(stored.best_fitness, None);
    // NaN != NaN, so compare as JSON (where NaN is null).
    let json = |c: &chart::Chart| serde_json::to_value(c).unwrap();
    for max_points in [1, 2, 3, 7] {
        assert_eq!(
            json(
                &store
                    .history_chart(&job.id, max_points, Default::default(), &[])
                    .await
                    .unwrap()
            ),
            json(&chart::downsample(&points, max_points)),
            "max_points {max_points}"
        );
    }
    let history = store.history_page(&job.id, None, -1).await.unwrap();
    assert_eq!(history.len(), bests.len());
    assert_eq!(history[1].fitness.best.to_bits(), tiny.to_bits());
    assert_eq!(history[0].fitness.best, 0.1 + 0.2);
    let genome = store
        .insert_genome(&NewGenome {
            job_id: Some(job.id.clone()),
            generation: Some(0),
            kind: GenomeKind::GenerationBest,
            fitness: Some(1.0 / 3.0),
            model: ModelConfig::default(),
            values: vec![f32::from_bits(1), -0.0, f32::MAX, 0.1],
            name: Some("n".into()),
            topology: None,
        })
        .await
        .unwrap();
    assert_eq!(genome.fitness, Some(1.0 / 3.0));
    assert_eq!(genome.param_count, 4);
    let values = store.genome_values(&genome.id).await.unwrap().unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&values),
        bits(&[f32::from_bits(1), -0.0, f32::MAX, 0.1])
    );
}

/// The next notice the store announces, within 10 s.
async fn next_notice(events: &mut store::NoticeStream) -> Notice {
    use futures_util::StreamExt;
    tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("no notice within 10 s")
        .expect("the listener ended")
        .unwrap()
}

/// A notice in words: what a listener on any process learns from it.
fn said(notice: &Notice) -> String {
    match notice {
        Notice::Generation { generation, .. } => format!("generation {generation}"),
        Notice::Job {
            job: Some(job),
            deleted,
            ..
        } => format!(
            "{}{} {} {}",
            if *deleted { "deleted " } else { "" },
            job.name,
            job.status.as_str(),
            job.executor.as_deref().unwrap_or("-")
        ),
        Notice::Job {
            job_id, job: None, ..
        } => format!("job {job_id} by id"),
    }
}

/// Each write that changes a job or records a generation announces it in its own transaction,
/// once, in commit order; a write fenced off by a lost lease announces nothing. Within one
/// process (SQLite) a notice carries what changed whole; between processes (PostgreSQL) a
/// generation travels by index.
async fn every_write_to_a_job_announces_it_once_on_commit(store: &Store) {
    let mut notices = store.listen().await.unwrap();
    let job = store.create_job(new_job("j", 0)).await.unwrap();
    let claim = store
        .claim_job("w", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let token = &claim.lease_token;
    let placement = RunPlacement {
        executor: "cpu",
        device: "test",
        machine: "test",
        reason: "test",
    };
    store
        .set_executor(&job.id, token, &placement)
        .await
        .unwrap();
    let first = record(0, 1.0, 1.0);
    store
        .record_generation(&job.id, token, &first, &[], None)
        .await
        .unwrap();
    let stale = store
        .record_generation(&job.id, "stale", &record(1, 2.0, 2.0), &[], None)
        .await;
    assert!(matches!(stale, Err(StoreError::LeaseLost)));
    assert!(matches!(
        store.release_job(&job.id, "stale").await,
        Err(StoreError::LeaseLost)
    ));
    store
        .finish_job(
            &job.id,
            token,
            JobStatus::Succeeded,
            None,
            Some("generations"),
        )
        .await
        .unwrap();
    store.delete_job(&job.id).await.unwrap();

    let mut heard = Vec::new();
    for _ in 0..6 {
        heard.push(next_notice(&mut notices).await);
    }
    let words: Vec<String> = heard.iter().map(said).collect();
    assert_eq!(
        words,
        [
            "j queued -",
            "j running -",
            "j running cpu",
            "generation 0",
            "j succeeded cpu",
            "deleted j succeeded cpu",
        ],
        "created, claimed, placed, a generation, finished, deleted (its last state)"
    );
    match &heard[3] {
        Notice::Generation { job_id, record, .. } => {
            assert_eq!(job_id, &job.id);
            match store.backend() {
                "sqlite" => assert_eq!(record.as_deref(), Some(&first)),
                _ => assert!(record.is_none(), "the record stays in the store"),
            }
        }
        other => panic!("{other:?}"),
    }
    // Nothing else was announced: the next notice is the next write's.
    let marker = store.create_job(new_job("marker", 0)).await.unwrap();
    assert_eq!(said(&next_notice(&mut notices).await), "marker queued -");
    store.delete_job(&marker.id).await.unwrap();
}

/// Notices written through one store reach a listener opened by another store on the same
/// schema (as on another machine), on commit; a job too large for a notification goes by id.
#[tokio::test]
async fn postgres_notices_reach_listeners_on_other_connections() {
    let Some(db) = common::db::TestDatabase::postgres().await else {
        eprintln!("SKIP: {} is not set", common::db::PG_URL_VAR);
        return;
    };
    let sender = db.open().await;
    let receiver = db.open().await;
    let mut events = receiver.listen().await.unwrap();
    let job = sender.create_job(new_job("j", 0)).await.unwrap();
    assert_eq!(said(&next_notice(&mut events).await), "j queued -");
    let long = "x".repeat(store::MAX_NOTIFY_PAYLOAD);
    let update = JobUpdate {
        notes: Some(long),
        ..JobUpdate::default()
    };
    sender.update_job(&job.id, &update).await.unwrap();
    assert_eq!(
        said(&next_notice(&mut events).await),
        format!("job {} by id", job.id)
    );
}

/// A write fenced off by a lost lease ends its transaction at once. A transaction that is only
/// dropped keeps its locks until its pooled connection is next used: a migration, or a test
/// schema's drop, then waits on them (that hung this suite once).
#[tokio::test]
async fn a_fenced_off_write_holds_no_locks() {
    use sqlx::Connection;
    let Some(db) = common::db::TestDatabase::postgres().await else {
        eprintln!("SKIP: {} is not set", common::db::PG_URL_VAR);
        return;
    };
    let store = db.open().await;
    let job = store.create_job(new_job("j", 0)).await.unwrap();
    store
        .claim_job("w", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let stale = store
        .record_generation(&job.id, "stale", &record(0, 1.0, 1.0), &[], None)
        .await;
    assert!(matches!(stale, Err(StoreError::LeaseLost)));
    let stale = store
        .finish_job(&job.id, "stale", JobStatus::Failed, None, None)
        .await;
    assert!(matches!(stale, Err(StoreError::LeaseLost)));
    // Another connection takes every lock on the table, from a thread of its own while this
    // runtime waits for it (as a test schema's drop does): a rollback left for the pool to
    // send could not be sent meanwhile.
    let url = db.url.clone();
    let locked = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut conn = sqlx::PgConnection::connect(&url).await?;
            let mut tx = conn.begin().await?;
            sqlx::raw_sql("set local lock_timeout = '2s'; lock table job in access exclusive mode")
                .execute(&mut *tx)
                .await?;
            tx.rollback().await
        })
    })
    .join()
    .unwrap();
    if let Err(e) = locked {
        panic!("a lock of the fenced-off writes is still held: {e}");
    }
}

/// The schema named in the URL's `options` is the one used: what a separate `sfnn serve
/// --database <url>` process relies on.
#[tokio::test]
async fn postgres_urls_choose_their_schema() {
    let Some(db) = common::db::TestDatabase::postgres().await else {
        eprintln!("SKIP: {} is not set", common::db::PG_URL_VAR);
        return;
    };
    let schema = db.schema.clone().unwrap();
    assert!(db.url.contains("options=-c%20search_path%3D"), "{}", db.url);
    let Store::Postgres(pg) = db.open().await else {
        panic!("{} did not open PostgreSQL", db.url);
    };
    assert_eq!(pg.channel(), format!("{}_{schema}", store::EVENTS_CHANNEL));
    // A second database in another schema of the same server sees none of the first's jobs.
    let other = common::db::TestDatabase::postgres().await.unwrap();
    let first = Store::Postgres(pg);
    first.create_job(new_job("j", 0)).await.unwrap();
    let second = other.open().await;
    assert_eq!(
        second
            .list_jobs(&JobFilter::default(), 10, None)
            .await
            .unwrap()
            .jobs
            .len(),
        0
    );
    assert_eq!(
        first
            .list_jobs(&JobFilter::default(), 10, None)
            .await
            .unwrap()
            .jobs
            .len(),
        1
    );
}

#[tokio::test]
async fn an_unreachable_postgres_fails_at_once_with_its_cause() {
    // Port 1 on loopback: nothing listens there.
    let started = std::time::Instant::now();
    let result = store::open("postgres://postgres@127.0.0.1:1/test").await;
    // A database that cannot be reached is unavailable (503 in the API), with its cause.
    let Err(StoreError::Unavailable(e)) = result else {
        panic!("{result:?}");
    };
    assert!(e.to_lowercase().contains("refused"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
