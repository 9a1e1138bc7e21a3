//! Genome files: JSON (layout + values) and safetensors (one named tensor per leaf), both
//! readable without this program. A genome flattened by the JAX reference loads unchanged: the
//! values are in `ravel_pytree` order and the tensor names are the equinox leaf paths.

use super::{GenomeLayout, ModelConfig, TensorInfo, Topology};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

pub const FORMAT: &str = "sfnn-genome";
pub const VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum GenomeFileError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("not a genome file: {0}")]
    Format(String),
    #[error("genome does not match its model: {0}")]
    Layout(String),
    #[error("unsupported model: {0}")]
    Model(#[from] crate::limits::FieldError),
}

/// A genome with everything needed to use it elsewhere.
///
/// Only `model` and `values` are required: `{"model": {...}, "values": [...]}` (a flat array in
/// the reference's order) is a genome file too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenomeFile {
    #[serde(default = "format_tag")]
    #[schema(default = "sfnn-genome")]
    pub format: String,
    #[serde(default = "format_version")]
    #[schema(default = 1)]
    pub version: u32,
    pub model: ModelConfig,
    /// The named tensors and where they sit in `values` (filled in from `model` when absent).
    #[serde(default)]
    pub tensors: Vec<TensorInfo>,
    pub values: Vec<f32>,
    #[serde(default)]
    pub fitness: Option<f64>,
    /// The wiring probabilities of the job that made the genome, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology: Option<Topology>,
    /// The job's spec, where known (informative; not validated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub spec: Option<serde_json::Value>,
    /// Free-form provenance (job, generation, kind).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

fn format_tag() -> String {
    FORMAT.into()
}

fn format_version() -> u32 {
    VERSION
}

impl GenomeFile {
    pub fn new(model: ModelConfig, values: Vec<f32>, fitness: Option<f64>) -> Self {
        GenomeFile {
            format: FORMAT.into(),
            version: VERSION,
            model,
            tensors: GenomeLayout::new(model).tensors,
            values,
            fitness,
            topology: None,
            spec: None,
            metadata: BTreeMap::new(),
        }
    }

    /// Records the job that made the genome: its wiring probabilities and its spec.
    pub fn with_job(mut self, topology: Topology, spec: serde_json::Value) -> Self {
        self.topology = Some(topology);
        self.spec = Some(spec);
        self
    }

    pub fn with_metadata(mut self, key: &str, value: impl ToString) -> Self {
        self.metadata.insert(key.into(), value.to_string());
        self
    }

    pub fn layout(&self) -> GenomeLayout {
        GenomeLayout::new(self.model)
    }

    /// Checks the format tag, the model's sizes, the layout and that every value is finite, and
    /// fills in the tensor table of a file that left it out.
    pub fn complete(mut self) -> Result<Self, GenomeFileError> {
        self.model.validate()?;
        if self.tensors.is_empty() {
            self.tensors = self.layout().tensors;
        }
        self.validate()?;
        Ok(self)
    }

    /// Checks the format tag, the model's sizes, the layout and that every value is finite.
    pub fn validate(&self) -> Result<(), GenomeFileError> {
        if self.format != FORMAT || self.version != VERSION {
            return Err(GenomeFileError::Format(format!(
                "expected format {FORMAT:?} version {VERSION}, got {:?} version {}",
                self.format, self.version
            )));
        }
        self.model.validate()?;
        let layout = self.layout();
        if self.tensors != layout.tensors {
            return Err(GenomeFileError::Layout(
                "tensors differ from the layout of the model".into(),
            ));
        }
        if self.values.len() != layout.len() {
            return Err(GenomeFileError::Layout(format!(
                "{} values, the model needs {}",
                self.values.len(),
                layout.len()
            )));
        }
        if let Some(i) = self.values.iter().position(|v| !v.is_finite()) {
            return Err(GenomeFileError::Layout(format!("value {i} is not finite")));
        }
        if let Some(t) = &self.topology {
            t.validate("topology")?;
        }
        use crate::limits::genome::MAX_SPEC_BYTES;
        if self
            .spec
            .as_ref()
            .is_some_and(|s| s.to_string().len() > MAX_SPEC_BYTES)
        {
            return Err(GenomeFileError::Format(format!(
                "spec: at most {MAX_SPEC_BYTES} bytes"
            )));
        }
        Ok(())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("genome serialises")
    }

    pub fn from_json(text: &str) -> Result<Self, GenomeFileError> {
        let file: GenomeFile =
            serde_json::from_str(text).map_err(|e| GenomeFileError::Format(e.to_string()))?;
        file.complete()
    }

