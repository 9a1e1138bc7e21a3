//! Writes what scripts/kernel-model.py models, into the folder given as the only argument:
//! - for sm_90 and each message width, the cubin NVRTC builds exactly as the CUDA executor does
//!   (`sm_90_d{D}.cubin`), the same with `-lineinfo` added (`sm_90_d{D}.lineinfo.cubin`: line
//!   numbers only, the script checks that every instruction is the same) and ptxas' report
//!   (`sm_90_d{D}.ptxas.log`);
//! - `paper.json`: the paper configuration as the executor launches it (threads per block,
//!   shared memory per block, lifetime lengths) and one generation's wirings (synapses and
//!   in-degrees per lifetime), sampled by the executors' own sampler.
//!
//! Needs libnvrtc 13 (`NVRTC_LIB_DIR`), no GPU:
//! `cargo run --release --features cuda --example kernel_model_inputs -- DIR`

use serde_json::json;
use sfnn::envs::{self, EnvInfo};
use sfnn::evolution::LifetimeConfig;
use sfnn::exec::cuda::{nvrtc, pack};
use sfnn::exec::{EvalRequest, Protocol, Sampler};
use sfnn::model::{GenomeLayout, ModelConfig, Topology};
use std::path::PathBuf;

/// The message widths modelled: the paper's 4 and the extremes the cuda_compile test builds.
const WIDTHS: [usize; 3] = [1, 4, 16];
const ARCH: &str = "sm_90";
const PAPER_ENVS: [&str; 3] = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0"];
const PAPER_POPSIZE: usize = 128;

fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or_else(|| anyhow::anyhow!("usage: kernel_model_inputs DIR"))?,
    );
    std::fs::create_dir_all(&dir)?;
    let base = ModelConfig::default();
    let lifetime = LifetimeConfig::default();
    let protocol = Protocol {
        episodes: lifetime.episodes,
        mode: lifetime.episode_mode,
    };
    let env_infos: Vec<&'static EnvInfo> = PAPER_ENVS
        .iter()
        .map(|n| envs::info(n).expect("registered"))
        .collect();

    let mut widths = serde_json::Map::new();
    for d in WIDTHS {
        let model = ModelConfig {
            msg_dims: d,
            ..base
        };
        let plain = nvrtc::compile_embedded("sfnn.cu", ARCH, d)?;
        let source = nvrtc::SOURCES
            .iter()
            .find(|(name, _)| *name == "sfnn.cu")
            .expect("sfnn.cu is embedded")
            .1;
        let mut options = nvrtc::options(ARCH, d);
        options.push("-lineinfo".into());
        let lined = nvrtc::compile("sfnn.cu", source, &options)?;
        std::fs::write(dir.join(format!("{ARCH}_d{d}.cubin")), &plain.cubin)?;
        std::fs::write(
            dir.join(format!("{ARCH}_d{d}.lineinfo.cubin")),
            &lined.cubin,
        )?;
        std::fs::write(dir.join(format!("{ARCH}_d{d}.ptxas.log")), &plain.log)?;
        let report = plain.kernels.get("sfnn_lifetimes");

        // Shared memory per block as the executor sizes it for this generation.
        let sampler = Sampler {
            model: &model,
            topology: &Topology::default(),
            envs: &env_infos,
            protocol,
            repeats: 1,
            seed: 0,
        };
        let lifetimes = sampler.generation(0, PAPER_POPSIZE);
        let params = GenomeLayout::new(model).len();
        let genomes = vec![0.0f32; PAPER_POPSIZE * params];
        let packed = pack::pack(&EvalRequest {
            model,
            envs: &env_infos,
            protocol,
            genomes: &genomes,
            repeats: 1,
            lifetimes: &lifetimes,
        })?;
        let sizes = pack::BlockSizes {
            params,
            nodes: model.nodes,
            d,
            types: model.node_types,
            max_edges: packed.max_edges,
        };
        widths.insert(
            d.to_string(),
            json!({
                "param_count": params,
                "registers": report.map(|r| r.registers),
                "spill_bytes": report.map(|r| r.spill_store_bytes + r.spill_load_bytes),
                "max_edges": packed.max_edges,
                "shared_bytes_with_states": sizes.shared_bytes(pack::Placement::Shared),
                "shared_bytes_without_states": sizes.shared_bytes(pack::Placement::StatesGlobal),
            }),
        );
    }

    // One generation's wirings (they do not depend on the message width).
    let sampler = Sampler {
        model: &base,
        topology: &Topology::default(),
        envs: &env_infos,
        protocol,
        repeats: 1,
        seed: 0,
    };
    let generation = sampler.generation(0, PAPER_POPSIZE);
    let zeros = vec![0.0f32; PAPER_POPSIZE * base.param_count()];
    let launch_order = pack::launch_order(&EvalRequest {
        model: base,
        envs: &env_infos,
        protocol,
        genomes: &zeros,
        repeats: 1,
        lifetimes: &generation,
    });
    let lifetimes: Vec<_> = generation
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let w = &input.wiring;
            let mut in_degree = vec![0usize; w.nodes];
            for &[_, post] in &w.edges {
                in_degree[post as usize] += 1;
            }
            json!({
                "env": env_infos[i % env_infos.len()].name,
                "edges": w.edges.len(),
                "in_degree": in_degree,
            })
        })
        .collect();
    let paper = json!({
        "arch": ARCH,
        "threads_per_block": pack::THREADS,
        "nodes": base.nodes,
        "node_types": base.node_types,
        "popsize": PAPER_POPSIZE,
        "episodes": protocol.episodes,
        "episode_mode": protocol.mode,
        "envs": env_infos.iter().map(|e| json!({
            "name": e.name,
            "horizon": e.horizon,
            "obs_dim": e.obs_dim,
            "outputs": e.action_space.output_nodes(),
            "steps_per_lifetime": e.horizon * protocol.episodes,
        })).collect::<Vec<_>>(),
        "widths": widths,
        "lifetimes": lifetimes,
        "launch_order": launch_order,
    });
    std::fs::write(
        dir.join("paper.json"),
        serde_json::to_string_pretty(&paper)?,
    )?;
    println!("wrote {} (widths {WIDTHS:?})", dir.display());
    Ok(())
}
