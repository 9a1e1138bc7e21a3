//! What a job will cost before it runs: memory, work per generation and checkpoint size, from
//! its sizes alone, in checked arithmetic.
//!
//! Each size of a spec is bounded on its own (`limits::spec`), but products of sizes are what
//! allocate: `popsize × repeats × envs` lifetimes are drawn per generation, CMA-ES keeps `n × n`
//! matrices, every lifetime carries up to `nodes²` synapses. A product that overflows is as
//! invalid as one that is too large, so every step is checked and either error names the
//! field that drives the cost and quotes the bound.

use super::strategies::StrategyName;
use crate::envs::EnvInfo;
use crate::exec::Protocol;
use crate::exec::inputs::reset_pool_size;
use crate::limits::FieldError;
use crate::limits::cost::{
    MAX_GENERATION_MEMORY_BYTES, MAX_GENERATION_WORK, MAX_STRATEGY_STATE_BYTES,
    PAPER_GENERATION_WORK,
};
use crate::model::ModelConfig;

/// The resources one generation of a job needs (upper bounds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobCost {
    /// Evolved parameters per genome.
    pub params: u64,
    /// Lifetimes simulated per generation (popsize × repeats × envs).
    pub lifetimes: u64,
    /// Bytes of the strategy's state (what a checkpoint holds).
    pub strategy_state_bytes: u64,
    /// Peak bytes of one generation: strategy working set, population, host-drawn lifetimes.
    pub generation_memory_bytes: u64,
    /// SFNN steps of one generation with every episode run to its horizon (one network step
    /// per environment step of every lifetime): exact in `fixed_horizon` mode, an upper
    /// bound in `stop_on_done`. Run-time estimates divide it by a measured throughput.
    pub steps_per_generation: u64,
    /// Multiply-adds of one generation's networks (every synapse of every step), plus the
    /// strategy's own linear algebra.
    pub generation_work: u64,
}

/// What a job's cost depends on: its sizes, read off a spec by `JobSpec::sizes` (this module
/// knows sizes, not specs).
#[derive(Debug, Clone)]
pub struct JobSizes {
    pub model: ModelConfig,
    pub strategy: StrategyName,
    pub popsize: usize,
    pub eval_repeats: usize,
    pub envs: Vec<&'static EnvInfo>,
    pub protocol: Protocol,
}

/// A checked product or sum: `None` on overflow.
fn product(factors: &[u64]) -> Option<u64> {
    factors.iter().try_fold(1u64, |acc, &f| acc.checked_mul(f))
}

fn sum(terms: &[Option<u64>]) -> Option<u64> {
    terms
        .iter()
        .try_fold(0u64, |acc, t| t.and_then(|t| acc.checked_add(t)))
}

const F64: u64 = 8;
const F32: u64 = 4;

fn mib(bytes: u64) -> u64 {
    bytes >> 20
}

