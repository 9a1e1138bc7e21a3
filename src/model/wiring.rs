//! Node types and random connectivity, drawn fresh for every lifetime (docs/model.md, "Wiring").

use rand::RngExt;
use serde::{Deserialize, Serialize};

/// Named connectivity presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TopologyPreset {
    /// The reference: input→hidden, hidden→hidden (no self-loops), hidden→output and
    /// output→hidden, each Bernoulli(0.5); no input→output.
    #[default]
    Reservoir,
    /// Input→hidden and hidden→output only, each Bernoulli(0.5) (the paper's first description).
    Layered,
}

/// Connection probabilities: a preset, optionally with some probabilities overridden.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
#[schema(default)]
pub struct Topology {
    pub preset: TopologyPreset,
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub p_ih: Option<f64>,
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub p_hh: Option<f64>,
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub p_ho: Option<f64>,
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub p_oh: Option<f64>,
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub p_io: Option<f64>,
}

/// The five probabilities after applying the preset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probabilities {
    pub p_ih: f64,
    pub p_hh: f64,
    pub p_ho: f64,
    pub p_oh: f64,
    pub p_io: f64,
}

impl Topology {
    pub fn probabilities(&self) -> Probabilities {
        let base = match self.preset {
            TopologyPreset::Reservoir => Probabilities {
                p_ih: 0.5,
                p_hh: 0.5,
                p_ho: 0.5,
                p_oh: 0.5,
                p_io: 0.0,
            },
            TopologyPreset::Layered => Probabilities {
                p_ih: 0.5,
                p_hh: 0.0,
                p_ho: 0.5,
                p_oh: 0.0,
                p_io: 0.0,
            },
        };
        Probabilities {
            p_ih: self.p_ih.unwrap_or(base.p_ih),
            p_hh: self.p_hh.unwrap_or(base.p_hh),
            p_ho: self.p_ho.unwrap_or(base.p_ho),
            p_oh: self.p_oh.unwrap_or(base.p_oh),
            p_io: self.p_io.unwrap_or(base.p_io),
        }
    }

    /// The first override that is not a probability in [0, 1] (NaN and infinities included),
    /// by field name; `None` when all are.
    /// Checks every given probability is in [0, 1]; errors name `{prefix}.p_…`.
    pub fn validate(&self, prefix: &str) -> Result<(), crate::limits::FieldError> {
        match self.invalid_probability() {
            Some((name, p)) => Err(crate::limits::FieldError::new(
                format!("{prefix}.{name}"),
                format!("must be a probability in [0, 1], got {p}"),
            )),
            None => Ok(()),
        }
    }

    fn invalid_probability(&self) -> Option<(&'static str, f64)> {
        [
            ("p_ih", self.p_ih),
            ("p_hh", self.p_hh),
            ("p_ho", self.p_ho),
            ("p_oh", self.p_oh),
            ("p_io", self.p_io),
        ]
        .into_iter()
        .find_map(|(name, p)| p.filter(|p| !(0.0..=1.0).contains(p)).map(|p| (name, p)))
    }
}

/// One network's structure: node types and the list of synapses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Wiring {
    pub nodes: usize,
    pub inputs: usize,
    pub outputs: usize,
    /// Type of each node; a synapse uses the type of its pre-synaptic node.
    pub node_types: Vec<u8>,
    /// Synapses `[pre, post]`, sorted by (type of pre, pre, post). The order fixes the summation
    /// order of messages, so every executor must walk it as given.
    pub edges: Vec<[u16; 2]>,
}

/// The reference's type rule: inputs 0, outputs T−1, hidden `randint(1, T−1)`. For T ≤ 3 that is
/// deterministic (T = 1: everything 0, since JAX clamps the out-of-range index; T = 2: hidden 1;
/// T = 3: hidden 1); for T ≥ 4 hidden types are uniform on {1, …, T−2}.
pub fn node_types(
    nodes: usize,
    inputs: usize,
    outputs: usize,
    types: usize,
    rng: &mut dyn rand::Rng,
) -> Vec<u8> {
    let last = (types - 1) as u8;
    (0..nodes)
        .map(|j| {
            if j < inputs {
                0
            } else if j >= nodes - outputs {
                last
            } else if types >= 4 {
                rng.random_range(1..last)
            } else {
                1.min(last)
            }
        })
        .collect()
}

impl Wiring {
    /// Draws types and connectivity. Blocks are drawn in a fixed order (input→hidden,
    /// hidden→hidden, hidden→output, output→hidden, input→output), each row-major, one uniform
    /// per candidate pair, so a seed fixes the wiring.
    pub fn sample(
        nodes: usize,
        inputs: usize,
        outputs: usize,
        types: usize,
        topology: &Topology,
        rng: &mut dyn rand::Rng,
    ) -> Wiring {
        let node_types = node_types(nodes, inputs, outputs, types, rng);
        let p = topology.probabilities();
        let hidden = inputs..nodes - outputs;
        let outs = nodes - outputs..nodes;
        let mut edges = Vec::new();
        let mut block = |pres: std::ops::Range<usize>,
                         posts: std::ops::Range<usize>,
                         prob: f64,
                         self_loops: bool,
                         rng: &mut dyn rand::Rng| {
            for i in pres {
                for j in posts.clone() {
                    if i == j && !self_loops {
                        continue;
                    }
                    if rng.random::<f64>() < prob {
                        edges.push([i as u16, j as u16]);
                    }
                }
            }
        };
        block(0..inputs, hidden.clone(), p.p_ih, true, rng);
        block(hidden.clone(), hidden.clone(), p.p_hh, false, rng);
        block(hidden.clone(), outs.clone(), p.p_ho, true, rng);
        block(outs.clone(), hidden.clone(), p.p_oh, true, rng);
        block(0..inputs, outs, p.p_io, true, rng);
        Wiring::from_edges(nodes, inputs, outputs, node_types, edges)
    }

