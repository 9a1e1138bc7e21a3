//! The floating-point type the model and the environments are generic over.
//!
//! Executors run in `f32`, as the reference (JAX + gymnax) does. The `f64` instance exists so the
//! same code can be checked against the float64 reference records to 1e-12, which would be
//! impossible through the noise of float32 rounding.
//!
//! The two instances deliberately use different transcendental functions:
//! - `f64` uses the correctly rounded libm functions (the fixtures' float64 runs do too).
//! - `f32` uses a branch-free rational approximation ([`tanh_f32`]), and the sigmoid built on it
//!   ([`sigmoid_f32`]), that vectorise across synapses and can be written identically in CUDA, so
//!   every executor can agree bit for bit. The tanh is the one XLA uses on CPU for float32
//!   (Eigen's 13/6 rational), so it is also the closest match to what the reference computed.
//!
//! - `f32` also uses its own [`sin_f32`] and [`cos_f32`] (Cephes `sinf`/`cosf`), not the C library's,
//!   because the GPU's `sinf` differs from glibc's in the last bit; the same sequence of float32
//!   operations is written in `kernels/math.cuh`.
//!
//! Fused multiply-adds appear only where written (`mul_add`: the polynomial steps and the
//! sigmoid's final step); Rust never contracts `a * b + c` by itself, which keeps the results
//! identical whether the code runs with SSE2, AVX2 or AVX-512, and `kernels/math.cuh` writes
//! `fmaf` at exactly the same places.

use num_traits::{Float, FloatConst};
use std::fmt::{Debug, Display};

/// A float the SFNN model and the environments compute in.
pub trait Real:
    Float
    + FloatConst
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + 'static
    + std::ops::AddAssign
    + std::ops::SubAssign
    + std::ops::MulAssign
{
    /// Converts an `f64` constant, rounding to nearest (as gymnax rounds its constants to f32).
    fn of(value: f64) -> Self;
    /// Widens to `f64` exactly.
    fn to_f64_exact(self) -> f64;
    /// The neuron and GRU candidate nonlinearity.
    fn tanh_model(self) -> Self;
    /// The GRU gate nonlinearity, `1 / (1 + exp(-x))`.
    fn sigmoid_model(self) -> Self;
    /// The sine the environments use.
    fn sin_env(self) -> Self;
    /// The cosine the environments use.
    fn cos_env(self) -> Self;
}

impl Real for f64 {
    #[inline(always)]
    fn of(value: f64) -> Self {
        value
    }
    #[inline(always)]
    fn to_f64_exact(self) -> f64 {
        self
    }
    #[inline(always)]
    fn tanh_model(self) -> Self {
        self.tanh()
    }
    #[inline(always)]
    fn sigmoid_model(self) -> Self {
        1.0 / (1.0 + (-self).exp())
    }
    #[inline(always)]
    fn sin_env(self) -> Self {
        self.sin()
    }
    #[inline(always)]
    fn cos_env(self) -> Self {
        self.cos()
    }
}

impl Real for f32 {
    #[inline(always)]
    fn of(value: f64) -> Self {
        value as f32
    }
    #[inline(always)]
    fn to_f64_exact(self) -> f64 {
        f64::from(self)
    }
    #[inline(always)]
    fn tanh_model(self) -> Self {
        tanh_f32(self)
    }
    #[inline(always)]
    fn sigmoid_model(self) -> Self {
        sigmoid_f32(self)
    }
    #[inline(always)]
    fn sin_env(self) -> Self {
        sin_f32(self)
    }
    #[inline(always)]
    fn cos_env(self) -> Self {
        cos_f32(self)
    }
}

/// Picks `a` where `cond`, else `b`; written so the compiler emits a blend, not a branch.
#[inline(always)]
fn select(cond: bool, a: f32, b: f32) -> f32 {
    if cond { a } else { b }
}