impl JobCost {
    /// The cost of a job of these sizes, each already in range. Errors name the spec's field
    /// that drives the excess (`strategy.popsize` for per-lifetime costs, `model.msg_dims` for
    /// the genome's size) and state the bound.
    pub fn of(sizes: &JobSizes) -> Result<JobCost, FieldError> {
        let too_costly = |field: &str, what: String| FieldError::new(field, what);
        let overflow = |field: &str| {
            FieldError::new(
                field,
                "the job's size overflows 64-bit arithmetic; choose smaller sizes",
            )
        };
        let m = &sizes.model;
        let (d, types) = (m.msg_dims as u64, m.node_types as u64);
        // T·(10d² + 7d) + 1, as `GenomeLayout` lays it out.
        let params = product(&[d, d, 10])
            .and_then(|dd| dd.checked_add(7 * d))
            .and_then(|per_type| per_type.checked_mul(types))
            .and_then(|p| p.checked_add(1))
            .ok_or_else(|| overflow("model.msg_dims"))?;

        let popsize = sizes.popsize as u64;
        let repeats = sizes.eval_repeats as u64;
        let lifetimes = product(&[popsize, repeats, sizes.envs.len() as u64])
            .ok_or_else(|| overflow("strategy.popsize"))?;
        let max_lifetimes = crate::limits::spec::MAX_LIFETIMES_PER_GENERATION as u64;
        if lifetimes > max_lifetimes {
            return Err(too_costly(
                "strategy.popsize",
                format!(
                    "popsize × lifetime.eval_repeats × envs must be at most {max_lifetimes}, \
                     got {lifetimes}"
                ),
            ));
        }

        let strategy_state_bytes = strategy_state_bytes(sizes.strategy, params, popsize)
            .ok_or_else(|| overflow("model.msg_dims"))?;
        if strategy_state_bytes > MAX_STRATEGY_STATE_BYTES {
            return Err(too_costly(
                "strategy.name",
                format!(
                    "{} over {params} parameters keeps {} MiB of state (checkpointed as is); \
                     the limit is {} MiB: use sep_cma_es, open_es or snes, or a smaller \
                     model (msg_dims, node_types)",
                    sizes.strategy.as_str(),
                    mib(strategy_state_bytes),
                    mib(MAX_STRATEGY_STATE_BYTES)
                ),
            ));
        }

        let slots = popsize
            .checked_mul(repeats)
            .ok_or_else(|| overflow("strategy.popsize"))?;
        let networks = NetworkCost::of(m, &sizes.envs, sizes.protocol, slots)
            .ok_or_else(|| overflow("strategy.popsize"))?;
        let population = product(&[popsize, params, F64 + F32]);
        let generation_memory_bytes = sum(&[
            strategy_working_set_bytes(sizes.strategy, params, popsize),
            population,
            Some(networks.input_bytes),
        ])
        .ok_or_else(|| overflow("strategy.popsize"))?;
        check_memory(
            generation_memory_bytes,
            "strategy.popsize",
            "population, lifetimes \
            drawn for it and strategy state",
            "popsize, eval_repeats, the number of \
            environments or the model's size",
        )?;
        let generation_work = networks
            .work
            .checked_add(strategy_work(sizes.strategy, params, popsize).unwrap_or(u64::MAX))
            .ok_or_else(|| overflow("strategy.popsize"))?;
        check_work(
            generation_work,
            "strategy.popsize",
            "popsize, eval_repeats, \
            lifetime.episodes, the number of environments or the model's size",
        )?;

        Ok(JobCost {
            params,
            lifetimes,
            strategy_state_bytes,
            generation_memory_bytes,
            steps_per_generation: networks.steps,
            generation_work,
        })
    }
}

/// What simulating lifetimes costs: every (slot, environment) pair is one lifetime.
struct NetworkCost {
    /// Host-drawn inputs of every lifetime.
    input_bytes: u64,
    /// Steps of every lifetime, each episode to its horizon.
    steps: u64,
    /// Multiply-adds of every step of every lifetime.
    work: u64,
}

