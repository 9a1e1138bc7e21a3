//! The CUDA executor against the CPU executor on identical requests: every episode return must
//! be equal bit for bit, and so must the number of environment steps. Both executors share the
//! operation order and the float32 functions (`kernels/math.cuh` mirrors `src/num.rs`, checked
//! on the CPU by tests/cuda_mirror.rs), FMA contraction is off and both flush denormals, so no
//! tolerance is allowed. Equal returns over all episodes of every lifetime mean equal actions
//! throughout, except where a different action sequence happens to give the same return; the
//! step counts (stop-on-done) and the continuous-control returns (which depend on every action's
//! value) close most of that gap.
//!
//! The evolved fixture genomes (tests/fixtures/evolved) add lifetimes that leave every
//! environment's floor, compared digest by digest.
//!
//! Needs a GPU: without one each test is reported ignored, with the reason; with
//! `REQUIRE_CUDA=1` (scripts/gpu-check.sh) it fails instead.

mod evolved;
mod prereq;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use sfnn::envs::{self, EnvInfo};
use sfnn::exec::cuda::CudaExecutor;
use sfnn::exec::{
    CpuExecutor, EpisodeMode, EvalRequest, Executor, Protocol, Sampler, lifetime::readout_for,
};
use sfnn::model::{GenomeLayout, ModelConfig, Network, Params, Topology};
use std::sync::OnceLock;

fn main() {
    prereq::main(
        prereq::Needs {
            require_var: "REQUIRE_CUDA",
            check: || gpu_executor().map(|_| ()),
        },
        vec![
            (
                "random_genomes_at_several_scales_every_environment_both_modes",
                random_genomes_at_several_scales_every_environment_both_modes,
            ),
            ("the_paper_configuration", the_paper_configuration),
            ("other_model_sizes", other_model_sizes),
            (
                "a_long_lifetime_with_exploding_synapses_matches_the_cpu",
                a_long_lifetime_with_exploding_synapses_matches_the_cpu,
            ),
            (
                "invalid_requests_are_errors_not_crashes",
                invalid_requests_are_errors_not_crashes,
            ),
            (
                "evolved_genomes_in_every_environment_both_modes",
                evolved_genomes_in_every_environment_both_modes,
            ),
        ],
    )
}