/// float32 tanh as XLA computes it on CPU (Eigen's `generic_fast_tanh_float`): an odd 13/6
/// rational approximation on `[-c, c]`, with `c` the point where it rounds to exactly ±1, and the
/// identity below 4e-4. The polynomials are evaluated with fused multiply-adds, as Eigen does on a
/// processor with FMA (`EIGEN_VECTORIZE_FMA`), with that build's clamp. Within a few ulp of the
/// correctly rounded value; NaN stays NaN and ±inf gives ±1.
// The coefficients keep the digits they were published with; each rounds to the intended f32.
#[allow(clippy::excessive_precision)]
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    const CLAMP: f32 = 7.998_811_721_801_757_81;
    const SMALL: f32 = 0.0004;
    // Comparisons are false for NaN, so NaN passes through both clamps unchanged.
    let clamped = select(x > CLAMP, CLAMP, select(x < -CLAMP, -CLAMP, x));
    let x2 = clamped * clamped;
    let mut p = -2.760_768_5e-16_f32;
    p = p.mul_add(x2, 2.000_187_9e-13);
    p = p.mul_add(x2, -8.604_671_5e-11);
    p = p.mul_add(x2, 5.122_297e-8);
    p = p.mul_add(x2, 1.485_722_4e-5);
    p = p.mul_add(x2, 6.372_619_3e-4);
    p = p.mul_add(x2, 4.893_524_6e-3);
    p *= clamped;
    let mut q = 1.198_258_4e-6_f32;
    q = q.mul_add(x2, 1.185_347_1e-4);
    q = q.mul_add(x2, 2.268_434_6e-3);
    q = q.mul_add(x2, 4.893_525e-3);
    select(x.abs() < SMALL, x, p / q)
}

/// The GRU gate nonlinearity as `0.5 + 0.5·tanh(x/2)` with [`tanh_f32`]: one rational and
/// no exponential, about two thirds of the work of `1 / (1 + exp(-x))`. Within 2e-7 of the
/// logistic function everywhere (absolute, about 3 ulp of 1; the gates weigh values in `[0, 1]`,
/// where only absolute error matters); exactly 0 and 1 beyond |x| ≈ 16. NaN stays NaN.
#[inline(always)]
pub fn sigmoid_f32(x: f32) -> f32 {
    tanh_f32(0.5 * x).mul_add(0.5, 0.5)
}

// The constants keep Cephes' digits (the CUDA port uses the same literals, rounded the same way).
// Cephes' Cody–Waite split of π/4 into three parts (DP1 and DP2 have few significant bits, so
// `y * DP1` and `y * DP2` are exact for the octant counts that occur below 8192).
#[allow(clippy::excessive_precision)]
const FOPI: f32 = 1.273_239_544_735_16; // 4 / π
const DP1: f32 = 0.785_156_25;
#[allow(clippy::excessive_precision)]
const DP2: f32 = 2.418_756_484_985_351_562_5e-4;
#[allow(clippy::excessive_precision)]
const DP3: f32 = 3.774_894_977_445_941_08e-8;
/// Beyond this the reduction loses all precision (Cephes' `lossth`); the environments stay far
/// below it (the largest argument is Pendulum's unwrapped angle, |θ| < 90).
const SINCOS_MAX: f32 = 8192.0;

/// `|x|` reduced to `[-π/4, π/4]`: the remainder and the octant (0..8, even).
#[inline(always)]
fn reduce_octant(ax: f32) -> (f32, u32) {
    // `floor` (not a float-to-int cast) so the step is identical in CUDA and C++; the value is
    // an exact integer below 2^14 here, so the conversion to u32 is exact everywhere.
    let mut y = (ax * FOPI).floor();
    let mut j = y as u32;
    if j & 1 == 1 {
        j += 1;
        y += 1.0;
    }
    let r = ((ax - y * DP1) - y * DP2) - y * DP3;
    (r, j & 7)
}

/// Cephes' sine polynomial on [-π/4, π/4].
#[allow(clippy::excessive_precision)]
#[inline(always)]
fn sin_poly(r: f32) -> f32 {
    let z = r * r;
    let y = ((-1.951_529_589_1e-4 * z + 8.332_160_873_6e-3) * z - 1.666_665_461_1e-1) * z * r;
    y + r
}