impl NetworkCost {
    /// `slots` lifetimes per environment (members × repeats, or seeds); `None` on overflow.
    fn of(
        model: &ModelConfig,
        envs: &[&'static EnvInfo],
        protocol: Protocol,
        slots: u64,
    ) -> Option<NetworkCost> {
        let (nodes, d) = (model.nodes as u64, model.msg_dims as u64);
        // Up to nodes² synapses per network (the exact count is drawn per lifetime).
        let synapses = nodes.checked_mul(nodes)?;
        // One slot's inputs over every environment: the wiring (two node indices and a type per
        // synapse, 8 bytes), the synapses' initial states and the pool of reset states.
        let per_slot_input = sum(&envs
            .iter()
            .map(|info| {
                let resets = product(&[
                    reset_pool_size(info, protocol) as u64,
                    info.state_dim as u64,
                    F32,
                ]);
                sum(&[
                    product(&[synapses, d, F32]),
                    product(&[synapses, 8]),
                    resets,
                ])
            })
            .collect::<Vec<_>>())?;
        // Every step updates every synapse: a GRU of 3d outputs over 3d + 1 inputs, and the
        // message sums (d per synapse).
        let per_synapse_step = product(&[3 * d, 3 * d + 1])?.checked_add(d)?;
        let steps_per_slot = sum(&envs
            .iter()
            .map(|info| product(&[protocol.episodes as u64, info.horizon as u64]))
            .collect::<Vec<_>>())?;
        Some(NetworkCost {
            input_bytes: product(&[per_slot_input, slots])?,
            steps: product(&[steps_per_slot, slots])?,
            work: product(&[steps_per_slot, slots, synapses, per_synapse_step])?,
        })
    }
}

/// The cost of evaluating a genome of `model` on `envs`, one lifetime per seed and
/// environment: bounded like a generation, errors naming `seeds` or the overflowing field.
pub fn check_evaluation(
    model: &ModelConfig,
    envs: &[&'static EnvInfo],
    protocol: Protocol,
    seeds: usize,
) -> Result<(), FieldError> {
    let networks = NetworkCost::of(model, envs, protocol, seeds as u64).ok_or_else(|| {
        FieldError::new("seeds", "the evaluation's size overflows 64-bit arithmetic")
    })?;
    let advice = "fewer seeds, episodes or environments (or a smaller genome)";
    check_memory(
        networks.input_bytes,
        "seeds",
        "the lifetimes drawn for it",
        advice,
    )?;
    check_work(networks.work, "seeds", advice)
}

fn check_memory(bytes: u64, field: &str, of_what: &str, advice: &str) -> Result<(), FieldError> {
    if bytes > MAX_GENERATION_MEMORY_BYTES {
        return Err(FieldError::new(
            field,
            format!(
                "this needs up to {} MiB ({of_what}); the limit is {} MiB: ask for {advice}",
                mib(bytes),
                mib(MAX_GENERATION_MEMORY_BYTES)
            ),
        ));
    }
    Ok(())
}

fn check_work(work: u64, field: &str, advice: &str) -> Result<(), FieldError> {
    if work > MAX_GENERATION_WORK {
        return Err(FieldError::new(
            field,
            format!(
                "this is about {:.0}× the work of a paper-configuration generation; the limit \
                 is {}×: ask for {advice}",
                work as f64 / PAPER_GENERATION_WORK as f64,
                MAX_GENERATION_WORK / PAPER_GENERATION_WORK
            ),
        ));
    }
    Ok(())
}

/// What a strategy keeps between generations.
fn strategy_state_bytes(name: StrategyName, n: u64, popsize: u64) -> Option<u64> {
    let vectors = match name {
        // Covariance and the eigenvectors of the last decomposition, plus mean, paths, weights.
        StrategyName::CmaEs => return sum(&[product(&[2, n, n, F64]), product(&[4 + popsize, n])]),
        StrategyName::SepCmaEs => 5,
        StrategyName::OpenEs => 4,
        StrategyName::Snes => 3,
    };
    sum(&[product(&[vectors, n, F64]), product(&[popsize, F64])])
}

/// The strategy's peak while it asks and tells: CMA-ES decomposes a copy of its covariance
/// (nalgebra's symmetric eigensolver holds the matrix, its eigenvectors and a workspace) and keeps
/// the elite's steps.
fn strategy_working_set_bytes(name: StrategyName, n: u64, popsize: u64) -> Option<u64> {
    let state = strategy_state_bytes(name, n, popsize)?;
    let extra = match name {
        StrategyName::CmaEs => product(&[3, n, n, F64]),
        _ => Some(0),
    };
    sum(&[Some(state), extra, product(&[popsize, n, F64])])
}

/// The strategy's own arithmetic per generation: CMA-ES's eigendecomposition is about 10 n³.
fn strategy_work(name: StrategyName, n: u64, popsize: u64) -> Option<u64> {
    match name {
        StrategyName::CmaEs => sum(&[product(&[10, n, n, n]), product(&[popsize, n, n])]),
        _ => product(&[10, popsize, n]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluations_are_bounded_like_generations() {
        let envs: Vec<_> = ["CartPole-v1", "Acrobot-v1"]
            .iter()
            .map(|n| crate::envs::info(n).unwrap())
            .collect();
        let protocol = Protocol {
            episodes: 100,
            mode: crate::exec::EpisodeMode::FixedHorizon,
        };
        let small = ModelConfig::default();
        check_evaluation(&small, &envs, protocol, 256).unwrap();
        let largest = ModelConfig {
            nodes: 256,
            msg_dims: 16,
            node_types: 16,
        };
        let e = check_evaluation(&largest, &envs, protocol, 256).unwrap_err();
        assert_eq!(e.field, "seeds");
    }

    /// The cost of a spec's sizes; `json` gives them as a spec does (`JobSpec::sizes` reads
    /// a spec the same way, tested in `spec.rs`).
    fn cost(json: &str) -> Result<JobCost, FieldError> {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let field = |path: &str, default: u64| {
            v.pointer(path)
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(default) as usize
        };
        let strategy = v
            .pointer("/strategy/name")
            .map(|n| serde_json::from_value(n.clone()).unwrap())
            .unwrap_or(StrategyName::CmaEs);
        let envs = v["envs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| crate::envs::info(n.as_str().unwrap()).unwrap())
            .collect();
        JobCost::of(&JobSizes {
            model: ModelConfig {
                nodes: field("/model/nodes", 32),
                msg_dims: field("/model/msg_dims", 4),
                node_types: field("/model/node_types", 3),
            },
            strategy,
            popsize: field("/strategy/popsize", 128),
            eval_repeats: field("/lifetime/eval_repeats", 1),
            envs,
            protocol: Protocol {
                episodes: 8,
                mode: crate::exec::EpisodeMode::FixedHorizon,
            },
        })
    }

    #[test]
    fn the_paper_configuration_is_well_inside_every_bound() {
        let c = cost(r#"{"envs": ["CartPole-v1", "Acrobot-v1", "MountainCar-v0"]}"#).unwrap();
        assert_eq!(c.params, 565);
        assert_eq!(c.lifetimes, 384);
        // The constant the error messages compare against is this configuration's work.
        assert_eq!(c.generation_work, PAPER_GENERATION_WORK);
        assert!(c.strategy_state_bytes < 8 << 20);
        assert!(c.generation_memory_bytes < 64 << 20);
    }

    #[test]
    fn products_that_wrap_are_rejected_not_wrapped() {
        // 2^58 × 32 × 1 wraps to 0 in release builds when multiplied unchecked.
        let e = cost(
            r#"{"envs": ["CartPole-v1"], "strategy": {"popsize": 288230376151711744},
                "lifetime": {"eval_repeats": 32}}"#,
        )
        .unwrap_err();
        assert_eq!(e.field, "strategy.popsize");
        let e = cost(r#"{"envs": ["CartPole-v1"], "strategy": {"popsize": 2305843009213693952}}"#)
            .unwrap_err();
        assert_eq!(e.field, "strategy.popsize");
    }

    #[test]
    fn a_covariance_too_large_to_keep_names_the_strategy_and_the_bound() {
        // 42,753 parameters: a 14.6 GB covariance.
        let e = cost(r#"{"envs": ["CartPole-v1"], "model": {"msg_dims": 16, "node_types": 16}}"#)
            .unwrap_err();
        assert_eq!(e.field, "strategy.name");
        assert!(e.message.contains("MiB"), "{}", e.message);
        // The same model is fine for a strategy with a diagonal state.
        cost(
            r#"{"envs": ["CartPole-v1"], "model": {"msg_dims": 16, "node_types": 16},
                "strategy": {"name": "snes", "popsize": 16}}"#,
        )
        .unwrap();
    }

    #[test]
    fn generation_memory_and_work_are_bounded() {
        // Within every per-field limit, but 2^18 lifetimes of 256-node networks.
        let e = cost(
            r#"{"envs": ["CartPole-v1"], "model": {"nodes": 256},
                "strategy": {"name": "snes", "popsize": 262144}}"#,
        )
        .unwrap_err();
        assert_eq!(e.field, "strategy.popsize");
        assert!(e.message.contains("limit"), "{}", e.message);
    }
}
