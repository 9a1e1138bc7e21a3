//! Genome files: JSON (layout + values) and safetensors (one named tensor per leaf), both
//! readable without this program. A genome flattened by the JAX reference loads unchanged: the
//! values are in `ravel_pytree` order and the tensor names are the equinox leaf paths.

use super::{GenomeLayout, ModelConfig, TensorInfo};
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenomeFile {
    pub format: String,
    pub version: u32,
    pub model: ModelConfig,
    /// The named tensors and where they sit in `values`.
    pub tensors: Vec<TensorInfo>,
    pub values: Vec<f32>,
    #[serde(default)]
    pub fitness: Option<f64>,
    /// Free-form provenance (job, generation, kind).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
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
            metadata: BTreeMap::new(),
        }
    }

    pub fn with_metadata(mut self, key: &str, value: impl ToString) -> Self {
        self.metadata.insert(key.into(), value.to_string());
        self
    }

    pub fn layout(&self) -> GenomeLayout {
        GenomeLayout::new(self.model)
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
        Ok(())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("genome serialises")
    }

    pub fn from_json(text: &str) -> Result<Self, GenomeFileError> {
        let file: GenomeFile =
            serde_json::from_str(text).map_err(|e| GenomeFileError::Format(e.to_string()))?;
        file.validate()?;
        Ok(file)
    }

    /// safetensors bytes: one F32 tensor per leaf; the model sizes, fitness and metadata go in
    /// the header's `__metadata__`.
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
        safetensors::serialize(views, Some(header)).expect("safetensors serialises")
    }

    pub fn from_safetensors(bytes: &[u8]) -> Result<Self, GenomeFileError> {
        let bad = |e: &dyn std::fmt::Display| GenomeFileError::Format(e.to_string());
        let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(|e| bad(&e))?;
        let mut header: BTreeMap<String, String> = metadata
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let model: ModelConfig = match header.remove("model") {
            Some(json) => serde_json::from_str(&json).map_err(|e| bad(&e))?,
            None => return Err(bad(&"the header has no \"model\" entry")),
        };
        let fitness = match header.remove("fitness") {
            Some(f) => Some(f.parse::<f64>().map_err(|e| bad(&e))?),
            None => None,
        };
        header.remove("format");
        header.remove("version");
        // The header is the sender's word: check the sizes before sizing anything from them.
        model.validate()?;
        let tensors = SafeTensors::deserialize(bytes).map_err(|e| bad(&e))?;
        let layout = GenomeLayout::new(model);
        let mut values = vec![0.0f32; layout.len()];
        for t in &layout.tensors {
            let view = tensors
                .tensor(&t.name)
                .map_err(|_| GenomeFileError::Layout(format!("missing tensor {}", t.name)))?;
            if view.dtype() != Dtype::F32 || view.shape() != t.shape.as_slice() {
                return Err(GenomeFileError::Layout(format!(
                    "tensor {} should be F32 {:?}, is {:?} {:?}",
                    t.name,
                    t.shape,
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
