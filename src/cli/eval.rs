//! `sfnn eval <genome> --env NAME`: how a stored genome does on an environment, episode by
//! episode, over fresh random wirings: an evaluation job's spec, limits and code path
//! ([`crate::evolution::evaluation`]), run locally.

use crate::envs;
use crate::evolution::JobPayload;
use crate::evolution::evaluation::{EvaluationSpec, EvaluationVariant, evaluate_genome};
use crate::exec::{self, EpisodeMode, ExecutorChoice, Protocol, trace};
use crate::limits::FieldError;
use crate::limits::spec::MAX_EVAL_SEEDS;
use crate::model::GenomeFile;
use anyhow::{Context, Result, anyhow};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Genome file (JSON or safetensors, as written by `sfnn run` or the API).
    genome: PathBuf,
    /// Environment name, e.g. CartPole-v1; repeat the flag for several (`--trace` takes the
    /// first).
    #[arg(long, required = true)]
    env: Vec<String>,
    /// Episodes per lifetime (network state carried across them).
    #[arg(long, default_value_t = 8)]
    episodes: usize,
    /// Independent lifetimes, each with a fresh wiring (seeds `--seed`, `--seed + 1`, ...).
    #[arg(long, default_value_t = 1)]
    lifetimes: usize,
    /// Seed of the first lifetime's wiring, synapse states and resets.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// `fixed_horizon` (reference) or `stop_on_done`.
    #[arg(long, default_value = "fixed_horizon", value_parser = ["fixed_horizon", "stop_on_done"])]
    mode: String,
    /// CPU threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Also write the first lifetime (seed `--seed`) step by step to this JSON file: wiring,
    /// synapse initial states, observations, actions, action-node outputs and rewards (see
    /// docs/genomes.md, "Traces"). At most `limits::trace::MAX_STEPS` steps.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Meta-test: run the genome in networks of N nodes instead of its model's.
    #[arg(long, value_name = "N")]
    nodes: Option<usize>,
    /// Meta-test: feed each observation in a fixed random order drawn from this seed.
    #[arg(long, value_name = "SEED")]
    permute_inputs: Option<u64>,
    /// Meta-test: add K input nodes, wired like the real ones, reading noise (or
    /// `--extra-input-value`).
    #[arg(long, value_name = "K", default_value_t = 0)]
    extra_inputs: usize,
    /// The constant the extra inputs read (default: standard normal noise, fresh every step).
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    extra_input_value: Option<f64>,
    /// Also write the whole result (every lifetime's episode returns, the variant) as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

