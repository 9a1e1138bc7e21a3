//! `sfnn bench`: executor throughput on the paper configuration (docs/performance.md).
//!
//! Figures are printed as ratios against baselines measured in the same run where possible
//! (one thread vs all threads), and against the reference JAX code only where it was timed on
//! this CPU model: its speed differs 1.7× between CPUs, so a ratio against a timing taken on
//! another model says nothing. [`REFERENCE_TIMINGS`] lists those timings with their source;
//! elsewhere the bench prints steps/s and says how to get a ratio (`--reference-seconds`, the
//! reference timed on this machine).

use crate::envs::{self, EnvInfo};
use crate::exec::cpu::CpuId;
use crate::exec::{self, EvalRequest, ExecutorChoice, Protocol, Sampler};
use crate::exec::{CpuExecutor, EpisodeMode, Executor, LifetimeInput};
use crate::model::{GenomeLayout, ModelConfig, Topology};
use anyhow::{Result, anyhow};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

/// The reference JAX code's time for one paper-config generation (popsize 128; CartPole,
/// Acrobot, MountainCar; 8 episodes each), on one CPU model.
#[derive(Debug, Serialize)]
pub struct ReferenceTiming {
    /// The CPU it was timed on, in words.
    pub cpu: &'static str,
    #[serde(skip)]
    pub matches: fn(&CpuId) -> bool,
    pub date: &'static str,
    pub seconds_per_generation: f64,
    /// Where the figure comes from.
    pub source: &'static str,
}

impl ReferenceTiming {
    pub fn seconds_per_lifetime(&self) -> f64 {
        self.seconds_per_generation / 128.0
    }
}

/// Every timing of the reference JAX code this project made, each on a 2-core machine side by
/// side with `sfnn` (docs/performance.md).
pub const REFERENCE_TIMINGS: &[ReferenceTiming] = &[
    ReferenceTiming {
        cpu: "Intel Xeon with AVX-512",
        matches: |cpu| cpu.vendor == "GenuineIntel" && cpu.name.contains("Xeon") && cpu.avx512,
        date: "2026-11-30",
        seconds_per_generation: 122.4,
        source: "issue #10: one paper-config generation of the reference code",
    },
    ReferenceTiming {
        cpu: "AMD EPYC, family 26 (Zen 5)",
        matches: |cpu| {
            cpu.vendor == "AuthenticAMD" && cpu.family == Some(26) && cpu.name.contains("EPYC")
        },
        date: "2026-12-07",
        seconds_per_generation: 72.7,
        source: "issue #23: one paper-config generation of the reference code, against \
                 sfnn's 2.91 s",
    },
];

/// The reference timing that holds on `cpu`, if one was taken on its model.
pub fn reference_for(cpu: &CpuId) -> Option<&'static ReferenceTiming> {
    REFERENCE_TIMINGS
        .iter()
        .find(|timing| (timing.matches)(cpu))
}

/// The environments of the paper configuration, which the reference timings ran.
const PAPER_ENVS: [&str; 3] = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0"];

/// What a ratio to the reference JAX code is taken against.
#[derive(Debug, Clone, Serialize)]
struct Reference {
    cpu: String,
    date: Option<&'static str>,
    seconds_per_lifetime: f64,
    source: &'static str,
}

impl Reference {
    /// `--reference-seconds` when given; else this CPU model's timing, for the paper's
    /// environments only (the timings ran those).
    fn for_run(args: &BenchArgs) -> Option<Reference> {
        if let Some(seconds) = args.reference_seconds {
            return Some(Reference {
                cpu: "as given by --reference-seconds".into(),
                date: None,
                seconds_per_lifetime: seconds,
                source: "--reference-seconds",
            });
        }
        let mut envs: Vec<&str> = args.envs.iter().map(String::as_str).collect();
        envs.sort_unstable();
        let mut paper = PAPER_ENVS;
        paper.sort_unstable();
        if envs != paper {
            return None;
        }
        reference_for(&CpuId::read()).map(|timing| Reference {
            cpu: format!("timed on {}, {}", timing.cpu, timing.date),
            date: Some(timing.date),
            seconds_per_lifetime: timing.seconds_per_lifetime(),
            source: timing.source,
        })
    }
}

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
    /// Seconds the reference JAX code needs per genome-lifetime on this machine (its time per
    /// paper-config generation / 128), for the ratio. Without it the bench takes the timing of
    /// this CPU model from its table, and prints no ratio where there is none.
    #[arg(long)]
    reference_seconds: Option<f64>,
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
    /// `null` where the reference was not timed on this CPU model.
    speedup_vs_reference: Option<f64>,
    /// The reference timing the ratio is against.
    reference: Option<Reference>,
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
    let reference = Reference::for_run(setup.args);
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
        speedup_vs_reference: reference
            .as_ref()
            .map(|r| r.seconds_per_lifetime / per_lifetime),
        reference: reference.clone(),
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
    match &reference {
        Some(reference) => println!(
            "  {rate:.0} SFNN steps/s; {per_lifetime:.6} s per genome-lifetime = {:.1}× the \
             reference JAX code ({:.3} s per genome-lifetime, {})",
            reference.seconds_per_lifetime / per_lifetime,
            reference.seconds_per_lifetime,
            reference.cpu
        ),
        None => println!(
            "  {rate:.0} SFNN steps/s; {per_lifetime:.6} s per genome-lifetime; no ratio to the \
             reference JAX code: it was not timed on this CPU ({cpu}) with these environments, \
             and its speed differs 1.7× between CPUs. Time it here and pass \
             --reference-seconds.",
            cpu = CpuId::read()
        ),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(vendor: &str, family: u32, model: u32, name: &str, flags: &str) -> CpuId {
        CpuId::parse(&format!(
            "processor\t: 0\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: {model}\n\
             model name\t: {name}\nflags\t\t: fpu sse2 {flags} avx2\n\nprocessor\t: 1\n"
        ))
    }

    #[test]
    fn a_ratio_only_against_the_reference_timed_on_the_same_cpu_model() {
        let xeon = cpu(
            "GenuineIntel",
            6,
            143,
            "Intel(R) Xeon(R) Platinum 8481C",
            "avx512f",
        );
        assert_eq!(xeon.family, Some(6));
        assert!(xeon.avx512);
        assert_eq!(reference_for(&xeon).unwrap().seconds_per_generation, 122.4);
        let zen5 = cpu("AuthenticAMD", 26, 2, "AMD EPYC 9B45", "avx512f");
        assert_eq!(reference_for(&zen5).unwrap().seconds_per_generation, 72.7);
        // Another generation of EPYC, a Xeon without AVX-512, another vendor: no timing holds.
        let zen4 = cpu("AuthenticAMD", 25, 17, "AMD EPYC", "avx512f");
        assert!(reference_for(&zen4).is_none());
        let old_xeon = cpu("GenuineIntel", 6, 79, "Intel(R) Xeon(R) CPU E5-2686 v4", "");
        assert!(!old_xeon.avx512);
        assert!(reference_for(&old_xeon).is_none());
        assert!(reference_for(&CpuId::parse("")).is_none());
    }
}
