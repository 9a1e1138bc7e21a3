//! The whole kernel (`kernels/sfnn.cu`) run on the CPU: g++ compiles it with a thin shim for the
//! CUDA built-ins (one std::thread per GPU thread, a std::barrier for `__syncthreads`), fed the
//! arrays the CUDA executor uploads (`exec::cuda::pack`). Its returns must equal the CPU
//! executor's bit for bit. This checks the kernel's logic (indexing, phases, summation order,
//! readout, protocol) without a GPU; what it cannot check is the GPU's own arithmetic, which
//! tests/cuda_parity.rs covers on a GPU machine.
//!
//! Skips (prints SKIP) without g++, unless `REQUIRE_GXX=1`.
#![cfg(feature = "cuda")]

mod evolved;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use sfnn::envs::{self, EnvInfo};
use sfnn::exec::cuda::pack;
use sfnn::exec::{CpuExecutor, EpisodeMode, EvalRequest, Executor, Protocol, Sampler};
use sfnn::model::{GenomeLayout, ModelConfig, Topology};
use std::path::{Path, PathBuf};
use std::process::Command;

fn build(dir: &Path, msg_dims: usize) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe = dir.join(format!("kernel_d{msg_dims}"));
    let output = Command::new(std::env::var("CXX").unwrap_or_else(|_| "g++".into()))
        .args([
            "-std=c++20",
            "-O2",
            "-ffp-contract=off",
            "-fno-fast-math",
            "-Wall",
            "-Wno-unknown-pragmas",
            "-pthread",
        ])
        .arg(format!("-DSFNN_D={msg_dims}"))
        .arg("-I")
        .arg(root.join("kernels"))
        .arg(root.join("tests/mirror/kernel_harness.cpp"))
        .arg("-o")
        .arg(&exe)
        .output();
    match output {
        Ok(out) if out.status.success() => Some(exe),
        Ok(out) => panic!(
            "g++ failed to compile the kernel as C++:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            assert!(
                std::env::var("REQUIRE_GXX").as_deref() != Ok("1"),
                "REQUIRE_GXX=1 but g++ cannot run: {e}"
            );
            eprintln!("SKIP: no g++ ({e})");
            None
        }
    }
}

fn array<T: Copy>(buf: &mut Vec<u8>, values: &[T], to_bytes: impl Fn(T) -> Vec<u8>) {
    buf.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for &v in values {
        buf.extend(to_bytes(v));
    }
}

/// Runs the emulated kernel on `request` with `threads` threads per block, keeping the synapse
/// states and post parts where `placement` says: returns, env steps and the per-lifetime
/// digests.
fn emulate(
    exe: &Path,
    request: &EvalRequest,
    threads: usize,
    placement: pack::Placement,
) -> (Vec<f64>, u64, Vec<u64>) {
    let packed = pack::pack(request).unwrap();
    let model = request.model;
    let params = GenomeLayout::new(model).len();
    let mut input = Vec::new();
    for v in [
        params,
        model.node_types,
        model.nodes,
        packed.lifetimes,
        packed.lifetimes_per_member,
        request.protocol.episodes,
        usize::from(request.protocol.mode == EpisodeMode::StopOnDone),
    ] {
        input.extend_from_slice(&(v as i32).to_le_bytes());
    }
    array(&mut input, request.genomes, |v| v.to_le_bytes().to_vec());
    array(&mut input, &packed.env_ids, |v| v.to_le_bytes().to_vec());
    array(&mut input, &packed.block_lifetimes, |v| {
        v.to_le_bytes().to_vec()
    });
    array(&mut input, &packed.node_types, |v| vec![v]);
    array(&mut input, &packed.edge_offsets, |v| {
        v.to_le_bytes().to_vec()
    });
    array(&mut input, &packed.edge_pre, |v| v.to_le_bytes().to_vec());
    array(&mut input, &packed.edge_post, |v| v.to_le_bytes().to_vec());
    array(&mut input, &packed.in_offsets, |v| v.to_le_bytes().to_vec());
    array(&mut input, &packed.in_edges, |v| v.to_le_bytes().to_vec());
    array(&mut input, &packed.synapse_init, |v| {
        v.to_le_bytes().to_vec()
    });
    array(&mut input, &packed.reset_offsets, |v| {
        v.to_le_bytes().to_vec()
    });
    array(&mut input, &packed.resets, |v| v.to_le_bytes().to_vec());
    let sizes = pack::BlockSizes {
        params,
        nodes: model.nodes,
        d: model.msg_dims,
        types: model.node_types,
        max_edges: packed.max_edges,
    };
    let shared = sizes.shared_bytes(placement);
    input.extend_from_slice(&(shared as u32).to_le_bytes());

    let dir = exe.parent().unwrap();
    let (in_path, out_path) = (dir.join("request.bin"), dir.join("result.bin"));
    std::fs::write(&in_path, &input).unwrap();
    let status = Command::new(exe)
        .arg(&in_path)
        .arg(&out_path)
        .arg(threads.to_string())
        .arg((placement as i32).to_string())
        .status()
        .unwrap();
    assert!(status.success(), "emulated kernel failed: {status}");
    let out = std::fs::read(&out_path).unwrap();
    let count = packed.lifetimes * request.protocol.episodes;
    let returns: Vec<f64> = out[..8 * count]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let words = |from: usize| -> Vec<u64> {
        out[from..from + 8 * packed.lifetimes]
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    let steps = words(8 * count).iter().sum();
    let digests = words(8 * (count + packed.lifetimes));
    (returns, steps, digests)
}

fn genomes(model: &ModelConfig, members: usize, sigma: f32, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0f32, sigma).unwrap();
    (0..members * GenomeLayout::new(*model).len())
        .map(|_| normal.sample(&mut rng))
        .collect()
}

