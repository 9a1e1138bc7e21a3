//! The flat arrays the kernel reads, built from an [`EvalRequest`] on the host.
//!
//! Nothing is drawn here: the wiring, synapse initial states and reset pools are the request's,
//! so the GPU sees exactly what the CPU executor sees. The only thing added is, per lifetime, the
//! list of each node's incoming synapses in ascending sender order, which fixes the summation
//! order of the messages (the CPU's order, see `kernels/sfnn.cu`).

use crate::exec::{EvalRequest, ExecError};
use crate::model::GenomeLayout;

/// Threads per block (the kernel's `__launch_bounds__`).
pub const THREADS: u32 = 192;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Packed {
    pub lifetimes: usize,
    pub lifetimes_per_member: usize,
    pub env_ids: Vec<i32>,
    pub node_types: Vec<u8>,
    pub edge_offsets: Vec<u32>,
    pub edge_pre: Vec<u16>,
    pub edge_post: Vec<u16>,
    pub in_offsets: Vec<u32>,
    pub in_edges: Vec<u16>,
    pub synapse_init: Vec<f32>,
    pub reset_offsets: Vec<u32>,
    pub resets: Vec<f32>,
    /// The lifetime each thread block runs, in launch order: see [`launch_order`].
    pub block_lifetimes: Vec<u32>,
    /// The most synapses any lifetime has.
    pub max_edges: usize,
}

/// The order blocks are launched in: the longest lifetimes first (environment steps at most,
/// `horizon × episodes`), in request order among equals. The GPU hands out the first wave of
/// blocks round-robin over its SMs; in request order a paper generation's environments
/// alternate with a period that divides the SM count, so each SM got blocks of one environment
/// only, and those of the short one (MountainCar, 1,600 steps against 4,000) sat idle for most
/// of the launch. Longest first spreads the short lifetimes over every SM (docs/gpu-model.md).
pub fn launch_order(request: &EvalRequest) -> Vec<u32> {
    let envs = request.envs.len();
    let steps = |index: usize| request.envs[index % envs].horizon * request.protocol.episodes;
    let mut order: Vec<u32> = (0..request.lifetimes.len() as u32).collect();
    order.sort_by_key(|&index| std::cmp::Reverse(steps(index as usize)));
    order
}

fn invalid(message: String) -> ExecError {
    ExecError::InvalidRequest(message)
}