    /// safetensors bytes: one F32 tensor per leaf; the model sizes, fitness, topology, spec
    /// (each JSON) and metadata go in the header's `__metadata__`.
    pub fn to_safetensors(&self) -> Vec<u8> {
        let bytes: Vec<u8> = self.values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let views: Vec<(String, TensorView)> = self
            .tensors
            .iter()
            .map(|t| {
                let data = &bytes[t.offset * 4..(t.offset + t.size) * 4];
                let view = TensorView::new(Dtype::F32, t.shape.clone(), data)
                    .expect("shape matches the data");
                (t.name.clone(), view)
            })
            .collect();
        let mut header: HashMap<String, String> = self.metadata.clone().into_iter().collect();
        header.insert("format".into(), FORMAT.into());
        header.insert("version".into(), VERSION.to_string());
        header.insert(
            "model".into(),
            serde_json::to_string(&self.model).expect("model serialises"),
        );
        if let Some(f) = self.fitness {
            header.insert("fitness".into(), format!("{f:?}"));
        }
        if let Some(t) = &self.topology {
            header.insert(
                "topology".into(),
                serde_json::to_string(t).expect("topology serialises"),
            );
        }
        if let Some(s) = &self.spec {
            header.insert("spec".into(), s.to_string());
        }
        safetensors::serialize(views, Some(header)).expect("safetensors serialises")
    }

