//! What the benchmarks share.

#![allow(dead_code)] // each bench uses its part

use sfnn::evolution::run::{EnvStats, FitnessStats, Timing};
use sfnn::evolution::{GenerationRecord, JobPayload};
use sfnn::store::{JobStatus, NewJob, Store};
use std::time::Duration;

/// A plausible generation record of the paper configuration, varying with `generation`.
pub fn record(generation: u64) -> GenerationRecord {
    let x = generation as f64;
    GenerationRecord {
        generation,
        fitness: FitnessStats {
            best: (x * 0.37).sin().abs(),
            mean: (x * 0.11).sin().abs() * 0.5,
            worst: 0.0,
            std: 0.1,
            q25: 0.1,
            median: 0.2,
            q75: 0.3,
        },
        // Best so far rises every 97 generations, as `improved` says.
        best_so_far: 1.0 - 1.0 / (1.0 + (generation / 97) as f64),
        improved: generation.is_multiple_of(97),
        envs: ["CartPole-v1", "Acrobot-v1", "MountainCar-v0"]
            .iter()
            .map(|e| EnvStats {
                env: e.to_string(),
                mean_return: -x,
                best_return: x,
                mean_score: 0.5,
            })
            .collect(),
        sigma: 0.5,
        telemetry: vec![("axis_ratio".into(), 3.0)],
        env_steps: 1_228_800,
        timing: Timing {
            ask: 0.01,
            evaluate: 8.0,
            tell: 0.1,
            cpu: 16.2,
        },
    }
}

/// A finished job with `generations` synthetic records, written straight into the store.
pub async fn synthetic_job(store: &Store, generations: u64) -> String {
    let job = store
        .create_job(NewJob {
            payload: JobPayload::evolve(
                format!(
                    r#"{{"envs": ["CartPole-v1", "Acrobot-v1", "MountainCar-v0"], "generations": {generations}}}"#
                )
                .as_bytes(),
            )
            .unwrap(),
            name: format!("synthetic {generations}"),
            tags: vec!["bench".into()],
            priority: 1000,
        })
        .await
        .unwrap();
    let claim = store
        .claim_job("bench-filler", Duration::from_secs(3600))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claim.job.id, job.id);
    for g in 0..generations {
        store
            .record_generation(&job.id, &claim.lease_token, &record(g), &[], None)
            .await
            .unwrap();
    }
    store
        .finish_job(
            &job.id,
            &claim.lease_token,
            JobStatus::Succeeded,
            None,
            None,
        )
        .await
        .unwrap();
    job.id
}

/// Makes `command`'s process start with `fds` as its soft and hard `RLIMIT_NOFILE`, as a
/// machine with that descriptor limit would run it.
pub fn limit_open_files(command: &mut std::process::Command, fds: u64) {
    use std::os::unix::process::CommandExt;
    let limit = libc::rlimit {
        rlim_cur: fds,
        rlim_max: fds,
    };
    // SAFETY: setrlimit is async-signal-safe and only reads `limit`, a copy owned by the closure.
    unsafe {
        command.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}