/// Checks the request as thoroughly as the kernel needs (it has no bounds checks of its own)
/// and flattens it.
pub fn pack(request: &EvalRequest) -> Result<Packed, ExecError> {
    let model = request.model;
    // The sizes the step supports, as every executor checks them (`limits::spec`).
    model.validate().map_err(|e| invalid(e.to_string()))?;
    let (n, d) = (model.nodes, model.msg_dims);
    let envs = request.envs.len();
    let per_member = request.repeats * envs;
    if envs == 0 || request.repeats == 0 || !request.lifetimes.len().is_multiple_of(per_member) {
        return Err(invalid(
            "lifetimes must be ordered [member][repeat][env]".into(),
        ));
    }
    let params = GenomeLayout::new(model).len();
    let members = request.members();
    if request.genomes.len() != members * params {
        return Err(invalid(format!(
            "{} genome values for {members} members of {params} parameters",
            request.genomes.len()
        )));
    }
    if request.protocol.episodes == 0 {
        return Err(invalid("at least one episode".into()));
    }
    if request.lifetimes.iter().any(|l| l.feed.is_some()) {
        return Err(invalid(
            "input variants (permuted or extra inputs) run on the CPU executor".into(),
        ));
    }
    let env_ids: Vec<i32> = request
        .envs
        .iter()
        .map(|info| {
            // The kernel's ids are `envs::all()`'s order (tests/cuda_kernel_emulation.rs
            // checks its table).
            crate::envs::all()
                .iter()
                .position(|known| known.name == info.name)
                .map(|i| i as i32)
                .ok_or_else(|| invalid(format!("the CUDA executor has no {}", info.name)))
        })
        .collect::<Result<_, _>>()?;

    let lifetimes = request.lifetimes.len();
    let mut packed = Packed {
        lifetimes,
        lifetimes_per_member: per_member,
        edge_offsets: vec![0],
        reset_offsets: vec![0],
        ..Packed::default()
    };
    for (index, input) in request.lifetimes.iter().enumerate() {
        let info = request.envs[index % envs];
        let wiring = &input.wiring;
        let outputs = info.action_space.output_nodes();
        if wiring.nodes != n
            || wiring.inputs != info.obs_dim
            || wiring.outputs != outputs
            || wiring.node_types.len() != n
            || n < wiring.inputs + outputs
        {
            return Err(invalid(format!(
                "lifetime {index}: wiring does not fit {} with {n} nodes",
                info.name
            )));
        }
        if wiring
            .node_types
            .iter()
            .any(|&t| t as usize >= model.node_types)
        {
            return Err(invalid(format!("lifetime {index}: node type out of range")));
        }
        let edges = wiring.edges.len();
        if edges > u16::MAX as usize {
            return Err(invalid(format!("lifetime {index}: too many synapses")));
        }
        if wiring
            .edges
            .iter()
            .any(|&[i, j]| i as usize >= n || j as usize >= n)
        {
            return Err(invalid(format!(
                "lifetime {index}: synapse endpoint out of range"
            )));
        }
        if input.synapse_init.len() != edges * d {
            return Err(invalid(format!(
                "lifetime {index}: {} synapse initial values for {edges} synapses × {d}",
                input.synapse_init.len()
            )));
        }
        let dim = info.state_dim;
        if !input.resets.len().is_multiple_of(dim)
            || input.resets.len() / dim < request.protocol.episodes
        {
            return Err(invalid(format!(
                "lifetime {index}: the reset pool must hold at least one {dim}-value state per \
                 episode"
            )));
        }

        packed.env_ids.push(env_ids[index % envs]);
        packed.node_types.extend_from_slice(&wiring.node_types);
        packed.edge_pre.extend(wiring.edges.iter().map(|e| e[0]));
        packed.edge_post.extend(wiring.edges.iter().map(|e| e[1]));
        // Incoming synapses of each node, senders ascending (the CPU's summation order).
        let mut incoming: Vec<(u16, u16, u16)> = wiring
            .edges
            .iter()
            .enumerate()
            .map(|(k, &[i, j])| (j, i, k as u16))
            .collect();
        incoming.sort_unstable();
        let mut cursor = 0;
        for node in 0..n {
            packed.in_offsets.push(cursor as u32);
            while cursor < incoming.len() && incoming[cursor].0 as usize == node {
                cursor += 1;
            }
        }
        packed.in_offsets.push(cursor as u32);
        packed.in_edges.extend(incoming.iter().map(|&(_, _, k)| k));
        packed.synapse_init.extend_from_slice(&input.synapse_init);
        let total = packed.edge_pre.len();
        if total > u32::MAX as usize {
            return Err(invalid("too many synapses in one request".into()));
        }
        packed.edge_offsets.push(total as u32);
        packed.max_edges = packed.max_edges.max(edges);
        packed.resets.extend_from_slice(&input.resets);
        if packed.resets.len() > u32::MAX as usize {
            return Err(invalid("reset pools too large for one request".into()));
        }
        packed.reset_offsets.push(packed.resets.len() as u32);
    }
    packed.block_lifetimes = launch_order(request);
    Ok(packed)
}

/// Where a block keeps its synapse states and the input gates' post parts (the kernel's
/// `states_in_global`): in dynamic shared memory, or in its own part of a global scratch area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Shared = 0,
    StatesGlobal = 1,
    StatesAndPostGlobal = 2,
}

/// The sizes of one block's memory that depend on the network.
#[derive(Debug, Clone, Copy)]
pub struct BlockSizes {
    pub params: usize,
    pub nodes: usize,
    pub d: usize,
    pub types: usize,
    /// The most synapses of any lifetime in the launch.
    pub max_edges: usize,
}

impl BlockSizes {
    fn post_floats(&self) -> usize {
        self.types * self.nodes * 3 * self.d
    }

    /// Dynamic shared memory of one block, mirroring the carve-up at the top of the kernel: the
    /// genome (padded to 4 floats), three activation buffers and the message buffer (`nodes ×
    /// d` each), 8 observation slots, the node types (padded to 4), the input gates' pre parts
    /// (`nodes × 3d`, padded to 4), then, when they live there, their post parts (`types ×
    /// nodes × 3d`, padded to 4); with everything in shared memory, also the wiring lists
    /// (`nodes + 1` offsets, padded to 4, and two words per synapse) and the synapse states
    /// (`edges × d`).
    pub fn shared_bytes(&self, placement: Placement) -> usize {
        let (nodes, d) = (self.nodes, self.d);
        let mut words = self.params.next_multiple_of(4)
            + 4 * nodes * d
            + 8
            + nodes.next_multiple_of(4)
            + (nodes * 3 * d).next_multiple_of(4);
        if placement != Placement::StatesAndPostGlobal {
            words += self.post_floats().next_multiple_of(4);
        }
        if placement == Placement::Shared {
            words += (nodes + 1).next_multiple_of(4) + 2 * self.max_edges + self.max_edges * d;
        }
        4 * words
    }

    /// Floats of the global scratch area per block (the kernel's per-block stride).
    pub fn scratch_floats(&self, placement: Placement) -> usize {
        match placement {
            Placement::Shared => 0,
            Placement::StatesGlobal => self.max_edges * self.d,
            Placement::StatesAndPostGlobal => self.max_edges * self.d + self.post_floats(),
        }
    }