    /// Builds a wiring from any edge list (sorted here into the canonical order).
    pub fn from_edges(
        nodes: usize,
        inputs: usize,
        outputs: usize,
        node_types: Vec<u8>,
        mut edges: Vec<[u16; 2]>,
    ) -> Wiring {
        edges.sort_by_key(|&[i, j]| (node_types[i as usize], i, j));
        Wiring {
            nodes,
            inputs,
            outputs,
            node_types,
            edges,
        }
    }

    /// Builds a wiring from a dense 0/1 adjacency matrix (`adjacency[i][j] != 0`: synapse i → j).
    pub fn from_adjacency(
        inputs: usize,
        outputs: usize,
        node_types: Vec<u8>,
        adjacency: &[Vec<f64>],
    ) -> Wiring {
        let nodes = adjacency.len();
        let edges = (0..nodes)
            .flat_map(|i| (0..nodes).map(move |j| (i, j)))
            .filter(|&(i, j)| adjacency[i][j] != 0.0)
            .map(|(i, j)| [i as u16, j as u16])
            .collect();
        Wiring::from_edges(nodes, inputs, outputs, node_types, edges)
    }

    pub fn hidden(&self) -> std::ops::Range<usize> {
        self.inputs..self.nodes - self.outputs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn role(w: &Wiring, node: usize) -> char {
        if node < w.inputs {
            'i'
        } else if node >= w.nodes - w.outputs {
            'o'
        } else {
            'h'
        }
    }

    #[test]
    fn reservoir_has_only_the_reference_blocks_and_expected_density() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut total = 0;
        let runs = 200;
        for _ in 0..runs {
            let w = Wiring::sample(32, 4, 2, 3, &Topology::default(), &mut rng);
            for &[i, j] in &w.edges {
                let (i, j) = (i as usize, j as usize);
                let kind = format!("{}{}", role(&w, i), role(&w, j));
                assert!(["ih", "hh", "ho", "oh"].contains(&kind.as_str()), "{kind}");
                assert_ne!(i, j, "self-loop");
            }
            total += w.edges.len();
        }
        // docs/model.md, "Wiring": 52 + 325 + 26 + 26 = 429 expected edges for CartPole sizes.
        let mean = total as f64 / runs as f64;
        assert!((mean - 429.0).abs() < 3.0, "mean edge count {mean}");
    }

    #[test]
    fn layered_has_no_recurrence() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let topology = Topology {
            preset: TopologyPreset::Layered,
            ..Topology::default()
        };
        let w = Wiring::sample(32, 6, 3, 3, &topology, &mut rng);
        assert!(!w.edges.is_empty());
        for &[i, j] in &w.edges {
            let kind = format!("{}{}", role(&w, i as usize), role(&w, j as usize));
            assert!(kind == "ih" || kind == "ho", "{kind}");
        }
    }

    #[test]
    fn overridden_probabilities_apply() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let topology = Topology {
            p_io: Some(1.0),
            p_hh: Some(0.0),
            ..Topology::default()
        };
        let w = Wiring::sample(10, 2, 2, 3, &topology, &mut rng);
        let io = w
            .edges
            .iter()
            .filter(|e| role(&w, e[0] as usize) == 'i' && role(&w, e[1] as usize) == 'o')
            .count();
        assert_eq!(io, 4);
        assert!(
            w.edges
                .iter()
                .all(|e| !(role(&w, e[0] as usize) == 'h' && role(&w, e[1] as usize) == 'h'))
        );
    }

    #[test]
    fn type_rule_matches_the_reference() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        assert_eq!(node_types(5, 1, 1, 1, &mut rng), [0, 0, 0, 0, 0]);
        assert_eq!(node_types(5, 1, 1, 2, &mut rng), [0, 1, 1, 1, 1]);
        assert_eq!(node_types(5, 1, 1, 3, &mut rng), [0, 1, 1, 1, 2]);
        let t = node_types(200, 2, 2, 5, &mut rng);
        assert_eq!(t[..2], [0, 0]);
        assert_eq!(t[198..], [4, 4]);
        for k in 1..=3 {
            assert!(t[2..198].contains(&k), "hidden type {k} never drawn");
        }
        assert!(t[2..198].iter().all(|&k| (1..=3).contains(&k)));
    }

    #[test]
    fn edges_are_sorted_by_pre_type_then_pre_then_post() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let w = Wiring::sample(32, 4, 2, 5, &Topology::default(), &mut rng);
        let keys: Vec<_> = w
            .edges
            .iter()
            .map(|&[i, j]| (w.node_types[i as usize], i, j))
            .collect();
        assert!(keys.windows(2).all(|p| p[0] < p[1]));
    }
}
