//! The generation history as CSV: one row per generation, per-environment columns prefixed by
//! the environment's name.

use super::GenerationRecord;

/// The header line (with its newline) for a job over `envs`.
pub fn header(envs: &[String]) -> String {
    let mut out = String::from(
        "generation,best,mean,worst,std,q25,median,q75,best_so_far,sigma,env_steps,ask_s,evaluate_s,tell_s,cpu_s",
    );
    for e in envs {
        out.push_str(&format!(",{e}_mean_return,{e}_best_return,{e}_mean_score"));
    }
    out.push('\n');
    out
}

/// One record as a CSV line (with its newline). Non-finite values are written as `NaN`/`inf`.
pub fn row(r: &GenerationRecord) -> String {
    let f = &r.fitness;
    let mut out = format!(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
        r.generation,
        f.best,
        f.mean,
        f.worst,
        f.std,
        f.q25,
        f.median,
        f.q75,
        r.best_so_far,
        r.sigma,
        r.env_steps,
        r.timing.ask,
        r.timing.evaluate,
        r.timing.tell,
        r.timing.cpu
    );
    for env in &r.envs {
        out.push_str(&format!(
            ",{},{},{}",
            env.mean_return, env.best_return, env.mean_score
        ));
    }
    out.push('\n');
    out
}

/// A whole history as CSV.
pub fn table(records: &[GenerationRecord]) -> String {
    let envs: Vec<String> = records
        .first()
        .map(|r| r.envs.iter().map(|e| e.env.clone()).collect())
        .unwrap_or_default();
    let mut out = header(&envs);
    for r in records {
        out.push_str(&row(r));
    }
    out
}