    /// The placement with the most in shared memory that fits in `limit` bytes per block.
    pub fn placement(&self, limit: usize) -> Option<Placement> {
        [
            Placement::Shared,
            Placement::StatesGlobal,
            Placement::StatesAndPostGlobal,
        ]
        .into_iter()
        .find(|&p| self.shared_bytes(p) <= limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envs;
    use crate::exec::{EpisodeMode, Protocol, Sampler};
    use crate::model::{ModelConfig, Topology};

    #[test]
    fn incoming_lists_are_sorted_by_sender_and_cover_every_synapse() {
        let model = ModelConfig::default();
        let env_list = [
            envs::info("Acrobot-v1").unwrap(),
            envs::info("Pendulum-v1").unwrap(),
        ];
        let protocol = Protocol {
            episodes: 2,
            mode: EpisodeMode::FixedHorizon,
        };
        let sampler = Sampler {
            model: &model,
            topology: &Topology::default(),
            envs: &env_list,
            protocol,
            repeats: 2,
            seed: 3,
        };
        let lifetimes = sampler.generation(0, 2);
        let genomes = vec![0.0f32; 2 * model.param_count()];
        let request = EvalRequest {
            model,
            envs: &env_list,
            protocol,
            genomes: &genomes,
            repeats: 2,
            lifetimes: &lifetimes,
        };
        let packed = pack(&request).unwrap();
        assert_eq!(packed.env_ids, [1, 3, 1, 3, 1, 3, 1, 3]);
        // Acrobot (500 steps per episode) before Pendulum (200), each in request order.
        assert_eq!(packed.block_lifetimes, [0, 2, 4, 6, 1, 3, 5, 7]);
        for (l, input) in lifetimes.iter().enumerate() {
            let base = packed.edge_offsets[l] as usize;
            let offsets = &packed.in_offsets[l * (model.nodes + 1)..][..model.nodes + 1];
            let mut seen = vec![false; input.wiring.edges.len()];
            for j in 0..model.nodes {
                let list =
                    &packed.in_edges[base + offsets[j] as usize..base + offsets[j + 1] as usize];
                let senders: Vec<u16> = list
                    .iter()
                    .map(|&k| input.wiring.edges[k as usize][0])
                    .collect();
                assert!(
                    senders.windows(2).all(|w| w[0] < w[1]),
                    "node {j}: {senders:?}"
                );
                for &k in list {
                    assert_eq!(input.wiring.edges[k as usize][1] as usize, j);
                    seen[k as usize] = true;
                }
            }
            assert!(seen.iter().all(|&s| s));
        }
        let mut bad = lifetimes.clone();
        bad[3].resets.truncate(1);
        let request = EvalRequest {
            lifetimes: &bad,
            ..request
        };
        assert!(matches!(pack(&request), Err(ExecError::InvalidRequest(_))));
    }

    #[test]
    fn the_reference_network_fits_in_shared_memory() {
        let model = ModelConfig::default();
        // Even a fully wired 32-node network (no self-loops) stays well under 48 KiB.
        let sizes = BlockSizes {
            params: model.param_count(),
            nodes: 32,
            d: 4,
            types: model.node_types,
            max_edges: 32 * 31,
        };
        let bytes = sizes.shared_bytes(Placement::Shared);
        assert!(bytes < 48 * 1024, "{bytes}");
        assert_eq!(sizes.placement(48 * 1024), Some(Placement::Shared));
    }

    #[test]
    fn large_networks_move_states_then_post_parts_to_global_memory() {
        let sizes = BlockSizes {
            params: 10_000,
            nodes: 256,
            d: 8,
            types: 16,
            max_edges: 5_000,
        };
        let post_bytes = 4 * 16 * 256 * 3 * 8;
        // The states and the wiring lists (offsets padded to 4, two words per synapse).
        let states_and_lists_bytes = 4 * 5_000 * 8 + 4 * (260 + 2 * 5_000);
        let all = sizes.shared_bytes(Placement::Shared);
        assert_eq!(
            all - sizes.shared_bytes(Placement::StatesGlobal),
            states_and_lists_bytes
        );
        assert_eq!(
            sizes.shared_bytes(Placement::StatesGlobal)
                - sizes.shared_bytes(Placement::StatesAndPostGlobal),
            post_bytes
        );
        assert_eq!(sizes.placement(all), Some(Placement::Shared));
        assert_eq!(sizes.placement(all - 1), Some(Placement::StatesGlobal));
        let least = sizes.shared_bytes(Placement::StatesAndPostGlobal);
        assert_eq!(sizes.placement(least), Some(Placement::StatesAndPostGlobal));
        assert_eq!(sizes.placement(least - 1), None);
        assert_eq!(sizes.scratch_floats(Placement::Shared), 0);
        assert_eq!(
            sizes.scratch_floats(Placement::StatesAndPostGlobal),
            5_000 * 8 + 16 * 256 * 3 * 8
        );
    }
}