/// Cephes' cosine polynomial on [-π/4, π/4].
#[allow(clippy::excessive_precision)]
#[inline(always)]
fn cos_poly(r: f32) -> f32 {
    let z = r * r;
    let mut y = ((2.443_315_711_809_948e-5 * z - 1.388_731_625_493_765e-3) * z
        + 4.166_664_568_298_827e-2)
        * z
        * z;
    y -= 0.5 * z;
    y + 1.0
}

/// float32 sine (Cephes `sinf`, about 1 ulp): range reduction by π/4 with a three-part π/4, then
/// one of two polynomials. Written as a fixed sequence of float32 operations without FMA so the
/// CUDA port (`kernels/math.cuh`) gives the same bits. NaN, ±inf and |x| > 8192 give NaN (glibc
/// would give a value for the latter; no environment comes near it).
#[inline(always)]
pub fn sin_f32(x: f32) -> f32 {
    let ax = x.abs();
    if ax.is_nan() || ax > SINCOS_MAX {
        return f32::NAN;
    }
    let (r, j) = reduce_octant(ax);
    // The sign bit, not `x < 0`, so that sin(-0) = -0.
    let negate = (j > 3) != x.is_sign_negative();
    let j = j & 3;
    let y = if j == 1 || j == 2 {
        cos_poly(r)
    } else {
        sin_poly(r)
    };
    if negate { -y } else { y }
}

/// float32 cosine (Cephes `cosf`), the companion of [`sin_f32`].
#[inline(always)]
pub fn cos_f32(x: f32) -> f32 {
    let ax = x.abs();
    if ax.is_nan() || ax > SINCOS_MAX {
        return f32::NAN;
    }
    let (r, j) = reduce_octant(ax);
    let negate = (j > 3) != ((j & 3) > 1);
    let j = j & 3;
    let y = if j == 1 || j == 2 {
        sin_poly(r)
    } else {
        cos_poly(r)
    };
    if negate { -y } else { y }
}

/// While alive, flushes denormal results to zero and reads denormal inputs as zero on this
/// thread (x86 MXCSR FTZ and DAZ). Synapse states that decay geometrically (negative λ) would
/// otherwise spend thousands of steps in the denormal range, where every operation costs ~100
/// cycles. Values below 1.2e-38 never change an action. (TensorFlow/XLA CPU thread pools
/// usually run with flush-to-zero too; not verified for the reference's jax 0.4.20.)
pub struct FlushDenormals {
    #[cfg(target_arch = "x86_64")]
    saved: u32,
}

#[cfg(target_arch = "x86_64")]
impl FlushDenormals {
    const FTZ_DAZ: u32 = 0x8040;

    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        let mut saved = 0u32;
        // SAFETY: stmxcsr/ldmxcsr only read and write the SSE control register of this thread;
        // setting FTZ and DAZ changes rounding of denormals, nothing else.
        unsafe {
            std::arch::asm!("stmxcsr [{}]", in(reg) &mut saved, options(nostack));
            let flushed = saved | Self::FTZ_DAZ;
            std::arch::asm!("ldmxcsr [{}]", in(reg) &flushed, options(nostack));
        }
        FlushDenormals { saved }
    }
}

#[cfg(target_arch = "x86_64")]
impl Drop for FlushDenormals {
    fn drop(&mut self) {
        // SAFETY: restores the control register saved in `new`.
        unsafe { std::arch::asm!("ldmxcsr [{}]", in(reg) &self.saved, options(nostack)) };
    }
}

#[cfg(not(target_arch = "x86_64"))]
impl FlushDenormals {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        FlushDenormals {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulp_distance(a: f32, b: f32) -> u32 {
        let to_ordered = |v: f32| {
            let bits = v.to_bits() as i32;
            if bits < 0 { i32::MIN - bits } else { bits }
        };
        to_ordered(a).abs_diff(to_ordered(b))
    }

