//! The SFNN model (docs/model.md): the genome layout, the wiring sampler and the network step.
//!
//! Pure and synchronous: nothing here knows about jobs, threads or executors. Randomness enters
//! only through the [`Wiring`] and the synapse initial states, which the host draws.

mod genome;
mod genome_file;
mod network;
mod wiring;

pub use genome::{GenomeLayout, Params, TensorInfo};
pub use genome_file::{GenomeFile, GenomeFileError};
pub use network::{Decision, LANES, MAX_MSG_DIMS, MAX_NODES, Network, Readout};
pub use wiring::{Topology, TopologyPreset, Wiring};

use crate::limits::FieldError;
use serde::{Deserialize, Serialize};

/// The sizes that shape a genome and its networks (the reference's defaults: docs/model.md,
/// "Sizes and genome").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
#[schema(default)]
pub struct ModelConfig {
    /// Total nodes N (inputs + hidden + outputs). Reference: 32.
    pub nodes: usize,
    /// Message / synapse-state / neuron width d. Reference: 4.
    pub msg_dims: usize,
    /// Number of building-block sets T (neuron matrix + synapse GRU each). Reference: 3.
    pub node_types: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            nodes: 32,
            msg_dims: 4,
            node_types: 3,
        }
    }
}

impl ModelConfig {
    /// Checks the sizes against what the network step supports ([`crate::limits::spec`]). Call
    /// it before sizing anything from a model read off a file or a request: the layout of an
    /// unchecked model can overflow or ask for any amount of memory.
    pub fn validate(&self) -> Result<(), FieldError> {
        use crate::limits::spec::{MSG_DIMS, NODE_TYPES, NODES};
        NODES.check(self.nodes)?;
        MSG_DIMS.check(self.msg_dims)?;
        NODE_TYPES.check(self.node_types)
    }

    /// Number of evolved parameters: T·(10d² + 7d) + 1 (565 at the reference size).
    pub fn param_count(&self) -> usize {
        GenomeLayout::new(*self).len()
    }
}