pub fn eval(args: EvalArgs) -> Result<()> {
    let genome = GenomeFile::load(&args.genome)?;
    let mode: EpisodeMode = serde_json::from_value(args.mode.clone().into())?;
    // At most one seed past the limit is drawn, so validation names `--lifetimes` without
    // allocating what it asked for; `--lifetimes 0` gives no seeds and fails validation.
    let seeds = (0..args.lifetimes.min(MAX_EVAL_SEEDS + 1) as u64)
        .map(|k| args.seed.checked_add(k))
        .collect::<Option<Vec<u64>>>()
        .ok_or_else(|| anyhow!("--seed + --lifetimes overflows a 64-bit seed"))?;
    // The same spec, limits and seeds as an evaluation job on the server: lifetime k uses seed
    // `--seed + k`, so `--seed 0 --lifetimes 4` reproduces `"seeds": [0, 1, 2, 3]`.
    let spec = EvaluationSpec {
        genome_id: args
            .genome
            .display()
            .to_string()
            .chars()
            .take(128)
            .collect(),
        envs: args.env.clone(),
        episodes: args.episodes,
        seeds,
        episode_mode: mode,
        // The wiring of the job that evolved the genome, where its file says.
        topology: genome.topology.unwrap_or_default(),
        variant: EvaluationVariant {
            nodes: args.nodes,
            permute_inputs: args.permute_inputs,
            extra_inputs: args.extra_inputs,
            extra_input_value: args.extra_input_value,
        },
    };
    let invalid = |e: FieldError| {
        let flag = match e.field.as_str() {
            field if field == "envs" || field.starts_with("envs[") => "--env",
            "episodes" => "--episodes",
            "seeds" => "--lifetimes",
            "variant.nodes" => "--nodes",
            "variant.extra_inputs" => "--extra-inputs",
            "variant.extra_input_value" => "--extra-input-value",
            _ => "the genome",
        };
        anyhow!("{flag}: {}", e.message)
    };
    let JobPayload::Evaluate(spec) = JobPayload::evaluate(spec, &genome.model).map_err(invalid)?
    else {
        unreachable!("an evaluation payload")
    };
    if let Some(path) = &args.trace {
        if !spec.variant.is_reference() {
            anyhow::bail!("--trace: traces are of the genome's own structure; drop the variant");
        }
        write_trace(path, &spec, &genome)?;
    }
    let executor = exec::select(ExecutorChoice::Cpu, args.threads)?;
    let result = evaluate_genome(&spec, genome.model, &genome.values, executor.as_ref())
        .context("evaluating")?;

    if let Some(path) = &args.json {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        serde_json::to_writer_pretty(std::io::BufWriter::new(file), &result)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if !spec.variant.is_reference() {
        eprintln!(
            "variant: {} nodes{}{}",
            result.nodes,
            spec.variant
                .permute_inputs
                .map_or(String::new(), |s| format!(", inputs permuted (seed {s})")),
            match (spec.variant.extra_inputs, spec.variant.extra_input_value) {
                (0, _) => String::new(),
                (k, Some(x)) => format!(", {k} extra inputs reading {x}"),
                (k, None) => format!(", {k} extra inputs reading noise"),
            }
        );
    }
    println!("seed\tepisode returns\tweighted return\tnormalised score\tenv");
    for env in &result.envs {
        if let Some(order) = &env.input_order {
            eprintln!("{}: input node i reads observation {order:?}[i]", env.env);
        }
        for lifetime in &env.lifetimes {
            let list: Vec<String> = lifetime
                .episode_returns
                .iter()
                .map(|r| format!("{r}"))
                .collect();
            println!(
                "{}\t{}\t{:.4}\t{:.6}\t{}",
                lifetime.seed,
                list.join(" "),
                lifetime.weighted_return,
                lifetime.score,
                env.env,
            );
        }
    }
    for env in &result.envs {
        let weighted: Vec<f64> = env.lifetimes.iter().map(|l| l.weighted_return).collect();
        let n = weighted.len() as f64;
        let std = (weighted
            .iter()
            .map(|w| (w - env.mean_weighted_return).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        eprintln!(
            "{}: weighted return {:.4} ± {std:.4} (mean ± std over {} lifetimes), score {:.6}",
            env.env,
            env.mean_weighted_return,
            weighted.len(),
            env.mean_score
        );
    }
    Ok(())
}

/// Traces the spec's first lifetime: the same draws as the evaluation's first seed.
fn write_trace(path: &std::path::Path, spec: &EvaluationSpec, genome: &GenomeFile) -> Result<()> {
    let info = envs::info(&spec.envs[0]).expect("a validated environment");
    trace::check_size(info, spec.episodes).map_err(|e| anyhow!("--trace: {}", e.message))?;
    let protocol = Protocol {
        episodes: spec.episodes,
        mode: spec.episode_mode,
    };
    let input =
        trace::evaluation_lifetime(&genome.model, &spec.topology, info, protocol, spec.seeds[0]);
    let (traced, _) = trace::trace_lifetime(
        &genome.values,
        &genome.model,
        info,
        &input,
        protocol,
        spec.seeds[0],
        None,
    );
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    serde_json::to_writer(std::io::BufWriter::new(file), &traced)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