    #[test]
    fn tanh_is_within_a_few_ulp_of_the_correctly_rounded_value() {
        let mut worst = 0;
        for i in -200_000..=200_000 {
            let x = i as f32 * 5e-5;
            let exact = (x as f64).tanh() as f32;
            worst = worst.max(ulp_distance(tanh_f32(x), exact));
        }
        // XLA's own float32 tanh is off by up to 5 ulp (fixtures README).
        assert!(worst <= 8, "worst tanh error {worst} ulp");
    }

    #[test]
    fn sin_and_cos_are_within_two_ulp_where_the_environments_use_them() {
        let (mut worst_sin, mut worst_cos) = (0, 0);
        for i in -400_000..=400_000 {
            let x = i as f32 * 2.5e-4 + 1.7e-6;
            let (s, c) = ((x as f64).sin() as f32, (x as f64).cos() as f32);
            // Near a zero of the function the ulp scale collapses; compare absolutely there.
            if s.abs() > 1e-3 {
                worst_sin = worst_sin.max(ulp_distance(sin_f32(x), s));
            } else {
                assert!((sin_f32(x) - s).abs() < 1e-9, "sin({x})");
            }
            if c.abs() > 1e-3 {
                worst_cos = worst_cos.max(ulp_distance(cos_f32(x), c));
            } else {
                assert!((cos_f32(x) - c).abs() < 1e-9, "cos({x})");
            }
        }
        assert!(worst_sin <= 2, "worst sin error {worst_sin} ulp");
        assert!(worst_cos <= 2, "worst cos error {worst_cos} ulp");
    }

    #[test]
    fn sin_and_cos_keep_signs_symmetry_and_nan() {
        assert_eq!(sin_f32(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(sin_f32(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(cos_f32(0.0), 1.0);
        for x in [0.3f32, 1.0, 2.5, 4.0, 7.0, 80.0] {
            assert_eq!(sin_f32(-x), -sin_f32(x));
            assert_eq!(cos_f32(-x), cos_f32(x));
        }
        assert!(sin_f32(f32::NAN).is_nan() && cos_f32(f32::INFINITY).is_nan());
        assert!(sin_f32(1e6).is_nan());
    }

    #[test]
    fn tanh_saturates_and_keeps_nan() {
        assert_eq!(tanh_f32(9.0), 1.0);
        assert_eq!(tanh_f32(-1e30), -1.0);
        assert_eq!(tanh_f32(f32::INFINITY), 1.0);
        assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
        assert!(tanh_f32(f32::NAN).is_nan());
        assert_eq!(tanh_f32(1e-30), 1e-30);
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn denormals_flush_to_zero_only_inside_the_guard() {
        let tiny = std::hint::black_box(1e-30_f32);
        let scale = std::hint::black_box(1e-10_f32);
        assert!(tiny * scale > 0.0);
        {
            let _guard = FlushDenormals::new();
            assert_eq!(
                std::hint::black_box(tiny) * std::hint::black_box(scale),
                0.0
            );
        }
        assert!(std::hint::black_box(tiny) * std::hint::black_box(scale) > 0.0);
    }

    #[test]
    fn sigmoid_is_within_2e7_of_the_logistic_function() {
        let mut worst = 0.0f64;
        for i in -400_000..=400_000 {
            let x = i as f32 * 1e-4 + 3.1e-6;
            let exact = 1.0 / (1.0 + (-(x as f64)).exp());
            worst = worst.max((sigmoid_f32(x) as f64 - exact).abs());
        }
        assert!(worst <= 2e-7, "worst sigmoid error {worst:e}");
        assert!(sigmoid_f32(f32::NAN).is_nan());
        assert_eq!(sigmoid_f32(f32::INFINITY), 1.0);
        assert_eq!(sigmoid_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(sigmoid_f32(0.0), 0.5);
    }

    #[test]
    fn sigmoid_of_huge_negative_inputs_is_zero_not_nan() {
        assert_eq!((-1e16_f32).sigmoid_model(), 0.0);
        assert_eq!(1e16_f32.sigmoid_model(), 1.0);
        assert!((0.0_f32.sigmoid_model() - 0.5).abs() < 1e-7);
    }
}