    /// Reads safetensors bytes with our tensor names. The model sizes come from the header's
    /// `model` entry or, in a file without one (tensors re-saved by `safetensors.numpy`), from
    /// the tensor shapes, with N = 32 (N is in no shape).
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self, GenomeFileError> {
        let bad = |e: &dyn std::fmt::Display| GenomeFileError::Format(e.to_string());
        let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(|e| bad(&e))?;
        let mut header: BTreeMap<String, String> = metadata
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let tensors = SafeTensors::deserialize(bytes).map_err(|e| bad(&e))?;
        let model: ModelConfig = match header.remove("model") {
            Some(json) => serde_json::from_str(&json).map_err(|e| bad(&format!("model: {e}")))?,
            None => model_from_shapes(&tensors)?,
        };
        let fitness = match header.remove("fitness") {
            Some(f) => Some(
                f.parse::<f64>()
                    .map_err(|e| bad(&format!("fitness: {e}")))?,
            ),
            None => None,
        };
        let topology = match header.remove("topology") {
            Some(t) => Some(serde_json::from_str(&t).map_err(|e| bad(&format!("topology: {e}")))?),
            None => None,
        };
        let spec = match header.remove("spec") {
            Some(s) => Some(serde_json::from_str(&s).map_err(|e| bad(&format!("spec: {e}")))?),
            None => None,
        };
        header.remove("format");
        header.remove("version");
        // The header is the sender's word: check the sizes before sizing anything from them.
        model.validate()?;
        let layout = GenomeLayout::new(model);
        if let Some((name, _)) = tensors
            .tensors()
            .into_iter()
            .find(|(name, _)| layout.tensor(name).is_none())
        {
            let names: Vec<&str> = layout.tensors.iter().map(|t| t.name.as_str()).collect();
            return Err(GenomeFileError::Layout(format!(
                "unknown tensor {name}; a genome has {}",
                names.join(", ")
            )));
        }
        let mut values = vec![0.0f32; layout.len()];
        for t in &layout.tensors {
            let view = tensors.tensor(&t.name).map_err(|_| {
                GenomeFileError::Layout(format!("missing tensor {} (F32 {:?})", t.name, t.shape))
            })?;
            if view.dtype() != Dtype::F32 || view.shape() != t.shape.as_slice() {
                return Err(GenomeFileError::Layout(format!(
                    "tensor {} should be F32 {:?} for {}, is {:?} {:?}",
                    t.name,
                    t.shape,
                    model_words(&model),
                    view.dtype(),
                    view.shape()
                )));
            }
            for (v, b) in values[t.offset..t.offset + t.size]
                .iter_mut()
                .zip(view.data().chunks_exact(4))
            {
                *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        let file = GenomeFile {
            metadata: header,
            topology,
            spec,
            ..GenomeFile::new(model, values, fitness)
        };
        file.validate()?;
        Ok(file)
    }

    /// Reads a `.json` or `.safetensors` file (told apart by content).
    pub fn load(path: &Path) -> Result<Self, GenomeFileError> {
        let bytes = std::fs::read(path).map_err(|source| GenomeFileError::Io {
            path: path.display().to_string(),
            source,
        })?;
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            let text =
                String::from_utf8(bytes).map_err(|e| GenomeFileError::Format(e.to_string()))?;
            Self::from_json(&text)
        } else {
            Self::from_safetensors(&bytes)
        }
    }
}

/// The neuron tensor `[T, d, d]` gives the number of types and the width.
fn model_from_shapes(tensors: &SafeTensors) -> Result<ModelConfig, GenomeFileError> {
    const NAME: &str = "node_cells.out.weight";
    let view = tensors.tensor(NAME).map_err(|_| {
        GenomeFileError::Layout(format!(
            "the header has no \"model\" entry and there is no tensor {NAME} \
             ([node_types, msg_dims, msg_dims]) to infer it from"
        ))
    })?;
    match view.shape() {
        &[t, d, d2] if d == d2 => Ok(ModelConfig {
            node_types: t,
            msg_dims: d,
            ..ModelConfig::default()
        }),
        other => Err(GenomeFileError::Layout(format!(
            "tensor {NAME} should have shape [node_types, msg_dims, msg_dims], is {other:?}"
        ))),
    }
}

fn model_words(m: &ModelConfig) -> String {
    format!("node_types {} and msg_dims {}", m.node_types, m.msg_dims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> GenomeFile {
        let model = ModelConfig::default();
        let values = (0..model.param_count())
            .map(|i| i as f32 * 0.001 - 0.2)
            .collect();
        GenomeFile::new(model, values, Some(0.25)).with_metadata("job", "abc")
    }

    #[test]
    fn json_round_trips() {
        let g = sample();
        assert_eq!(GenomeFile::from_json(&g.to_json()).unwrap(), g);
    }

    #[test]
    fn safetensors_round_trips_with_named_tensors() {
        let g = sample();
        let bytes = g.to_safetensors();
        assert_eq!(GenomeFile::from_safetensors(&bytes).unwrap(), g);
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let w = st.tensor("edge_cells.weight_ih").unwrap();
        assert_eq!(w.shape(), [3, 12, 9]);
        let first = f32::from_le_bytes(w.data()[..4].try_into().unwrap());
        assert_eq!(first, g.values[48]);
    }

    /// What `safetensors.numpy.save_file` writes: the same tensors, no `__metadata__`.
    fn bare(g: &GenomeFile, skip: Option<&str>, reshape: Option<(&str, Vec<usize>)>) -> Vec<u8> {
        let bytes: Vec<u8> = g.values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let views: Vec<(String, TensorView)> = g
            .tensors
            .iter()
            .filter(|t| Some(t.name.as_str()) != skip)
            .map(|t| {
                let shape = match &reshape {
                    Some((name, shape)) if *name == t.name => shape.clone(),
                    _ => t.shape.clone(),
                };
                let data = &bytes[t.offset * 4..(t.offset + t.size) * 4];
                (
                    t.name.clone(),
                    TensorView::new(Dtype::F32, shape, data).unwrap(),
                )
            })
            .collect();
        safetensors::serialize(views, None).unwrap()
    }

    #[test]
    fn bare_safetensors_infer_the_model_from_the_shapes() {
        let model = ModelConfig {
            nodes: 32,
            msg_dims: 3,
            node_types: 5,
        };
        let values = (0..model.param_count()).map(|i| i as f32 * 0.01).collect();
        let g = GenomeFile::new(model, values, None);
        let read = GenomeFile::from_safetensors(&bare(&g, None, None)).unwrap();
        assert_eq!(read.model, model);
        assert_eq!(read.values, g.values);

        let err = GenomeFile::from_safetensors(&bare(&g, Some("edge_cells.bias"), None));
        let msg = err.unwrap_err().to_string();
        assert!(
            msg.contains("missing tensor edge_cells.bias (F32 [5, 9])"),
            "{msg}"
        );
        let err = GenomeFile::from_safetensors(&bare(
            &g,
            None,
            Some(("edge_cells.weight_hh", vec![5, 3, 9])),
        ));
        let msg = err.unwrap_err().to_string();
        assert!(
            msg.contains("tensor edge_cells.weight_hh should be F32 [5, 9, 3]"),
            "{msg}"
        );
        let err = GenomeFile::from_safetensors(&bare(&g, Some("node_cells.out.weight"), None));
        let msg = err.unwrap_err().to_string();
        assert!(msg.contains("no tensor node_cells.out.weight"), "{msg}");
    }

    #[test]
    fn flat_json_with_a_model_is_a_genome() {
        let g = sample();
        let text = serde_json::json!({"model": g.model, "values": g.values}).to_string();
        let read = GenomeFile::from_json(&text).unwrap();
        assert_eq!(read.values, g.values);
        assert_eq!(read.tensors, g.tensors);
        let short = serde_json::json!({"model": g.model, "values": [1.0]}).to_string();
        assert!(GenomeFile::from_json(&short).is_err());
    }

    #[test]
    fn topology_and_spec_travel_in_both_formats() {
        let topology = Topology {
            p_hh: Some(0.25),
            ..Topology::default()
        };
        let g = sample().with_job(topology, serde_json::json!({"seed": 3}));
        assert_eq!(GenomeFile::from_json(&g.to_json()).unwrap(), g);
        assert_eq!(
            GenomeFile::from_safetensors(&g.to_safetensors()).unwrap(),
            g
        );
        let huge = sample().with_job(topology, serde_json::json!("x".repeat(70_000)));
        let err = GenomeFile::from_json(&huge.to_json())
            .unwrap_err()
            .to_string();
        assert!(err.contains("spec: at most 65536 bytes"), "{err}");
    }

    #[test]
    fn wrong_length_and_non_finite_values_are_rejected() {
        let mut g = sample();
        g.values.pop();
        assert!(GenomeFile::from_json(&g.to_json()).is_err());
        let mut g = sample();
        g.values[3] = f32::NAN;
        assert!(matches!(g.validate(), Err(GenomeFileError::Layout(_))));
    }
}
