// g++ harness for tests/cuda_mirror.rs: runs the device math and environment code of
// kernels/*.cuh on the CPU, on inputs the Rust test writes, and writes the results back.
//
// Input (little-endian): u32 n, then n f32 arguments for the math functions; u32 runs, then per
// run: i32 env id, u32 steps, u32 reset states, the reset states (state_dim f32 each), and per
// step an i32 discrete action and an f32 continuous action.
// Output: per math argument tanh, sigmoid, sin, cos (f32 each); per environment step the
// observation (6 f32, unused slots 0), the reward (f32) and i32 flags (1 terminated, 2 truncated).
//
// `harness --tanh-quotient STRIDE`: checks the GPU's division of tanh (math.cuh tanh_quotient)
// for every STRIDE-th float |x| in [0.0004, CLAMP], both signs, and every reciprocal within
// 2 ulp of 1/q; prints "checked N mismatches M" and the first mismatch.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <vector>
#include <xmmintrin.h>

#include "envs.cuh"

using namespace sfnn;

template <typename T>
static T read_value(FILE* f) {
    T v;
    if (fread(&v, sizeof v, 1, f) != 1) {
        fprintf(stderr, "short input\n");
        exit(2);
    }
    return v;
}

template <typename T>
static void write_value(FILE* f, T v) {
    fwrite(&v, sizeof v, 1, f);
}

// A float `steps` representable values away from x (x positive and normal).
static float ulps_away(float x, int steps) { return bits_float(float_bits(x) + steps); }

static int check_tanh_quotient(unsigned stride) {
    unsigned long long checked = 0, mismatches = 0;
    for (unsigned u = float_bits(0.0004f); u <= float_bits(7.99881172180175781f); u += stride) {
        for (float x : {bits_float(u), -bits_float(u)}) {
            TanhRational t = tanh_rational(x);
            const float ieee = t.p / t.q;
            const float nearest = 1.0f / t.q;
            for (int k = -2; k <= 2; ++k) {
                const float got = quotient_from_reciprocal(t.p, t.q, ulps_away(nearest, k));
                checked += 1;
                if (float_bits(got) != float_bits(ieee) && mismatches++ == 0)
                    printf("mismatch: x %.9g p %.9g q %.9g reciprocal %+d ulp: %.9g, IEEE %.9g\n",
                           (double)x, (double)t.p, (double)t.q, k, (double)got, (double)ieee);
            }
        }
    }
    printf("checked %llu mismatches %llu\n", checked, mismatches);
    return 0;
}

int main(int argc, char** argv) {
    // The CPU executor runs lifetimes with FTZ and DAZ on (src/num.rs FlushDenormals), the GPU
    // with --ftz=true.
    _mm_setcsr(_mm_getcsr() | 0x8040);
    if (argc == 3 && std::strcmp(argv[1], "--tanh-quotient") == 0)
        return check_tanh_quotient((unsigned)std::atoi(argv[2]));
    if (argc != 3) return 2;
    FILE* in = fopen(argv[1], "rb");
    FILE* out = fopen(argv[2], "wb");
    if (!in || !out) return 2;

    unsigned n = read_value<unsigned>(in);
    for (unsigned i = 0; i < n; ++i) {
        float x = read_value<float>(in);
        write_value(out, tanh_f32(x));
        write_value(out, sigmoid_f32(x));
        write_value(out, sin_f32(x));
        write_value(out, cos_f32(x));
    }

    unsigned runs = read_value<unsigned>(in);
    for (unsigned run = 0; run < runs; ++run) {
        Env env;
        env.id = read_value<int>(in);
        env.elapsed = 0;
        unsigned steps = read_value<unsigned>(in);
        unsigned pool = read_value<unsigned>(in);
        int dim = env_state_dim(env.id);
        std::vector<float> resets(pool * dim);
        for (auto& v : resets) v = read_value<float>(in);
        float obs[MAX_OBS] = {0};
        unsigned next = 0;
        env_reset_to(env, &resets[(next++ % pool) * dim], obs);
        for (unsigned t = 0; t < steps; ++t) {
            int discrete = read_value<int>(in);
            float value = read_value<float>(in);
            for (int i = 0; i < MAX_OBS; ++i) obs[i] = 0.0f;
            StepResult r = env_step(env, discrete, value, obs);
            for (int i = 0; i < MAX_OBS; ++i) write_value(out, obs[i]);
            write_value(out, r.reward);
            write_value(out, (int)(r.terminated ? 1 : 0) | (r.truncated ? 2 : 0));
            if (r.terminated || r.truncated) {
                for (int i = 0; i < MAX_OBS; ++i) obs[i] = 0.0f;
                env_reset_to(env, &resets[(next++ % pool) * dim], obs);
            }
        }
    }
    fclose(out);
    return 0;
}
