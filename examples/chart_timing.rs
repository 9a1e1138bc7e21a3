use sfnn::store::{self, JobKind, NewJob};
use std::time::{Duration, Instant};
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(&dir.path().join("a.db").display().to_string())
        .await
        .unwrap();
    let job = store
        .create_job(NewJob {
            kind: JobKind::Evolve,
            name: "x".into(),
            tags: vec![],
            spec: serde_json::json!({}),
            priority: 0,
            generations: 10000,
        })
        .await
        .unwrap();
    let c = store
        .claim_job("w", Duration::from_secs(999))
        .await
        .unwrap()
        .unwrap();
    let mut r: sfnn::evolution::GenerationRecord = serde_json::from_str(r#"{"generation":0,"fitness":{"best":1,"mean":1,"worst":1,"std":0,"q25":0,"median":0,"q75":0},"best_so_far":1,"improved":false,"envs":[],"sigma":1,"telemetry":[],"env_steps":1,"timing":{"ask":0,"evaluate":0,"tell":0}}"#).unwrap();
    for g in 0..10000 {
        r.generation = g;
        r.fitness.best = (g as f64 * 0.3).sin();
        r.best_so_far = (g / 97) as f64; r.improved = g % 97 == 0;
        store
            .record_generation(&job.id, &c.lease_token, &r, &[], None)
            .await
            .unwrap();
    }
    let pool = sqlx::sqlite::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("a.db").display()
    ))
    .await
    .unwrap();
    for q in [
        "select count(*) from generation where job_id = ?",
        "select min(generation), min(best), max(best), min(mean), max(mean), min(worst), max(worst) from generation where job_id = ?1 group by generation / 10 order by 1",
        "select generation, best_so_far from (select generation, best_so_far, lag(best_so_far) over (order by generation) as previous, row_number() over (order by generation) as n, count(*) over () as total from generation where job_id = ?) where n = 1 or n = total or best_so_far is not previous order by generation",
        "select generation, best, mean, worst, best_so_far from generation where job_id = ? order by generation",
    ] {
        for _ in 0..2 {
            let t = Instant::now();
            let rows = sqlx::query(q).bind(&job.id).fetch_all(&pool).await.unwrap();
            println!(
                "{:>8.2?} {:>6} rows  {}",
                t.elapsed(),
                rows.len(),
                &q[..q.len().min(60)]
            );
        }
    }
    for _ in 0..3 {
        let t = Instant::now();
        let ch = store.history_chart(&job.id, 1000).await.unwrap();
        let a = t.elapsed();
        let t = Instant::now();
        let p = store.history_points(&job.id).await.unwrap();
        let d = store::chart::downsample(&p, 1000);
        let b = t.elapsed();
        let t = Instant::now();
        let _ = serde_json::to_string(&d).unwrap();
        let c2 = t.elapsed();
        println!(
            "sql {:?} points+downsample {:?} json {:?} equal {}",
            a,
            b,
            c2,
            ch == d
        );
    }
}
#[allow(dead_code)]
fn unused() {}
