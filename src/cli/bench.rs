//! `sfnn bench`: executor throughput on the paper configuration (DESIGN.md §6).
//!
//! Figures are printed as ratios against baselines measured in the same run where possible
//! (one thread vs all threads), and against the reference JAX code's time per genome-lifetime,
//! which is given (`--reference-seconds`) rather than measured here. Its default is a measurement
//! (issue #10): the reference code ran a paper-config generation (popsize 128, CartPole, Acrobot,
//! MountainCar, 8 episodes each) in 122.4 s on the 2-core development machine, side by side with
//! this benchmark — 0.956 s per genome-lifetime, 10.0 k SFNN steps/s.

use crate::envs::{self, EnvInfo};
use crate::exec::{self, EvalRequest, ExecutorChoice, Protocol, Sampler};
use crate::exec::{CpuExecutor, EpisodeMode, Executor, LifetimeInput};
use crate::model::{GenomeLayout, ModelConfig, Topology};
use anyhow::{Result, anyhow};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

/// The reference JAX code's measured time per genome-lifetime at popsize 128 on the 2-core
/// development machine (122.4 s per paper-config generation / 128 genomes; issue #10).
pub const REFERENCE_SECONDS_PER_LIFETIME: f64 = 0.956;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Genomes per generation (paper: 128); a comma-separated list benchmarks each size.
    #[arg(long, value_delimiter = ',', default_value = "128")]
    popsize: Vec<usize>,
    /// Environments, comma-separated (paper: CartPole-v1,Acrobot-v1,MountainCar-v0).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "CartPole-v1,Acrobot-v1,MountainCar-v0"
    )]
    envs: Vec<String>,
    /// Timed generations (the fastest is reported, the others show the spread).
    #[arg(long, default_value_t = 2)]
    generations: usize,
    /// CPU threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// `cpu`, `cuda` or `auto`.
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "cuda", "auto"])]
    executor: String,
    /// Seconds the reference JAX code needs per genome-lifetime. The default was measured (issue
    /// #10): one paper-config generation (popsize 128, three environments) took the reference
    /// 122.4 s on the 2-core development machine = 0.956 s per genome-lifetime, 10.0 k SFNN
    /// steps/s. On another machine, time the reference there and pass its figure.
    #[arg(long, default_value_t = REFERENCE_SECONDS_PER_LIFETIME)]
    reference_seconds: f64,
    /// With a non-CPU executor, the CPU executor is timed on the same inputs for comparison, on
    /// at most this many members (larger populations are extrapolated from them).
    #[arg(long, default_value_t = 128)]
    cpu_members: usize,
    /// Also write the results as JSON here (one object per population size).
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Report {
    executor: String,
    device: String,
    popsize: usize,
    envs: Vec<String>,
    steps_per_generation: u64,
    single_thread_steps_per_second: f64,
    sampling_seconds: f64,
    generation_seconds: Vec<f64>,
    steps_per_second: f64,
    seconds_per_genome_lifetime: f64,
    speedup_vs_reference: f64,
    model_gflops: f64,
    /// The device's fp32 peak (null where the executor cannot tell).
    peak_gflops: Option<f64>,
    fraction_of_peak: Option<f64>,
    /// The CPU executor on the same inputs (only with a non-CPU executor): seconds per
    /// generation, measured on `cpu_members` members and scaled by lifetimes when that is fewer
    /// than `popsize`.
    cpu_generation_seconds: Option<f64>,
    cpu_members: Option<usize>,
    /// Whether the executor's returns equal the CPU executor's bit for bit on those members.
    returns_identical_to_cpu: Option<bool>,
}

