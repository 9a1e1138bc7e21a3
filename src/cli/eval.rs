//! `sfnn eval <genome> --env NAME`: how a stored genome does on an environment, episode by
//! episode, over fresh random wirings.

use crate::envs;
use crate::evolution::{LifetimeConfig, ReturnBounds};
use crate::exec::{self, EpisodeMode, EvalRequest, ExecutorChoice, Protocol, Sampler};
use crate::model::{GenomeFile, Topology};
use anyhow::{Context, Result, anyhow};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Genome file (JSON or safetensors, as written by `sfnn run` or the API).
    genome: PathBuf,
    /// Environment name, e.g. CartPole-v1.
    #[arg(long)]
    env: String,
    /// Episodes per lifetime (network state carried across them).
    #[arg(long, default_value_t = 8)]
    episodes: usize,
    /// Independent lifetimes, each with a fresh wiring.
    #[arg(long, default_value_t = 1)]
    lifetimes: usize,
    /// Seed of the wirings, synapse states and resets.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// `fixed_horizon` (reference) or `stop_on_done`.
    #[arg(long, default_value = "fixed_horizon", value_parser = ["fixed_horizon", "stop_on_done"])]
    mode: String,
    /// CPU threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

pub fn eval(args: EvalArgs) -> Result<()> {
    let genome = GenomeFile::load(&args.genome)?;
    let info = envs::info(&args.env).ok_or_else(|| {
        anyhow!(
            "unknown environment {:?}; allowed: {}",
            args.env,
            envs::names().join(", ")
        )
    })?;
    if !(1..=1000).contains(&args.episodes) || !(1..=10_000).contains(&args.lifetimes) {
        return Err(anyhow!(
            "--episodes must be 1..=1000 and --lifetimes 1..=10000"
        ));
    }
    let mode: EpisodeMode = serde_json::from_value(args.mode.clone().into())?;
    let protocol = Protocol {
        episodes: args.episodes,
        mode,
    };
    let env_list = [info];
    let sampler = Sampler {
        model: &genome.model,
        topology: &Topology::default(),
        envs: &env_list,
        protocol,
        repeats: args.lifetimes,
        seed: args.seed,
    };
    let lifetimes = sampler.generation(0, 1);
    let executor = exec::select(ExecutorChoice::Cpu, args.threads)?;
    let output = executor
        .evaluate(&EvalRequest {
            model: genome.model,
            envs: &env_list,
            protocol,
            genomes: &genome.values,
            repeats: args.lifetimes,
            lifetimes: &lifetimes,
        })
        .context("evaluating")?;

    let lifetime = LifetimeConfig {
        episodes: args.episodes,
        episode_mode: mode,
        ..LifetimeConfig::default()
    };
    let bounds = [ReturnBounds {
        min: info.return_min,
        max: info.return_max,
    }];
    println!("lifetime\tepisode returns\tweighted return\tnormalised score");
    for (i, returns) in output.returns.chunks_exact(args.episodes).enumerate() {
        let score = lifetime.score(&bounds, returns);
        let list: Vec<String> = returns.iter().map(|r| format!("{r}")).collect();
        println!(
            "{i}\t{}\t{:.4}\t{:.6}",
            list.join(" "),
            score.env_returns[0],
            score.env_scores[0]
        );
    }
    Ok(())
}
