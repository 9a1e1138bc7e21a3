//! A fingerprint of what one lifetime did: every action it took, in order, then the final state
//! of every synapse (in wiring order, NaN canonicalised). Equal returns can hide different
//! actions (a lifetime at an environment's floor, or CartPole after its first `done`); equal
//! digests cannot, short of a hash collision. The CPU and every other executor compute it with
//! the same arithmetic: FNV-1a over 32-bit words (`kernels/sfnn.cu` has the device twin).

use crate::num::Real;

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;
/// The bits every NaN is hashed as, so that a NaN's payload (which differs between
/// instruction sets) does not make two equal runs differ.
const CANONICAL_NAN: u32 = 0x7fc0_0000;

/// Accumulates one lifetime's digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest(u64);

impl Default for Digest {
    fn default() -> Self {
        Digest(OFFSET)
    }
}

impl Digest {
    fn word(&mut self, word: u32) {
        self.0 = (self.0 ^ u64::from(word)).wrapping_mul(PRIME);
    }

    /// A discrete action: its index.
    pub fn discrete(&mut self, action: usize) {
        self.word(action as u32);
    }

    /// A continuous action: the float32 bits of the value sent to the environment.
    pub fn continuous<F: Real>(&mut self, value: F) {
        self.float(value);
    }

    /// One value of a final synapse state.
    pub fn state<F: Real>(&mut self, value: F) {
        self.float(value);
    }

    fn float<F: Real>(&mut self, value: F) {
        let value = value.to_f64_exact() as f32;
        self.word(if value.is_nan() {
            CANONICAL_NAN
        } else {
            value.to_bits()
        });
    }

    pub fn finish(self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_nan_payloads() {
        let digest = |actions: &[usize], state: &[f32]| {
            let mut d = Digest::default();
            actions.iter().for_each(|&a| d.discrete(a));
            state.iter().for_each(|&v| d.state(v));
            d.finish()
        };
        assert_ne!(digest(&[0, 1], &[]), digest(&[1, 0], &[]));
        assert_ne!(digest(&[0], &[0.0]), digest(&[0], &[-0.0]));
        let other_nan = f32::from_bits(0xffc0_0001);
        assert!(other_nan.is_nan());
        assert_eq!(digest(&[2], &[f32::NAN]), digest(&[2], &[other_nan]));
        // FNV-1a of the empty input is its offset basis.
        assert_eq!(digest(&[], &[]), 0xcbf2_9ce4_8422_2325);
    }
}