pub fn bench(args: BenchArgs) -> Result<()> {
    let choice: ExecutorChoice = serde_json::from_value(args.executor.clone().into())?;
    let env_infos: Vec<&'static EnvInfo> = args
        .envs
        .iter()
        .map(|name| {
            envs::info(name).ok_or_else(|| {
                anyhow!(
                    "unknown environment {name:?}; allowed: {}",
                    envs::names().join(", ")
                )
            })
        })
        .collect::<Result<_>>()?;
    if args.popsize.is_empty() || args.popsize.contains(&0) {
        return Err(anyhow!("--popsize needs positive sizes"));
    }
    let executor = exec::select(choice, args.threads)?;
    let model = ModelConfig::default();
    let layout = GenomeLayout::new(model);
    let protocol = Protocol {
        episodes: 8,
        mode: EpisodeMode::FixedHorizon,
    };
    let topology = Topology::default();
    let sampler = Sampler {
        model: &model,
        topology: &topology,
        envs: &env_infos,
        protocol,
        repeats: 1,
        seed: 7,
    };
    let largest = args.popsize.iter().copied().max().unwrap_or(1).max(4);
    // Generation-0 CMA-ES samples: N(0, 1) in every parameter.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let genomes: Vec<f32> = (0..largest * layout.len())
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();

    println!("executor: {} — {}", executor.name(), executor.device());
    let single = single_thread_rate(&sampler, &genomes[..4 * layout.len()])?;
    println!("one thread: {single:.0} SFNN steps/s");
    let cpu = (executor.name() != "cpu")
        .then(|| CpuExecutor::new(args.threads))
        .transpose()?;

    let mut reports = Vec::new();
    for &popsize in &args.popsize {
        let setup = Setup {
            args: &args,
            sampler: &sampler,
            genomes: &genomes[..popsize * layout.len()],
            popsize,
            single,
        };
        reports.push(bench_population(&setup, executor.as_ref(), cpu.as_ref())?);
    }
    if let Some(path) = &args.json {
        let text = match reports.as_slice() {
            [one] => serde_json::to_string_pretty(one)?,
            all => serde_json::to_string_pretty(all)?,
        };
        std::fs::write(path, text)?;
    }
    Ok(())
}

struct Setup<'a> {
    args: &'a BenchArgs,
    sampler: &'a Sampler<'a>,
    genomes: &'a [f32],
    popsize: usize,
    single: f64,
}

/// Times one population size on `executor`, and on the CPU executor when that is another one.
fn bench_population(
    setup: &Setup,
    executor: &dyn Executor,
    cpu: Option<&CpuExecutor>,
) -> Result<Report> {
    let (args, sampler, popsize) = (setup.args, setup.sampler, setup.popsize);
    let model = *sampler.model;
    let env_infos = sampler.envs;
    let protocol = sampler.protocol;
    let params = GenomeLayout::new(model).len();
    let sampled = Instant::now();
    let lifetimes = sampler.generation(0, popsize);
    let sampling_seconds = sampled.elapsed().as_secs_f64();
    let request = EvalRequest {
        model,
        envs: env_infos,
        protocol,
        genomes: setup.genomes,
        repeats: 1,
        lifetimes: &lifetimes,
    };
    let mut times = Vec::new();
    let mut output = None;
    for _ in 0..args.generations.max(1) {
        let started = Instant::now();
        output = Some(executor.evaluate(&request)?);
        times.push(started.elapsed().as_secs_f64());
    }
    let output = output.expect("at least one generation");
    let steps = output.env_steps;
    let best = times.iter().copied().fold(f64::INFINITY, f64::min);
    let rate = steps as f64 / best;
    let per_lifetime = best / popsize as f64;
    let flops = model_flops(&model, env_infos, &lifetimes, protocol);
    let gflops = flops / best / 1e9;
    let peak = if executor.name() == "cpu" {
        let threads = match args.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        Some(cpu_peak_gflops(threads))
    } else {
        executor.peak_gflops()
    };

    // The CPU executor on the same inputs (the first `cpu_members` members of them).
    let (mut cpu_seconds, mut cpu_members, mut identical) = (None, None, None);
    if let Some(cpu) = cpu {
        let members = args.cpu_members.clamp(1, popsize);
        let per_member = env_infos.len();
        let sub = EvalRequest {
            genomes: &setup.genomes[..members * params],
            lifetimes: &lifetimes[..members * per_member],
            ..request
        };
        let started = Instant::now();
        let reference = cpu.evaluate(&sub)?;
        let seconds = started.elapsed().as_secs_f64() * popsize as f64 / members as f64;
        let same = reference
            .returns
            .iter()
            .zip(&output.returns)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        cpu_seconds = Some(seconds);
        cpu_members = Some(members);
        identical = Some(same);
    }

    let report = Report {
        executor: executor.name().into(),
        device: executor.device(),
        popsize,
        envs: args.envs.clone(),
        steps_per_generation: steps,
        single_thread_steps_per_second: setup.single,
        sampling_seconds,
        generation_seconds: times.clone(),
        steps_per_second: rate,
        seconds_per_genome_lifetime: per_lifetime,
        speedup_vs_reference: args.reference_seconds / per_lifetime,
        model_gflops: gflops,
        peak_gflops: peak,
        fraction_of_peak: peak.map(|p| gflops / p),
        cpu_generation_seconds: cpu_seconds,
        cpu_members,
        returns_identical_to_cpu: identical,
    };
    println!(
        "generation ({} genomes × {} envs, {} steps): {:.1} ms (runs: {} ms), sampling {:.3} s",
        popsize,
        env_infos.len(),
        steps,
        best * 1e3,
        times
            .iter()
            .map(|t| format!("{:.1}", t * 1e3))
            .collect::<Vec<_>>()
            .join(", "),
        sampling_seconds
    );
    #[cfg(feature = "cuda")]
    if executor.name() == "cuda" {
        let line = crate::exec::kernel_model::bench_line(model.msg_dims, popsize, &args.envs, best);
        println!("  {line}");
    }
    println!(
        "  {rate:.0} SFNN steps/s; {per_lifetime:.6} s per genome-lifetime = {:.1}× the reference \
         JAX code ({} s per genome-lifetime{})",
        report.speedup_vs_reference,
        args.reference_seconds,
        if args.reference_seconds == REFERENCE_SECONDS_PER_LIFETIME {
            ", measured at popsize 128 on the 2-core development machine"
        } else {
            ", as given"
        }
    );
    match peak {
        Some(peak) => println!(
            "  model arithmetic: {gflops:.1} GFLOP/s = {:.2}% of the {peak:.0} GFLOP/s fp32 peak",
            100.0 * gflops / peak
        ),
        None => println!("  model arithmetic: {gflops:.1} GFLOP/s (fp32 peak unknown)"),
    }
    if let (Some(seconds), Some(members), Some(same)) = (cpu_seconds, cpu_members, identical) {
        let how = if members < popsize {
            format!("extrapolated from {members} of {popsize} members")
        } else {
            "measured".to_string()
        };
        println!(
            "  CPU executor, same inputs: {:.1} ms per generation ({how}) = {:.1}× slower; \
             returns {} on {members} members",
            seconds * 1e3,
            seconds / best,
            if same {
                "identical bit for bit"
            } else {
                "DIFFER"
            }
        );
    }
    Ok(report)
}

