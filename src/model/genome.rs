//! The genome: a flat parameter vector in the reference's order, and typed views into it.

use super::ModelConfig;
use crate::num::Real;
use serde::{Deserialize, Serialize};

/// One named tensor of the flat genome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TensorInfo {
    /// The equinox leaf path without the leading dot, e.g. `edge_cells.weight_ih`.
    pub name: String,
    pub shape: Vec<usize>,
    pub offset: usize,
    pub size: usize,
}

/// Where each tensor lives in the flat vector: `jax.flatten_util.ravel_pytree` order (module
/// field order, each leaf row-major), so a vector flattened by the JAX reference (or by evosax's
/// `ParameterReshaper`) loads unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenomeLayout {
    pub model: ModelConfig,
    pub tensors: Vec<TensorInfo>,
}

/// Leaf names in flat order, with their shapes for T types and width d.
fn leaf_shapes(t: usize, d: usize) -> [(&'static str, Vec<usize>); 6] {
    [
        ("node_cells.out.weight", vec![t, d, d]),
        ("edge_cells.weight_ih", vec![t, 3 * d, 2 * d + 1]),
        ("edge_cells.weight_hh", vec![t, 3 * d, d]),
        ("edge_cells.bias", vec![t, 3 * d]),
        ("edge_cells.bias_n", vec![t, d]),
        ("learning_rate", vec![1]),
    ]
}

impl GenomeLayout {
    pub fn new(model: ModelConfig) -> Self {
        let mut offset = 0;
        let tensors = leaf_shapes(model.node_types, model.msg_dims)
            .into_iter()
            .map(|(name, shape)| {
                let size = shape.iter().product();
                let info = TensorInfo {
                    name: name.to_string(),
                    shape,
                    offset,
                    size,
                };
                offset += size;
                info
            })
            .collect();
        GenomeLayout { model, tensors }
    }

    /// Total number of parameters.
    pub fn len(&self) -> usize {
        self.tensors.last().map_or(0, |t| t.offset + t.size)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }
}

/// The genome unpacked for one network step, converted to the executor's float type.
///
/// Per type τ: the neuron matrix **transposed** (input-major, so the step can accumulate all
/// outputs of one input at once), the GRU's `w_ih[τ]` (3d × (2d+1)), `w_hh[τ]` (3d × d),
/// `bias[τ]` (3d) and `bias_n[τ]` (d); gate rows in the order [r; z; n] as equinox.
#[derive(Debug, Clone)]
pub struct Params<F> {
    pub types: usize,
    pub d: usize,
    /// `neuron_w_t[τ][in][out]` = `W_τ[out][in]` (d × d per type).
    pub neuron_w_t: Vec<F>,
    /// `W_ih,τ[gate][input]` (3d × (2d+1) per type).
    pub w_ih: Vec<F>,
    pub w_hh: Vec<F>,
    pub bias: Vec<F>,
    pub bias_n: Vec<F>,
    /// The evolved plasticity rate λ.
    pub learning_rate: F,
    /// `0.01 · λ` as the reference forms it in float32 (0.01 rounded first, then the product).
    pub plasticity: F,
}

impl<F: Real> Params<F> {
    /// Unpacks a flat genome (`values.len()` must equal `layout.len()`).
    pub fn from_flat<S: Copy + Into<f64>>(layout: &GenomeLayout, values: &[S]) -> Self {
        assert_eq!(
            values.len(),
            layout.len(),
            "genome length does not match its layout"
        );
        let slice = |i: usize| -> Vec<F> {
            let t = &layout.tensors[i];
            values[t.offset..t.offset + t.size]
                .iter()
                .map(|&v| F::of(v.into()))
                .collect()
        };
        let learning_rate = slice(5)[0];
        let d = layout.model.msg_dims;
        Params {
            types: layout.model.node_types,
            d: layout.model.msg_dims,
            neuron_w_t: transpose_per_type(&slice(0), layout.model.node_types, d, d),
            w_ih: slice(1),
            w_hh: slice(2),
            bias: slice(3),
            bias_n: slice(4),
            learning_rate,
            plasticity: F::of(0.01) * learning_rate,
        }
    }
}

/// Transposes each of `types` row-major `rows × cols` matrices stored back to back.
fn transpose_per_type<F: Copy>(values: &[F], types: usize, rows: usize, cols: usize) -> Vec<F> {
    let mut out = values.to_vec();
    for t in 0..types {
        let (src, dst) = (&values[t * rows * cols..], &mut out[t * rows * cols..]);
        for r in 0..rows {
            for c in 0..cols {
                dst[c * rows + r] = src[r * cols + c];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_size_has_565_parameters_in_reference_order() {
        let layout = GenomeLayout::new(ModelConfig::default());
        assert_eq!(layout.len(), 565);
        let offsets: Vec<_> = layout.tensors.iter().map(|t| t.offset).collect();
        assert_eq!(offsets, [0, 48, 372, 516, 552, 564]);
    }

    #[test]
    fn count_follows_the_closed_form() {
        for t in 1..6 {
            for d in 1..9 {
                let model = ModelConfig {
                    nodes: 32,
                    msg_dims: d,
                    node_types: t,
                };
                assert_eq!(model.param_count(), t * (10 * d * d + 7 * d) + 1);
            }
        }
    }
}
