//! Replays of a stored genome for the dashboard: one lifetime on one environment, step by step
//! (observations, actions, action-node outputs, rewards), with the network it sampled and the
//! synapse-state norm of every edge over time.
//!
//! The lifetime is the one `sfnn eval --env E --seed S --episodes N --trace` traces for the
//! genome's downloaded file: the same draws ([`trace::evaluation_lifetime`], with the wiring
//! rule of the job that evolved the genome) on the CPU reference step, so the replay's `trace`
//! equals that file.
//!
//! A GET, not a POST: the answer is a function of the genome and the query alone (the seed fixes
//! every random draw), nothing is created, so it is safe to repeat, to link to and to cache.
//!
//! The work runs on a blocking thread, sized by `limits::replay` (steps, synapse updates, heat
//! map values), and at most `--max-replays` (default `limits::replay::MAX_CONCURRENT`) run at
//! once: more are refused with 429 `busy` and `Retry-After` rather than queued, so a flood
//! cannot hold the server's threads.

use super::AppState;
use super::error::{ApiError, ErrorBody, Result};
use super::extract::{Path, Query};
use super::genomes::load_meta;
use super::query::Count;
use super::responses::NoSuchGenome;
use crate::envs::{self, EnvInfo};
use crate::evolution::JobPayload;
use crate::exec::trace::{self, SynapseNorms, Trace};
use crate::exec::{EpisodeMode, Protocol};
use crate::limits::replay::{
    MAX_NORM_VALUES, MAX_STEPS, MAX_SYNAPSE_STATE_VALUES, MAX_SYNAPSE_STEPS, REFERENCE_MSG_DIMS,
    RETRY_AFTER,
};
use crate::limits::spec::MAX_EPISODES;
use crate::model::{ModelConfig, Topology, Wiring};
use crate::store::GenomeMeta;
use axum::Json;
use axum::extract::State;
use axum::routing::get;
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/genomes/{id}/replay", get(replay))
}

/// The replays a server computes at once.
#[derive(Debug, Clone)]
pub struct ReplaySlots {
    slots: Arc<Semaphore>,
    limit: usize,
}

impl ReplaySlots {
    pub fn new(limit: usize) -> Self {
        ReplaySlots {
            slots: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }

    /// A slot, held until the replay's thread ends, or 429 `busy` when all are taken.
    fn take(&self) -> Result<OwnedSemaphorePermit> {
        if self.limit == 0 {
            return Err(ApiError::TooManyRequests {
                code: "busy",
                message: "this server computes no replays (--max-replays 0)".into(),
                retry_after: RETRY_AFTER,
            });
        }
        self.slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::TooManyRequests {
                code: "busy",
                message: format!(
                    "{} replays are being computed, the most this server runs at once; \
                     retry in a moment",
                    self.limit
                ),
                retry_after: RETRY_AFTER,
            })
    }
}

/// One lifetime of a genome, as the dashboard's replay draws it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Replay {
    pub genome_id: String,
    pub env: String,
    pub seed: u64,
    pub episodes: usize,
    pub episode_mode: EpisodeMode,
    /// Each node's role and type, in node order (the wiring's `edges` index them).
    pub nodes: Vec<ReplayNode>,
    /// Each episode's return (rewards up to its first `done`).
    pub returns: Vec<f64>,
    /// The lifetime step by step, exactly as `sfnn eval --seed S --trace` writes it.
    pub trace: Trace,
    /// The L2 norm of each wired synapse's state over time (the heat map).
    pub synapse_norms: SynapseNorms,
}

/// A node of the sampled network.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReplayNode {
    pub role: NodeRole,
    /// Its neuron type (inputs 0, outputs the last type).
    #[serde(rename = "type")]
    pub node_type: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    Input,
    Hidden,
    Output,
}