/// SFNN steps per second of one thread running single lifetimes of the first environment.
fn single_thread_rate(sampler: &Sampler, genomes: &[f32]) -> Result<f64> {
    let one = CpuExecutor::new(1)?;
    let first = [sampler.envs[0]];
    let sub = Sampler {
        envs: &first,
        ..*sampler
    };
    let members = genomes.len() / GenomeLayout::new(*sampler.model).len();
    let lifetimes = sub.generation(1, members);
    let started = Instant::now();
    let out = one.evaluate(&EvalRequest {
        model: *sampler.model,
        envs: &first,
        protocol: sampler.protocol,
        genomes,
        repeats: 1,
        lifetimes: &lifetimes,
    })?;
    Ok(out.env_steps as f64 / started.elapsed().as_secs_f64())
}

/// Floating-point operations of the model as the reference formulates it (a multiply-add counts
/// 2, a tanh/sigmoid counts 1), for fixed-horizon lifetimes:
/// per step, 3 message passes (2·d per synapse) and 3 neuron passes (2·d² + 1·d per node), and
/// per synapse one GRU cell: `W_ih·u` (2·3d·(2d+1)), `W_hh·h` (2·3d·d), bias and gate adds
/// (≈ 7d), 3d nonlinearities and the update (≈ 5d).
fn model_flops(
    model: &ModelConfig,
    envs: &[&'static EnvInfo],
    lifetimes: &[LifetimeInput],
    protocol: Protocol,
) -> f64 {
    let (n, d) = (model.nodes as f64, model.msg_dims as f64);
    let per_synapse =
        3.0 * 2.0 * d + 2.0 * 3.0 * d * (2.0 * d + 1.0) + 2.0 * 3.0 * d * d + 15.0 * d;
    let per_node = 3.0 * (2.0 * d * d + d);
    lifetimes
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let info = envs[i % envs.len()];
            let steps = (protocol.episodes * info.horizon) as f64;
            steps * (input.wiring.edges.len() as f64 * per_synapse + n * per_node)
        })
        .sum()
}

/// fp32 peak of the CPU: threads × clock × SIMD width × 2 (FMA) × 2 (two FMA units), the clock
/// read from `/proc/cpuinfo`.
fn cpu_peak_gflops(threads: usize) -> f64 {
    let mhz = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("cpu MHz"))
                .and_then(|l| l.split(':').nth(1))
                .and_then(|v| v.trim().parse::<f64>().ok())
        })
        .unwrap_or(2000.0);
    threads as f64 * mhz / 1000.0 * simd_f32_lanes() * 2.0 * 2.0
}

#[cfg(target_arch = "x86_64")]
fn simd_f32_lanes() -> f64 {
    if std::arch::is_x86_feature_detected!("avx512f") {
        16.0
    } else if std::arch::is_x86_feature_detected!("avx") {
        8.0
    } else {
        4.0
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn simd_f32_lanes() -> f64 {
    4.0
}