fn check(exe: &Path, what: &str, request: &EvalRequest, threads: usize) {
    check_placed(exe, what, request, threads, pack::Placement::Shared);
}

fn check_placed(
    exe: &Path,
    what: &str,
    request: &EvalRequest,
    threads: usize,
    placement: pack::Placement,
) {
    let cpu = CpuExecutor::new(1).unwrap().evaluate(request).unwrap();
    let (returns, steps, digests) = emulate(exe, request, threads, placement);
    let episodes = request.protocol.episodes;
    for (i, (c, k)) in cpu.returns.iter().zip(&returns).enumerate() {
        assert_eq!(
            c.to_bits(),
            k.to_bits(),
            "{what}: lifetime {} episode {}: cpu {c}, kernel {k}",
            i / episodes,
            i % episodes
        );
    }
    assert_eq!(returns.len(), cpu.returns.len());
    assert_eq!(steps, cpu.env_steps, "{what}: env steps");
    // Every action and every final synapse state, lifetime by lifetime.
    assert_eq!(digests.len(), cpu.digests.len());
    for (lifetime, (c, k)) in cpu.digests.iter().zip(&digests).enumerate() {
        assert_eq!(
            c, k,
            "{what}: lifetime {lifetime}: action/state digests differ"
        );
    }
    println!(
        "{what}: {} returns and {} lifetime digests identical ({steps} env steps, {threads} \
         threads per block)",
        returns.len(),
        digests.len()
    );
}