fn nodes(wiring: &Wiring) -> Vec<ReplayNode> {
    (0..wiring.nodes)
        .map(|j| ReplayNode {
            role: if j < wiring.inputs {
                NodeRole::Input
            } else if j >= wiring.nodes - wiring.outputs {
                NodeRole::Output
            } else {
                NodeRole::Hidden
            },
            node_type: wiring.node_types[j],
        })
        .collect()
}

/// The query, validated.
struct ReplayRequest {
    info: &'static EnvInfo,
    seed: u64,
    protocol: Protocol,
}

/// The replay's parameters, typed; what they allow for a genome is checked against its model
/// ([`ReplayRequest::of`]).
#[derive(Debug, serde::Deserialize)]
struct ReplayQuery {
    env: Option<String>,
    seed: Option<Count>,
    episodes: Option<Count>,
    episode_mode: Option<EpisodeMode>,
}

/// Environments a genome of `model` can run: an input per observation value, an output per
/// action, and at least one hidden node.
fn runnable_envs(model: &ModelConfig) -> Vec<&'static str> {
    envs::all()
        .into_iter()
        .filter(|info| model.nodes > info.obs_dim + info.action_space.output_nodes())
        .map(|info| info.name)
        .collect()
}

/// The most episodes a replay on `info` may have: [`MAX_STEPS`] steps' worth.
fn max_episodes(info: &EnvInfo) -> usize {
    (MAX_STEPS / info.horizon).clamp(1, MAX_EPISODES)
}

impl ReplayRequest {
    fn of(query: ReplayQuery, model: &ModelConfig) -> Result<Self> {
        let allowed = runnable_envs(model);
        let env = query.env.ok_or_else(|| {
            ApiError::invalid(
                "env",
                format!("required; allowed for this genome: {}", allowed.join(", ")),
            )
        })?;
        let info = envs::info(&env)
            .filter(|info| allowed.contains(&info.name))
            .ok_or_else(|| {
                let why = if envs::info(&env).is_some() {
                    "needs more nodes than the genome's model has"
                } else {
                    "is not an environment of this server"
                };
                ApiError::invalid(
                    "env",
                    format!(
                        "{env:?} {why}; allowed for this genome: {}",
                        allowed.join(", ")
                    ),
                )
            })?;
        let seed = query.seed.map_or(0, |Count(seed)| seed);
        let max_episodes = max_episodes(info);
        let episodes = match query.episodes {
            Some(Count(e)) => usize::try_from(e).ok(),
            // `sfnn eval`'s default (the reference's episodes per lifetime), fewer where too long.
            None => Some(crate::evolution::evaluation::default_episodes().min(max_episodes)),
        }
        .filter(|e| (1..=max_episodes).contains(e))
        .ok_or_else(|| {
            ApiError::invalid(
                "episodes",
                format!(
                    "must be an integer from 1 to {max_episodes} for {} ({} steps an episode; \
                     a replay holds at most {MAX_STEPS} steps)",
                    info.name, info.horizon
                ),
            )
        })?;
        let mode = query.episode_mode.unwrap_or_default();
        Ok(ReplayRequest {
            info,
            seed,
            protocol: Protocol { episodes, mode },
        })
    }
}

