//! Checkpoints as bytes: compact, exact, versioned.
//!
//! A default CMA-ES checkpoint is mostly its 565 × 565 covariance matrix: 7.5 MB as JSON, about
//! 1.16 MB here. The format is a small envelope, `SFCK`, a version byte and the encoded length
//! (u64, little endian), then the checkpoint in [postcard](https://docs.rs/postcard) (values as
//! their IEEE bits, the RNG state as is, so reading back is exact), byte-shuffled with stride 8
//! (the exponent bytes of all the `f64`s side by side) and deflated. Checkpoints written as JSON
//! (by earlier versions) start with `{` and still read.

use super::Checkpoint;

const MAGIC: &[u8; 4] = b"SFCK";
const VERSION: u8 = 1;
const HEADER: usize = MAGIC.len() + 1 + 8;
/// Deflate level: 6 (the zlib default) costs a few milliseconds more than 1 and saves ~1 %.
const LEVEL: u8 = 6;
/// No checkpoint of a spec within the limits comes near this; a larger length is corruption.
const MAX_ENCODED: u64 = 1 << 31;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint in JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("binary checkpoint: {0}")]
    Binary(String),
    #[error("checkpoint of an unknown format version {0} (a newer sfnn wrote it?)")]
    Version(u8),
    #[error("unrecognised checkpoint format")]
    Unknown,
}

impl Checkpoint {
    /// The compact binary form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let encoded = postcard::to_allocvec(self).expect("a checkpoint serialises");
        let packed = miniz_oxide::deflate::compress_to_vec(&shuffle(&encoded), LEVEL);
        let mut out = Vec::with_capacity(HEADER + packed.len());
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&(encoded.len() as u64).to_le_bytes());
        out.extend_from_slice(&packed);
        out
    }

    /// Reads [`Checkpoint::to_bytes`]'s form, or JSON.
    pub fn from_bytes(bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
        if let Some(rest) = bytes.strip_prefix(MAGIC) {
            let (&version, rest) = rest.split_first().ok_or(CheckpointError::Unknown)?;
            if version != VERSION {
                return Err(CheckpointError::Version(version));
            }
            let (length, packed) = rest
                .split_first_chunk::<8>()
                .ok_or_else(|| CheckpointError::Binary("truncated header".into()))?;
            let length = u64::from_le_bytes(*length);
            if length > MAX_ENCODED {
                return Err(CheckpointError::Binary(format!("length {length}")));
            }
            let shuffled =
                miniz_oxide::inflate::decompress_to_vec_with_limit(packed, length as usize)
                    .map_err(|e| CheckpointError::Binary(format!("inflate: {e}")))?;
            if shuffled.len() as u64 != length {
                return Err(CheckpointError::Binary("length mismatch".into()));
            }
            return postcard::from_bytes(&unshuffle(&shuffled))
                .map_err(|e| CheckpointError::Binary(e.to_string()));
        }
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => Ok(serde_json::from_slice(bytes)?),
            _ => Err(CheckpointError::Unknown),
        }
    }
}

/// Byte `k` of every 8-byte word, for k = 0..8, then the tail. Most of a checkpoint is `f64`
/// arrays, whose sign and exponent bytes compress well once they sit together.
fn shuffle(bytes: &[u8]) -> Vec<u8> {
    let words = bytes.len() / 8;
    let mut out = Vec::with_capacity(bytes.len());
    for k in 0..8 {
        out.extend((0..words).map(|w| bytes[w * 8 + k]));
    }
    out.extend_from_slice(&bytes[words * 8..]);
    out
}

fn unshuffle(bytes: &[u8]) -> Vec<u8> {
    let words = bytes.len() / 8;
    let mut out = vec![0; bytes.len()];
    for k in 0..8 {
        for w in 0..words {
            out[w * 8 + k] = bytes[k * words + w];
        }
    }
    out[words * 8..].copy_from_slice(&bytes[words * 8..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evolution::strategies::{EvolutionStrategy, StrategyConfig, StrategyName};

    fn checkpoint(name: StrategyName, generations: u64) -> Checkpoint {
        let config = StrategyConfig {
            name,
            ..StrategyConfig::default()
        };
        let mut strategy = EvolutionStrategy::new(&config, 565, None, 11).unwrap();
        for g in 0..generations {
            let population = strategy.ask();
            let fitness: Vec<f64> = (0..population.len())
                .map(|i| ((i * 7919 + g as usize) % 97) as f64 / 97.0)
                .collect();
            strategy.tell(&population, &fitness);
        }
        Checkpoint {
            generation: generations,
            strategy,
            best: None,
            last_improvement: 0,
            elapsed_seconds: 0.25,
        }
    }

    fn same(a: &Checkpoint, b: &Checkpoint) {
        // JSON with float_roundtrip is exact for finite values; compare bit patterns too.
        assert_eq!(
            serde_json::to_string(a).unwrap(),
            serde_json::to_string(b).unwrap()
        );
        assert_eq!(a.strategy, b.strategy);
    }

    #[test]
    fn every_strategy_reads_back_exactly_and_continues_identically() {
        for name in StrategyName::ALL {
            let mut original = checkpoint(name, 2);
            let mut restored = Checkpoint::from_bytes(&original.to_bytes()).unwrap();
            same(&original, &restored);
            // The RNG continues where it was: the next population is the same, bit for bit.
            assert_eq!(original.strategy.ask(), restored.strategy.ask(), "{name:?}");
        }
    }

    #[test]
    fn json_checkpoints_of_earlier_versions_still_read() {
        let original = checkpoint(StrategyName::CmaEs, 1);
        let json = serde_json::to_vec(&original).unwrap();
        same(&original, &Checkpoint::from_bytes(&json).unwrap());
    }

    #[test]
    fn a_default_cma_es_checkpoint_is_a_sixth_of_its_json() {
        let original = checkpoint(StrategyName::CmaEs, 1);
        let json = serde_json::to_vec(&original).unwrap().len();
        let binary = original.to_bytes().len();
        assert!(json > 7_000_000, "{json}");
        assert!(binary < 1_300_000, "{binary} bytes (JSON: {json})");
    }

    #[test]
    fn an_asymmetric_covariance_is_stored_whole_and_exactly() {
        let mut original = checkpoint(StrategyName::CmaEs, 1);
        let mut json: serde_json::Value = serde_json::to_value(&original).unwrap();
        let c = &mut json["strategy"]["state"]["c"];
        c[1] = serde_json::json!(c[1].as_f64().unwrap() + 1e-3);
        original = serde_json::from_value(json).unwrap();
        same(
            &original,
            &Checkpoint::from_bytes(&original.to_bytes()).unwrap(),
        );
    }

    #[test]
    fn damaged_or_foreign_bytes_are_errors() {
        let bytes = checkpoint(StrategyName::Snes, 1).to_bytes();
        assert!(Checkpoint::from_bytes(&bytes[..bytes.len() / 2]).is_err());
        let mut newer = bytes.clone();
        newer[4] = 9;
        assert!(matches!(
            Checkpoint::from_bytes(&newer),
            Err(CheckpointError::Version(9))
        ));
        assert!(Checkpoint::from_bytes(b"\x00\x01").is_err());
        assert!(Checkpoint::from_bytes(b"").is_err());
    }
}