fn sampled(
    model: &ModelConfig,
    envs: &[&'static EnvInfo],
    protocol: Protocol,
    members: usize,
) -> Vec<sfnn::exec::LifetimeInput> {
    Sampler {
        model,
        topology: &Topology::default(),
        envs,
        protocol,
        repeats: 1,
        seed: 21,
    }
    .generation(0, members)
}

/// Makes a genome's synapse states overflow: update gates pinned open (z = 1, bias 100) and
/// λ = 1e4 give `e ← 101·e` every step, so the states pass f32's range within ~20 steps, turn
/// inf and then NaN, and the NaN rules of the network step take over.
fn explode(model: &ModelConfig, genome: &mut [f32]) {
    let layout = GenomeLayout::new(*model);
    let d = model.msg_dims;
    genome[layout.tensor("learning_rate").unwrap().offset] = 1e4;
    let bias = layout.tensor("edge_cells.bias").unwrap().offset;
    for t in 0..model.node_types {
        for c in 0..d {
            genome[bias + t * 3 * d + d + c] = 100.0;
        }
    }
}

#[test]
fn the_kernel_run_on_the_cpu_matches_the_cpu_executor() {
    let dir = tempfile::tempdir().unwrap();
    let model = ModelConfig::default();
    let Some(exe) = build(dir.path(), model.msg_dims) else {
        return;
    };

    // Every environment, stop-on-done, two episodes: discrete and continuous readouts; on the
    // smallest block the kernel supports (warp 0 and one worker warp), where every worker
    // thread walks several nodes and synapses.
    let all: Vec<&'static EnvInfo> = envs::all().to_vec();
    let protocol = Protocol {
        episodes: 2,
        mode: EpisodeMode::StopOnDone,
    };
    let lifetimes = sampled(&model, &all, protocol, 1);
    let g = genomes(&model, 1, 1.0, 1);
    let request = EvalRequest {
        model,
        envs: &all,
        protocol,
        genomes: &g,
        repeats: 1,
        lifetimes: &lifetimes,
    };
    check(&exe, "every environment, stop on done", &request, 64);

    // Fixed horizon with auto-resets (CartPole fails fast), and a member whose synapse states
    // overflow to inf/NaN in the first episode (λ = 1e4), so that the later episodes' returns
    // show the NaN rules; on the full block (pack::THREADS).
    let envs = [envs::info("CartPole-v1").unwrap()];
    let protocol = Protocol {
        episodes: 3,
        mode: EpisodeMode::FixedHorizon,
    };
    let lifetimes = sampled(&model, &envs, protocol, 2);
    let mut g = genomes(&model, 2, 3.0, 2);
    explode(&model, &mut g[model.param_count()..]);
    let request = EvalRequest {
        model,
        envs: &envs,
        protocol,
        genomes: &g,
        repeats: 1,
        lifetimes: &lifetimes,
    };
    check(
        &exe,
        "fixed horizon, exploding synapses",
        &request,
        pack::THREADS as usize,
    );
}

/// The kernel keeps its own copies of two lists: the environment table (ids in `envs::all()`
/// order, sizes, horizons, action bounds) and the genome layout. They must equal the Rust ones.
#[test]
fn the_kernel_tables_are_the_rust_ones() {
    for d in [1, 4, 16] {
        let dir = tempfile::tempdir().unwrap();
        let Some(exe) = build(dir.path(), d) else {
            return;
        };
        let out = Command::new(&exe).arg("--tables").output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let mut expected = Vec::new();
        for (id, info) in envs::all().iter().enumerate() {
            let (continuous, low, high) = match info.action_space {
                envs::ActionSpace::Continuous { low, high } => (1, low as f32, high as f32),
                envs::ActionSpace::Discrete { .. } => (0, -1.0, 1.0),
            };
            expected.push(format!(
                "env {id} {} {} {} {} {continuous} {} {}",
                info.obs_dim,
                info.state_dim,
                info.horizon,
                info.action_space.output_nodes(),
                f64::from(low),
                f64::from(high)
            ));
        }
        for types in 1..=16 {
            let layout = GenomeLayout::new(ModelConfig {
                nodes: 32,
                msg_dims: d,
                node_types: types,
            });
            let offsets: Vec<String> = layout
                .tensors
                .iter()
                .map(|t| t.offset.to_string())
                .collect();
            expected.push(format!("layout {types} {}", offsets.join(" ")));
        }
        assert_eq!(text.lines().collect::<Vec<_>>(), expected, "d = {d}");
    }
}

#[test]
fn another_model_size_with_random_hidden_types() {
    let dir = tempfile::tempdir().unwrap();
    // T = 5: hidden nodes draw their types at random, which exercises the per-type indexing.
    let model = ModelConfig {
        nodes: 16,
        msg_dims: 2,
        node_types: 5,
    };
    let Some(exe) = build(dir.path(), model.msg_dims) else {
        return;
    };
    let envs = [
        envs::info("Acrobot-v1").unwrap(),
        envs::info("MountainCarContinuous-v0").unwrap(),
    ];
    let protocol = Protocol {
        episodes: 1,
        mode: EpisodeMode::FixedHorizon,
    };
    let lifetimes = sampled(&model, &envs, protocol, 2);
    assert!(
        lifetimes.iter().any(|l| {
            let w = &l.wiring;
            w.node_types[w.inputs..w.nodes - w.outputs]
                .iter()
                .any(|&t| t > 1)
        }),
        "no hidden node drew a type above 1"
    );
    let g = genomes(&model, 2, 1.0, 3);
    let request = EvalRequest {
        model,
        envs: &envs,
        protocol,
        genomes: &g,
        repeats: 1,
        lifetimes: &lifetimes,
    };
    check(&exe, "N = 16, d = 2, T = 5", &request, 64);
    // Networks too large for shared memory keep their states, then also the input gates' post
    // parts, in the global scratch area.
    for placement in [
        pack::Placement::StatesGlobal,
        pack::Placement::StatesAndPostGlobal,
    ] {
        check_placed(
            &exe,
            &format!("N = 16, d = 2, T = 5, {placement:?}"),
            &request,
            64,
            placement,
        );
    }
}

/// The evolved fixture genomes (tests/fixtures/evolved), each in its environment, in both
/// episode modes: lifetimes that leave the floor, so equal digests mean equal actions where
/// the actions matter.
#[test]
fn evolved_genomes_in_every_environment_both_modes() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = evolved::all();
    let Some(exe) = build(dir.path(), fixtures[0].model.msg_dims) else {
        return;
    };
    for fixture in &fixtures {
        assert_eq!(fixture.model.msg_dims, fixtures[0].model.msg_dims);
        fixture.for_each_request(|mode, request| {
            check(
                &exe,
                &format!("evolved {} {mode:?}", fixture.env.name),
                request,
                pack::THREADS as usize,
            )
        });
    }
}