/// Replay one lifetime of a genome on one environment: the trace of
/// `sfnn eval --env ENV --seed SEED --episodes EPISODES --trace` for its downloaded file, the
/// sampled network's nodes, and the synapse-state norms. Computed on request (a CPU lifetime),
/// a few at once (`sfnn serve --max-replays`).
#[utoipa::path(
    get,
    path = "/api/v1/genomes/{id}/replay",
    tag = "genomes",
    params(
        ("id" = String, Path, description = "The genome's id (a UUID)"),
        ("env" = String, Query, description = "The environment (one the genome's model has \
            the nodes for)"),
        ("seed" = Option<u64>, Query, description = "The lifetime's seed: its wiring, synapse \
            states and resets (default 0)"),
        ("episodes" = Option<usize>, Query, description = "Episodes of the lifetime (default \
            8, or fewer where 8 would exceed the replay's step limit; at most 10,000 steps' \
            worth: 20 CartPole or Acrobot episodes, 50 of MountainCar or Pendulum, 10 of \
            MountainCarContinuous)",
            minimum = 1, maximum = 50),
        ("episode_mode" = inline(Option<EpisodeMode>), Query,
            description = "Episode mode (default fixed_horizon)"),
    ),
    responses(
        (status = 200, description = "The replay", body = Replay),
        NoSuchGenome,
        (status = 422, description = "A parameter is invalid or unknown, or the replay would \
            exceed a limit; `field` names it", body = ErrorBody),
        (status = 429, description = "The server is computing as many replays as it runs at \
            once (`busy`)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
)]
async fn replay(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<ReplayQuery>,
) -> Result<Json<Replay>> {
    // The extractor names an unknown or malformed parameter even for an unknown genome.
    let meta = load_meta(&state, &id).await?;
    let request = ReplayRequest::of(query, &meta.model)?;
    let topology = evolved_topology(&state, &meta).await?;
    let values = state
        .store
        .genome_values(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound("genome".into()))?;
    let slot = state.replays.take()?;
    let model = meta.model;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        run(meta.id, &values, &model, &topology, request)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("replay thread: {e}")))?
    .map(Json)
}

/// The wiring rule the genome evolved under (its job's), as its downloaded file says; the
/// reference rule for genomes without an evolution job.
async fn evolved_topology(state: &AppState, meta: &GenomeMeta) -> Result<Topology> {
    let Some(job) = &meta.job_id else {
        return Ok(Topology::default());
    };
    Ok(match state.store.get_job(job).await? {
        Some(job) => match &job.spec {
            JobPayload::Evolve(spec) => spec.model.topology,
            JobPayload::Evaluate(_) => Topology::default(),
        },
        None => Topology::default(),
    })
}

