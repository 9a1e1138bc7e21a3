//! The evolved fixture genomes (tests/fixtures/evolved): one genome per environment, from a short
//! evolution run, with the lifetimes (sampler seed and lifetime indices) in which it leaves its
//! environment's floor. Random genomes sit at the Acrobot and MountainCar floors and fall over
//! early in CartPole, where equal returns hide different actions; these lifetimes act, so parity
//! checks on them see the actions. Embedded with `include_str!`, so test binaries carried to a
//! GPU machine (scripts/gpu-pack.sh) need no files beside them.
#![allow(dead_code)] // each test crate uses part of it

use serde::Deserialize;
use sfnn::envs::{self, EnvInfo};
use sfnn::exec::{EpisodeMode, EvalRequest, LifetimeInput, Protocol, Sampler};
use sfnn::model::{GenomeFile, ModelConfig, Topology};

const MANIFEST: &str = include_str!("../fixtures/evolved/fixtures.json");

/// The genome files, by the name the manifest uses.
const GENOMES: [(&str, &str); 5] = [
    (
        "CartPole-v1.json",
        include_str!("../fixtures/evolved/CartPole-v1.json"),
    ),
    (
        "Acrobot-v1.json",
        include_str!("../fixtures/evolved/Acrobot-v1.json"),
    ),
    (
        "MountainCar-v0.json",
        include_str!("../fixtures/evolved/MountainCar-v0.json"),
    ),
    (
        "Pendulum-v1.json",
        include_str!("../fixtures/evolved/Pendulum-v1.json"),
    ),
    (
        "MountainCarContinuous-v0.json",
        include_str!("../fixtures/evolved/MountainCarContinuous-v0.json"),
    ),
];

#[derive(Debug, Deserialize)]
struct Entry {
    env: String,
    genome: String,
    seed: u64,
    episodes: usize,
    lifetimes: Vec<usize>,
    floor: f64,
}

/// One environment's fixture.
pub struct Fixture {
    pub env: &'static EnvInfo,
    pub model: ModelConfig,
    pub genome: Vec<f32>,
    /// The sampler seed of generation 0 whose lifetimes `lifetimes` are used.
    pub seed: u64,
    pub episodes: usize,
    pub lifetimes: Vec<usize>,
    /// In each of those lifetimes some episode returns strictly more than this (the README
    /// beside fixtures.json says why each floor is where it is).
    pub floor: f64,
}

pub fn all() -> Vec<Fixture> {
    let entries: Vec<Entry> = serde_json::from_str(MANIFEST).expect("fixtures.json parses");
    let fixtures: Vec<Fixture> = entries
        .into_iter()
        .map(|e| {
            let text = GENOMES
                .iter()
                .find(|(name, _)| *name == e.genome)
                .unwrap_or_else(|| panic!("{} is not embedded", e.genome))
                .1;
            let file = GenomeFile::from_json(text).expect("fixture genome parses");
            Fixture {
                env: envs::info(&e.env).expect("known environment"),
                model: file.model,
                genome: file.values,
                seed: e.seed,
                episodes: e.episodes,
                lifetimes: e.lifetimes,
                floor: e.floor,
            }
        })
        .collect();
    // Every environment the executors support has one.
    for info in envs::all() {
        assert!(
            fixtures.iter().any(|f| f.env.name == info.name),
            "no evolved fixture for {}",
            info.name
        );
    }
    fixtures
}

impl Fixture {
    pub fn protocol(&self, mode: EpisodeMode) -> Protocol {
        Protocol {
            episodes: self.episodes,
            mode,
        }
    }

    /// The request's parts: one member per chosen lifetime (each a copy of the genome, one
    /// repeat, one environment), so lifetime `k` of the output is `self.lifetimes[k]`.
    /// Calls `check` with this fixture's evaluation request in each episode mode.
    pub fn for_each_request(&self, mut check: impl FnMut(EpisodeMode, &EvalRequest)) {
        for mode in [EpisodeMode::FixedHorizon, EpisodeMode::StopOnDone] {
            let (genomes, lifetimes) = self.inputs(mode);
            let envs = [self.env];
            let request = EvalRequest {
                model: self.model,
                envs: &envs,
                protocol: self.protocol(mode),
                genomes: &genomes,
                repeats: 1,
                lifetimes: &lifetimes,
            };
            check(mode, &request);
        }
    }

    pub fn inputs(&self, mode: EpisodeMode) -> (Vec<f32>, Vec<LifetimeInput>) {
        let envs = [self.env];
        let last = self.lifetimes.iter().copied().max().unwrap_or(0);
        let sampled = Sampler {
            model: &self.model,
            topology: &Topology::default(),
            envs: &envs,
            protocol: self.protocol(mode),
            repeats: last + 1,
            seed: self.seed,
        }
        .generation(0, 1);
        let lifetimes = self.lifetimes.iter().map(|&k| sampled[k].clone()).collect();
        let genomes = self.genome.repeat(self.lifetimes.len());
        (genomes, lifetimes)
    }
}