/// The GPU, opened once for all tests, or why there is none.
fn gpu_executor() -> Result<&'static CudaExecutor, String> {
    static GPU: OnceLock<Result<CudaExecutor, String>> = OnceLock::new();
    GPU.get_or_init(|| {
        CudaExecutor::new(0)
            .inspect(|executor| println!("GPU: {}", executor.device()))
            .map_err(|e| format!("no GPU to compare with: {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// The GPU, which [`prereq::main`] checked before the test began.
fn gpu() -> &'static CudaExecutor {
    gpu_executor().expect("checked before the test ran")
}

fn genomes(model: &ModelConfig, members: usize, sigma: f32, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0f32, sigma).unwrap();
    (0..members * GenomeLayout::new(*model).len())
        .map(|_| normal.sample(&mut rng))
        .collect()
}

struct Case<'a> {
    what: String,
    model: ModelConfig,
    envs: Vec<&'static EnvInfo>,
    protocol: Protocol,
    repeats: usize,
    genomes: &'a [f32],
    seed: u64,
}

/// Runs both executors and requires identical returns and step counts.
fn assert_parity(gpu: &CudaExecutor, case: &Case) {
    let topology = Topology::default();
    let sampler = Sampler {
        model: &case.model,
        topology: &topology,
        envs: &case.envs,
        protocol: case.protocol,
        repeats: case.repeats,
        seed: case.seed,
    };
    let members = case.genomes.len() / case.model.param_count();
    let lifetimes = sampler.generation(0, members);
    let request = EvalRequest {
        model: case.model,
        envs: &case.envs,
        protocol: case.protocol,
        genomes: case.genomes,
        repeats: case.repeats,
        lifetimes: &lifetimes,
    };
    assert_request_parity(gpu, &case.what, &request);
}

/// Both executors on `request`: identical returns, step counts and lifetime digests.
fn assert_request_parity(gpu: &CudaExecutor, what: &str, request: &EvalRequest) {
    let cpu = CpuExecutor::new(0).unwrap().evaluate(request).unwrap();
    let cuda = gpu.evaluate(request).unwrap();
    assert_eq!(cuda.returns.len(), cpu.returns.len(), "{what}");
    let episodes = request.protocol.episodes;
    let envs = request.envs;
    let mismatches: Vec<String> = cpu
        .returns
        .iter()
        .zip(&cuda.returns)
        .enumerate()
        .filter(|(_, (c, g))| c.to_bits() != g.to_bits())
        .take(8)
        .map(|(i, (c, g))| {
            let lifetime = i / episodes;
            format!(
                "lifetime {lifetime} ({}), episode {}: cpu {c}, cuda {g}",
                envs[lifetime % envs.len()].name,
                i % episodes
            )
        })
        .collect();
    assert!(
        mismatches.is_empty(),
        "{}: returns differ\n{}",
        what,
        mismatches.join("\n")
    );
    assert_eq!(cuda.env_steps, cpu.env_steps, "{what}: env steps");
    // Equal returns can hide different actions: compare each lifetime's digest of its actions
    // and final synapse states.
    let differing: Vec<String> = cpu
        .digests
        .iter()
        .zip(&cuda.digests)
        .enumerate()
        .filter(|(_, (c, g))| c != g)
        .take(8)
        .map(|(lifetime, _)| format!("lifetime {lifetime} ({})", envs[lifetime % envs.len()].name))
        .collect();
    assert_eq!(cuda.digests.len(), cpu.digests.len(), "{what}");
    assert!(
        differing.is_empty(),
        "{}: actions or final synapse states differ\n{}",
        what,
        differing.join("\n")
    );
    println!(
        "{}: {} returns and {} lifetime digests identical, {} env steps",
        what,
        cpu.returns.len(),
        cpu.digests.len(),
        cpu.env_steps
    );
}

fn random_genomes_at_several_scales_every_environment_both_modes() {
    let gpu = gpu();
    let model = ModelConfig::default();
    let all: Vec<&'static EnvInfo> = envs::all().to_vec();
    for (k, sigma) in [0.01f32, 0.1, 1.0, 10.0].into_iter().enumerate() {
        let genomes = genomes(&model, 6, sigma, 100 + k as u64);
        for mode in [EpisodeMode::FixedHorizon, EpisodeMode::StopOnDone] {
            assert_parity(
                gpu,
                &Case {
                    what: format!("σ = {sigma}, {mode:?}"),
                    model,
                    envs: all.clone(),
                    protocol: Protocol { episodes: 3, mode },
                    repeats: 2,
                    genomes: &genomes,
                    seed: 7 + k as u64,
                },
            );
        }
    }
}

fn the_paper_configuration() {
    let gpu = gpu();
    let model = ModelConfig::default();
    let envs = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0"]
        .map(|n| envs::info(n).unwrap())
        .to_vec();
    let genomes = genomes(&model, 32, 1.0, 11);
    assert_parity(
        gpu,
        &Case {
            what: "paper configuration".into(),
            model,
            envs,
            protocol: Protocol {
                episodes: 8,
                mode: EpisodeMode::FixedHorizon,
            },
            repeats: 1,
            genomes: &genomes,
            seed: 1,
        },
    );
}

fn other_model_sizes() {
    let gpu = gpu();
    let all: Vec<&'static EnvInfo> = envs::all().to_vec();
    for (nodes, msg_dims, node_types) in [(16, 2, 2), (48, 8, 5), (20, 1, 1)] {
        let model = ModelConfig {
            nodes,
            msg_dims,
            node_types,
        };
        let genomes = genomes(&model, 3, 1.0, nodes as u64);
        assert_parity(
            gpu,
            &Case {
                what: format!("N = {nodes}, d = {msg_dims}, T = {node_types}"),
                model,
                envs: all.clone(),
                protocol: Protocol {
                    episodes: 2,
                    mode: EpisodeMode::FixedHorizon,
                },
                repeats: 1,
                genomes: &genomes,
                seed: 5,
            },
        );
    }
}

/// Makes a genome's synapse states overflow: update gates pinned open (z = 1, bias 100) and a
/// large λ give `e ← (1 + 0.01λ)·e` every step, so the states leave f32's range, turn inf and
/// then NaN, and the NaN rules of `network.rs` take over.
fn explode(model: &ModelConfig, genome: &mut [f32], lambda: f32) {
    let layout = GenomeLayout::new(*model);
    let d = model.msg_dims;
    genome[layout.tensor("learning_rate").unwrap().offset] = lambda;
    let bias = layout.tensor("edge_cells.bias").unwrap().offset;
    for t in 0..model.node_types {
        for c in 0..d {
            genome[bias + t * 3 * d + d + c] = 100.0;
        }
    }
}

/// A long lifetime (8 fixed-horizon episodes) in which the synapse states overflow at different
/// times for different members; checked on the CPU first, so the test really covers that regime.
fn a_long_lifetime_with_exploding_synapses_matches_the_cpu() {
    let gpu = gpu();
    let model = ModelConfig::default();
    let layout = GenomeLayout::new(model);
    let mut genomes = genomes(&model, 4, 3.0, 99);
    for (m, genome) in genomes.chunks_exact_mut(layout.len()).enumerate() {
        explode(&model, genome, [1e4, 50.0, 5.0, 1.0][m]);
    }
    let envs = ["CartPole-v1", "Pendulum-v1"]
        .map(|n| envs::info(n).unwrap())
        .to_vec();
    let protocol = Protocol {
        episodes: 8,
        mode: EpisodeMode::FixedHorizon,
    };

    // The regime is real: on the CPU the states of the first member leave the finite range.
    let sampler = Sampler {
        model: &model,
        topology: &Topology::default(),
        envs: &envs,
        protocol,
        repeats: 1,
        seed: 3,
    };
    let input = &sampler.generation(0, 1)[0];
    let params = Params::<f32>::from_flat(&layout, &genomes[..layout.len()]);
    let mut net = Network::new(
        &input.wiring,
        readout_for(envs[0]),
        model.msg_dims,
        model.node_types,
        &input.synapse_init,
    );
    let obs = [0.01f32, -0.02, 0.03, 0.0];
    let flush = sfnn::num::FlushDenormals::new();
    for _ in 0..2000 {
        net.step(&params, &obs);
        net.set_reward(1.0);
    }
    drop(flush);
    assert!(
        net.synapse_states().iter().any(|v| !v.is_finite()),
        "the synapse states stayed finite; the test would not cover overflow"
    );

    assert_parity(
        gpu,
        &Case {
            what: "exploding synapse states".into(),
            model,
            envs,
            protocol,
            repeats: 1,
            genomes: &genomes,
            seed: 3,
        },
    );
}

fn invalid_requests_are_errors_not_crashes() {
    let gpu = gpu();
    let model = ModelConfig::default();
    let envs = [envs::info("CartPole-v1").unwrap()];
    let request = EvalRequest {
        model,
        envs: &envs,
        protocol: Protocol {
            episodes: 1,
            mode: EpisodeMode::FixedHorizon,
        },
        genomes: &[0.0; 3],
        repeats: 1,
        lifetimes: &[],
    };
    assert!(gpu.evaluate(&request).is_err());
}

/// The evolved fixture genomes (tests/fixtures/evolved), each in its environment, in both
/// episode modes: lifetimes that leave the floor (tests/evolved_fixtures.rs checks that on the
/// CPU), compared lifetime by lifetime.
fn evolved_genomes_in_every_environment_both_modes() {
    let gpu = gpu();
    for fixture in evolved::all() {
        fixture.for_each_request(|mode, request| {
            assert_request_parity(
                gpu,
                &format!("evolved {} {mode:?}", fixture.env.name),
                request,
            )
        });
    }
}