/// Samples the lifetime, checks its cost, and traces it.
fn run(
    genome_id: String,
    values: &[f32],
    model: &ModelConfig,
    topology: &Topology,
    request: ReplayRequest,
) -> Result<Replay> {
    let ReplayRequest {
        info,
        seed,
        protocol,
    } = request;
    let input = trace::evaluation_lifetime(model, topology, info, protocol, seed);
    let edges = input.wiring.edges.len();
    let d = model.msg_dims;
    if edges.saturating_mul(d) > MAX_SYNAPSE_STATE_VALUES {
        return Err(ApiError::invalid(
            "id",
            format!(
                "this genome's networks are too large to replay: {edges} synapses × {d} state \
                 channels is over {MAX_SYNAPSE_STATE_VALUES} values"
            ),
        ));
    }
    let steps = protocol.episodes * info.horizon; // at most MAX_STEPS, checked
    // A synapse's GRU costs about d² multiply-adds: at d it counts as ⌈d²/16⌉ updates.
    let weight = (d * d)
        .div_ceil(REFERENCE_MSG_DIMS * REFERENCE_MSG_DIMS)
        .max(1);
    if steps
        .checked_mul(edges)
        .and_then(|updates| updates.checked_mul(weight))
        .is_none_or(|work| work > MAX_SYNAPSE_STEPS)
    {
        let most = MAX_SYNAPSE_STEPS / (edges * info.horizon * weight).max(1);
        return Err(ApiError::invalid(
            "episodes",
            format!(
                "this lifetime's network has {edges} synapses of {d} channels, and a replay \
                 runs at most {MAX_SYNAPSE_STEPS} synapse updates (steps × synapses × \
                 ⌈d²/16⌉): at most {most} episodes of {}",
                info.name
            ),
        ));
    }
    // As many columns as the value budget allows, whole steps apart.
    let columns = (MAX_NORM_VALUES / edges.max(1)).max(1);
    let every = steps.div_ceil(columns).max(1);
    let (trace, synapse_norms) =
        trace::trace_lifetime(values, model, info, &input, protocol, seed, Some(every));
    let synapse_norms = synapse_norms.unwrap_or_default();
    Ok(Replay {
        genome_id,
        env: info.name.into(),
        seed,
        episodes: protocol.episodes,
        episode_mode: protocol.mode,
        nodes: nodes(&trace.wiring),
        returns: trace.episodes.iter().map(|e| e.episode_return).collect(),
        trace,
        synapse_norms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> ModelConfig {
        ModelConfig::default()
    }

    fn request(pairs: &[(&str, &str)]) -> Result<ReplayRequest> {
        let raw = serde_urlencoded::to_string(pairs).unwrap();
        ReplayRequest::of(super::super::extract::parse_query(&raw)?, &model())
    }

    fn field(result: Result<ReplayRequest>) -> String {
        match result {
            Err(ApiError::Invalid { field, .. }) => field,
            Err(other) => panic!("not a field error: {other}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn slots_are_given_back_and_zero_refuses_all() {
        let slots = ReplaySlots::new(2);
        let a = slots.take().unwrap();
        let _b = slots.take().unwrap();
        let busy = slots.take().unwrap_err();
        assert_eq!(busy.code(), "busy");
        assert_eq!(busy.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        drop(a);
        let _again = slots.take().unwrap();
        assert_eq!(ReplaySlots::new(0).take().unwrap_err().code(), "busy");
    }

    #[test]
    fn the_documented_episode_maximum_is_the_largest_any_environment_allows() {
        let most = envs::all().into_iter().map(max_episodes).max();
        assert_eq!(
            most,
            Some(50),
            "update the `episodes` maximum of the OpenAPI annotation"
        );
    }

    #[test]
    fn defaults_follow_sfnn_eval() {
        let r = request(&[("env", "CartPole-v1")]).unwrap();
        assert_eq!(r.seed, 0);
        assert_eq!(r.protocol.episodes, 8);
        assert_eq!(r.protocol.mode, EpisodeMode::FixedHorizon);
    }

    #[test]
    fn bad_parameters_are_named() {
        assert_eq!(field(request(&[])), "env");
        assert_eq!(field(request(&[("env", "Nope-v0")])), "env");
        assert_eq!(
            field(request(&[("env", "CartPole-v1"), ("seed", "-1")])),
            "seed"
        );
        assert_eq!(
            field(request(&[("env", "CartPole-v1"), ("episodes", "0")])),
            "episodes"
        );
        assert_eq!(
            field(request(&[("env", "CartPole-v1"), ("episodes", "21")])),
            "episodes"
        );
        assert_eq!(
            field(request(&[("env", "CartPole-v1"), ("episode_mode", "x")])),
            "episode_mode"
        );
        assert_eq!(field(request(&[("env", "CartPole-v1"), ("x", "1")])), "x");
    }

    #[test]
    fn the_heat_map_stays_within_its_budget() {
        let info = envs::info("CartPole-v1").unwrap();
        let request = ReplayRequest {
            info,
            seed: 3,
            protocol: Protocol {
                episodes: 8,
                mode: EpisodeMode::FixedHorizon,
            },
        };
        let model = model();
        let values = vec![0.01f32; model.param_count()];
        let replay = run("g".into(), &values, &model, &Topology::default(), request).unwrap();
        let edges = replay.trace.wiring.edges.len();
        let norms = &replay.synapse_norms;
        assert!(norms.values.len() * edges <= MAX_NORM_VALUES.max(edges));
        assert!(norms.values.iter().all(|c| c.len() == edges));
        assert_eq!(norms.steps.len(), norms.values.len());
        assert_eq!(norms.steps[1], norms.every);
        assert_eq!(replay.nodes.len(), model.nodes);
        assert_eq!(
            replay
                .nodes
                .iter()
                .filter(|n| n.role == NodeRole::Input)
                .count(),
            info.obs_dim
        );
        assert_eq!(replay.returns.len(), 8);
    }
}
