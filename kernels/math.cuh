// float32 math shared by the SFNN kernel and the environments: a line-by-line port of
// `src/num.rs` (tanh_f32, sigmoid, sin_f32, cos_f32).
//
// Every function is a fixed sequence of float32 operations, fused multiply-adds written out
// (fmaf) exactly where src/num.rs has mul_add. Bit-for-bit agreement with the CPU executor
// needs: no other FMA contraction (NVRTC `--fmad=false`, g++ `-ffp-contract=off`), IEEE
// division (`--prec-div=true`; tanh's quotient by the division's fast path, which is exact over
// its operands' range: tanh_quotient), and denormals flushed on both sides (`--ftz=true` here,
// FTZ/DAZ on the CPU during lifetimes).
//
// The file also compiles as plain C++ (no __CUDACC__), so tests/cuda_mirror.rs can build it with
// g++ and compare it with the Rust functions on the CPU.
#pragma once

#ifdef __CUDACC__
#define SFNN_FN __device__ __forceinline__
#else
#include <cmath>
#include <cstdint>
#include <cstring>
#define SFNN_FN static inline
#endif

namespace sfnn {

SFNN_FN unsigned int float_bits(float x) {
#ifdef __CUDACC__
    return __float_as_uint(x);
#else
    unsigned int u;
    std::memcpy(&u, &x, sizeof u);
    return u;
#endif
}

SFNN_FN float bits_float(unsigned int u) {
#ifdef __CUDACC__
    return __uint_as_float(u);
#else
    float x;
    std::memcpy(&x, &u, sizeof x);
    return x;
#endif
}

SFNN_FN bool is_nan(float x) { return x != x; }

// The quiet NaN Rust's f32::NAN has, so that a NaN produced here has the same bits.
SFNN_FN float quiet_nan() { return bits_float(0x7fc00000u); }

SFNN_FN float select(bool cond, float a, float b) { return cond ? a : b; }

// Eigen's float tanh (13/6 rational), as tanh_f32 in src/num.rs: x clamped to ±CLAMP, then
// p(x) / q(x). Every literal is spelled as in src/num.rs, so both compilers round it to the same
// float.
struct TanhRational {
    float p, q;
};

SFNN_FN TanhRational tanh_rational(float x) {
    const float CLAMP = 7.99881172180175781f;
    float clamped = select(x > CLAMP, CLAMP, select(x < -CLAMP, -CLAMP, x));
    float x2 = clamped * clamped;
    float p = -2.7607685e-16f;
    p = fmaf(p, x2, 2.0001879e-13f);
    p = fmaf(p, x2, -8.6046715e-11f);
    p = fmaf(p, x2, 5.122297e-8f);
    p = fmaf(p, x2, 1.4857224e-5f);
    p = fmaf(p, x2, 6.3726193e-4f);
    p = fmaf(p, x2, 4.8935246e-3f);
    p = p * clamped;
    float q = 1.1982584e-6f;
    q = fmaf(q, x2, 1.1853471e-4f);
    q = fmaf(q, x2, 2.2684346e-3f);
    q = fmaf(q, x2, 4.893525e-3f);
    TanhRational t;
    t.p = p;
    t.q = q;
    return t;
}

// p / q from an approximate reciprocal r of q: the fast path of the GPU's IEEE division (the
// instructions ptxas emits for div.rn.ftz.f32 ahead of its range check, FCHK).
SFNN_FN float quotient_from_reciprocal(float p, float q, float r) {
    float e = fmaf(-q, r, 1.0f);
    r = fmaf(r, e, r);
    float y = fmaf(p, r, 0.0f);
    float rem = fmaf(-q, y, p);
    return fmaf(r, rem, y);
}

// tanh's p / q. On the GPU, the division's fast path alone: IEEE division branches to a slow
// path for operands out of its range, and those branches cut the synapse update into blocks
// that ptxas cannot interleave (1,628 → 624 cycles per synapse, docs/gpu-model.md). Where
// tanh_f32 uses the quotient (|x| ≥ 0.0004: p and q are normal, |p/q| < 1) the fast path is
// correctly rounded, so equal to the CPU's p / q: tests/cuda_mirror.rs checks that on the CPU
// for every |x| in range and every reciprocal within the 1 ulp the PTX ISA allows rcp.approx.
SFNN_FN float tanh_quotient(float p, float q) {
#ifdef __CUDACC__
    float r;
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(q));
    return quotient_from_reciprocal(p, q, r);
#else
    return p / q;
#endif
}

SFNN_FN float tanh_f32(float x) {
    const float SMALL = 0.0004f;
    TanhRational t = tanh_rational(x);
    return select(fabsf(x) < SMALL, x, tanh_quotient(t.p, t.q));
}

// The GRU gate nonlinearity as 0.5 + 0.5 tanh(x/2), as sigmoid_f32 in src/num.rs.
SFNN_FN float sigmoid_f32(float x) { return fmaf(tanh_f32(0.5f * x), 0.5f, 0.5f); }

// Cephes sinf/cosf, as sin_f32/cos_f32 in src/num.rs.
struct Octant {
    float r;
    unsigned int j;
};

SFNN_FN Octant reduce_octant(float ax) {
    const float FOPI = 1.27323954473516f;
    const float DP1 = 0.78515625f;
    const float DP2 = 2.4187564849853515625e-4f;
    const float DP3 = 3.77489497744594108e-8f;
    float y = floorf(ax * FOPI);
    unsigned int j = (unsigned int)y;
    if (j & 1u) {
        j += 1u;
        y += 1.0f;
    }
    Octant o;
    o.r = ((ax - y * DP1) - y * DP2) - y * DP3;
    o.j = j & 7u;
    return o;
}

SFNN_FN float sin_poly(float r) {
    float z = r * r;
    float y = ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f) * z * r;
    return y + r;
}

SFNN_FN float cos_poly(float r) {
    float z = r * r;
    float y = ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z + 4.166664568298827e-2f) * z * z;
    y -= 0.5f * z;
    return y + 1.0f;
}

// sin (cosine = false) or cos (cosine = true) of x, one instruction stream for both: the lanes
// of a warp can then form sines and cosines of different angles at once (envs.cuh
// lanes_gather). For either constant it is exactly sin_f32 or cos_f32 below.
SFNN_FN float trig_f32(float x, bool cosine) {
    float ax = fabsf(x);
    if (!(ax <= 8192.0f)) return quiet_nan();
    Octant o = reduce_octant(ax);
    unsigned int j = o.j & 3u;
    bool sign = cosine ? j > 1u : (float_bits(x) >> 31) != 0u;
    bool negate = (o.j > 3u) != sign;
    // In octants 1 and 2 each function takes the other's polynomial.
    bool swapped = j == 1u || j == 2u;
    float y = swapped != cosine ? cos_poly(o.r) : sin_poly(o.r);
    return negate ? -y : y;
}

SFNN_FN float sin_f32(float x) { return trig_f32(x, false); }

SFNN_FN float cos_f32(float x) { return trig_f32(x, true); }

// Rust's f32::max / f32::min: the non-NaN operand when one is NaN (as fmaxf/fminf). Callers only
// compare against non-zero constants, so the sign of zero never matters.
SFNN_FN float max_f32(float a, float b) { return fmaxf(a, b); }
SFNN_FN float min_f32(float a, float b) { return fminf(a, b); }

}  // namespace sfnn
