// One launch evaluates a whole generation: one thread block per lifetime (member × repeat ×
// environment, launched longest first: pack.rs launch_order), each running `episodes` episodes of its environment with
// the SFNN step of src/model/network.rs and the protocol of src/exec/lifetime.rs.
//
// Bit-for-bit agreement with the CPU executor rests on three things:
// - every sum is formed in the CPU's order by one thread (each per-node message is summed over
//   its wired senders in ascending order — equal to the CPU's dense sum, whose extra terms are
//   ±0 and never change a sum that starts at +0; each gate's dot product runs over its inputs
//   in order), so results do not depend on scheduling. An input gate of synapse i→j (type
//   τ = τ(i)) is `pre + post`, both parts formed once per step as on the CPU: the pre part
//   `Σ_k W_ih[τ][g][k]·y_prev,i,k` per node i, the post part `(Σ_k W_ih[τ][g][D+k]·y_j,k +
//   w_r·r) + b` per type τ and node j, each sum from +0 in order of k;
// - the same float32 functions (math.cuh), no FMA contraction (--fmad=false): the messages,
//   neurons, hidden gates, the candidate's argument and the state update use explicit fmaf
//   where the CPU uses mul_add, nothing else is fused; IEEE division (tanh's by its fast path,
//   exact over its range: math.cuh tanh_quotient);
// - denormals flushed on both sides (--ftz=true; FTZ/DAZ on the CPU during lifetimes).
//
// Per-lifetime data (wiring, synapse init, reset pool) come from the host, exactly as the CPU
// executor gets them. Synapse states live in shared memory (or, for networks too large for it,
// in a global scratch area the host provides).
#include "math.cuh"
#include "envs.cuh"

#ifndef SFNN_D
#define SFNN_D 4
#endif

namespace sfnn {

const int D = SFNN_D;

// The genome in its flat (reference) order: neuron W[τ][out][in], W_ih[τ][3D][2D+1],
// W_hh[τ][3D][D], b[τ][3D], b_n[τ][D], λ.
struct Layout {
    int w, w_ih, w_hh, bias, bias_n, lambda;
};

__device__ __forceinline__ Layout layout_for(int types) {
    Layout l;
    l.w = 0;
    l.w_ih = l.w + types * D * D;
    l.w_hh = l.w_ih + types * 3 * D * (2 * D + 1);
    l.bias = l.w_hh + types * 3 * D * D;
    l.bias_n = l.bias + types * 3 * D;
    l.lambda = l.bias_n + types * D;
    return l;
}

// The pre part of input gate g of every synapse leaving a node: `W_ih[g][0..D]·y_prev,pre`,
// summed from +0 in order (input_gate_pre_parts in network.rs).
__device__ __forceinline__ float input_gate_pre(const float* w_row, const float* y_prev_pre) {
    float acc = 0.0f;
#pragma unroll
    for (int k = 0; k < D; ++k) acc += w_row[k] * y_prev_pre[k];
    return acc;
}

// The post part of input gate g of every synapse of this type entering a node:
// `(W_ih[g][D..2D]·y_post + W_ih[g][2D]·r) + b[g]`, the sum from +0 in order
// (input_gate_post_parts in network.rs).
__device__ __forceinline__ float input_gate_post(const float* w_row, const float* y_post,
                                                 float reward, float b) {
    float acc = 0.0f;
#pragma unroll
    for (int k = 0; k < D; ++k) acc += w_row[D + k] * y_post[k];
    float wr = w_row[2 * D] * reward;
    return acc + wr + b;
}

// The hidden-side gate `W_hh[g]·e` (gru_chunk).
__device__ __forceinline__ float hidden_gate(const float* w_row, const float* e) {
    float acc = 0.0f;
#pragma unroll
    for (int c = 0; c < D; ++c) acc = fmaf(w_row[c], e[c], acc);
    return acc;
}

// The lifetime digest (src/exec/digest.rs): FNV-1a over 32-bit words, of every action taken
// and then of every final synapse state, NaN canonicalised.
SFNN_FN unsigned long long digest_word(unsigned long long h, unsigned int word) {
    return (h ^ word) * 0x100000001b3ULL;
}

SFNN_FN unsigned int digest_float(float v) { return is_nan(v) ? 0x7fc00000u : float_bits(v); }

}  // namespace sfnn

using namespace sfnn;

// 192 threads per block (src/exec/cuda/pack.rs THREADS; the kernel needs at least 64: warp 0
// and one worker warp): warp 0 steps the environment, the node·channel phases use nodes·D = 128
// worker threads, the synapse update all 160, so a thread owns 2–3 synapses (docs/gpu-model.md).
// The minimum of resident blocks caps the registers per thread (4 blocks: 80, which keeps 4
// blocks per SM); wide synapse states need more, or ptxas spills.
#if SFNN_D > 8
#define SFNN_MIN_BLOCKS 2
#else
#define SFNN_MIN_BLOCKS 4
#endif

// The D lanes of one node's channels wait for each other (they are always in one warp, see
// NODES_PER_WARP): a node's messages feed only its own neurons, and its activations only its
// own input gates' post parts, so these hand-overs need no block-wide barrier.
__device__ __forceinline__ void node_lanes_sync(int tid) {
#ifdef __CUDACC__
    if (D > 1) {
        const unsigned group = D >= 32 ? 0xffffffffu : ((1u << D) - 1u) << ((tid & 31) / D * D);
        __syncwarp(group);
    }
#else
    node_lanes_sync_emulated(tid);
#endif
}

// The workers (warps 1..) wait for each other; warp 0 goes on. Barrier 1: __syncthreads is 0.
__device__ __forceinline__ void workers_sync(int workers) {
#ifdef __CUDACC__
    asm volatile("bar.sync 1, %0;" ::"r"(workers) : "memory");
#else
    workers_sync_emulated(workers);
#endif
}

// A neuron: y = tanh(W_τ x), the output summed over its inputs in order.
__device__ __forceinline__ float neuron(const float* w_row, const float* x_node) {
    float acc = 0.0f;
#pragma unroll
    for (int c = 0; c < D; ++c) acc = fmaf(w_row[c], x_node[c], acc);
    return tanh_f32(acc);
}

// A warp serves NODES_PER_WARP whole nodes, D lanes each (lanes past NODES_PER_WARP·D idle), so
// a node's lanes share a warp for any D.
const int NODES_PER_WARP = 32 / D;

// One block runs one lifetime. SHARED: the synapse states, the input gates' post parts and the
// wiring lists live in shared memory (typed as such, so their accesses are LDS/STS); otherwise
// the states (and with states_in_global == 2 the post parts) live in the block's part of
// e_global and the lists are read from global memory.
template <bool SHARED>
__device__ __forceinline__ void run_lifetime(
    const float* __restrict__ genomes, int param_count, int types, int nodes, int lifetimes,
    int lifetimes_per_member, int episodes, int stop_on_done, const int* __restrict__ env_ids,
    const unsigned int* __restrict__ block_lifetimes, const unsigned char* __restrict__ node_types,
    const unsigned int* __restrict__ edge_offsets,
    const unsigned short* __restrict__ edge_pre, const unsigned short* __restrict__ edge_post,
    const unsigned int* __restrict__ in_offsets, const unsigned short* __restrict__ in_edges,
    const float* __restrict__ synapse_init, const unsigned int* __restrict__ reset_offsets,
    const float* __restrict__ resets, float* __restrict__ e_global, int states_in_global,
    unsigned int e_capacity, double* __restrict__ returns,
    unsigned long long* __restrict__ steps_out, unsigned long long* __restrict__ digests_out,
    float* shared)
{
    // Blocks run the lifetimes longest first (pack.rs launch_order).
    if ((int)blockIdx.x >= lifetimes) return;
    const int lt = (int)block_lifetimes[blockIdx.x];
    const int tid = threadIdx.x;
    const int threads = blockDim.x;
    const int width = nodes * D;

    const unsigned int ebase = edge_offsets[lt];
    const int edges = (int)(edge_offsets[lt + 1] - ebase);
    float* params = shared;
    float* ybuf = params + ((param_count + 3) & ~3);
    float* x = ybuf + 3 * width;
    float* obs = x + width;
    int* types_sh = (int*)(obs + 8);
    // The input gates' pre parts, [node][gate], and post parts, [type][node][gate] (once per
    // step); then, with SHARED, each node's incoming synapses (offsets, then `edge·D | pre·D << 16`
    // in the CPU's summation order: word offsets of the synapse's state and of the sender's
    // activations, both below 2^16 as they index shared memory), each synapse's
    // `pre | post << 16`, and the synapse states.
    // src/exec/cuda/pack.rs (BlockSizes::shared_bytes) sizes the same areas.
    const int prefix_count = nodes * 3 * D;
    const int post_rows = types * nodes;
    const int post_count = post_rows * 3 * D;
    float* prefix_sh = (float*)(types_sh + ((nodes + 3) & ~3));
    float* post_sh = prefix_sh + ((prefix_count + 3) & ~3);
    unsigned int* in_off_sh = (unsigned int*)(post_sh + (states_in_global == 2 ? 0 : ((post_count + 3) & ~3)));
    unsigned int* in_list_sh = in_off_sh + ((nodes + 1 + 3) & ~3);
    unsigned int* ends_sh = in_list_sh + edges;
    float* e_sh = (float*)(ends_sh + edges);
    float* scratch = e_global + (size_t)lt * ((size_t)e_capacity * D +
                                              (states_in_global == 2 ? (size_t)post_count : 0));
    float* e = SHARED ? e_sh : scratch;
    float* post_part = SHARED || states_in_global != 2 ? post_sh : scratch + (size_t)e_capacity * D;

    __shared__ float reward_sh;
    __shared__ int prev_action_sh;
    __shared__ float prev_action_value_sh;

    const int env_id = env_ids[lt];
    const int inputs = env_obs_dim(env_id);
    const int outputs = env_outputs(env_id);
    const bool continuous = env_is_continuous(env_id);
    const int horizon = env_horizon(env_id);
    const unsigned int* in_off_g = in_offsets + (size_t)lt * (nodes + 1);
    const unsigned short* pre_g = edge_pre + ebase;
    const unsigned short* post_g = edge_post + ebase;
    const unsigned short* in_g = in_edges + ebase;

    // Load the genome, node types, synapse states (and the wiring lists); zero the activations.
    const float* genome = genomes + (size_t)(lt / lifetimes_per_member) * param_count;
    for (int i = tid; i < param_count; i += threads) params[i] = genome[i];
    for (int i = tid; i < nodes; i += threads) types_sh[i] = node_types[(size_t)lt * nodes + i];
    for (int i = tid; i < edges * D; i += threads) e[i] = synapse_init[(size_t)ebase * D + i];
    for (int i = tid; i < 3 * width; i += threads) ybuf[i] = 0.0f;
    if (SHARED) {
        for (int i = tid; i <= nodes; i += threads) in_off_sh[i] = in_off_g[i];
        for (int edge_slot = tid; edge_slot < edges; edge_slot += threads) {
            const unsigned int edge = in_g[edge_slot];
            in_list_sh[edge_slot] = edge * D | (unsigned int)pre_g[edge] * D << 16;
            ends_sh[edge_slot] = pre_g[edge_slot] | (unsigned int)post_g[edge_slot] << 16;
        }
    }
    if (tid == 0) {
        reward_sh = 0.0f;
        prev_action_sh = 0;
        prev_action_value_sh = 0.0f;
    }
    __syncthreads();
    const unsigned int* in_off = SHARED ? in_off_sh : in_off_g;
    const Layout L = layout_for(types);
    const float plasticity = 0.01f * params[L.lambda];

    // Environment and protocol state, kept by the environment's stepper: every lane of warp 0 on
    // the GPU, all with the same values (their lanes share out the sines and cosines of a step,
    // envs.cuh lanes_gather); thread 0 alone in the C++ emulation (tests/mirror), where
    // lanes_gather forms them one after another. Thread 0's copy is the one reported.
#ifdef __CUDACC__
    const bool env_stepper = tid < 32;
#else
    const bool env_stepper = tid == 0;
#endif
    Env env;
    env.id = env_id;
    env.elapsed = 0;
    const int state_dim = env_state_dim(env_id);
    const float* pool = resets + reset_offsets[lt];
    const int pool_size = (int)((reset_offsets[lt + 1] - reset_offsets[lt]) / state_dim);
    int next_auto_reset = episodes;
    unsigned long long steps = 0;
    unsigned long long digest = 0xcbf29ce484222325ULL;
    double total = 0.0;
    bool ended = false;

    // Activation buffers: p = last step's, a and b = this step's propagations (see below).
    int p = 0, a = 1, b = 2;
    int prev_nan = 0;
    // Roles. Warp 0 runs the environment: the readout, the step, and the first propagation's
    // input nodes (the only part of a step that needs its observation). Warps 1.. (the workers)
    // do everything else: after a step's synapse update they go straight on to the next step's
    // first propagation for the other nodes, while warp 0 is still stepping the environment
    // (their messages need only last step's activations and the updated synapses).
    const bool env_warp = tid < 32;
    const int lane = tid & 31;
    const int warps = threads / 32;
    const int workers = threads - 32;
    // Node·channel work: lane l of worker warp w serves node (w - 1)·NODES_PER_WARP + l / D (+ k ·
    // node_slots on its k-th pass), channel l % D; warp 0's lanes take the input nodes the same
    // way. Worker warps left without a node (nodes·D = 128 of 160 worker threads in the paper
    // configuration) form the input gates' pre parts meanwhile.
    const int node_slots = (warps - 1) * NODES_PER_WARP;
    const int lane_node = lane < NODES_PER_WARP * D ? lane / D : nodes;
    const int first_node = env_warp ? nodes : ((tid >> 5) - 1) * NODES_PER_WARP + lane_node;
    const int channel = lane % D;
    const int node_warps = (nodes + NODES_PER_WARP - 1) / NODES_PER_WARP;
    const int gate_pre_first = 1 + node_warps < warps ? (1 + node_warps) * 32 : 32;
    // The stop flag of step t lives in slot t % 2: everyone reads step t - 1's while thread 0
    // writes step t's.
    __shared__ int stop_sh[2];

    for (int episode = 0; episode < episodes; ++episode) {
        if (env_stepper) {
            env_reset_to(env, pool + (size_t)episode * state_dim, obs);
            total = 0.0;
            ended = false;
        }
        for (int t = 0; t < horizon; ++t) {
            // Three propagations: p → a (no action clamp), a → b, b → a. Each is one phase:
            // a node's lanes aggregate its messages (then the input and previous-action
            // clamps), wait for each other, and form its neurons; in the last one they go on
            // to its input gates' post parts.
            int any_nan = 0;
            if (env_warp) {
                // The first propagation's input nodes: x = the observation, from thread 0.
                __syncwarp();
                for (int j = lane_node; j < inputs; j += NODES_PER_WARP) {
                    const int i = j * D + channel;
                    x[i] = obs[j];
                    node_lanes_sync(tid);
                    const float y = neuron(params + L.w + (types_sh[j] * D + channel) * D, x + j * D);
                    ybuf[a * width + i] = y;
                    any_nan |= is_nan(y);
                }
            } else {
                // The last step's synapse updates are done.
                workers_sync(workers);
            }
            int src_nan = prev_nan;
            for (int s = 0; s < 3; ++s) {
                const float* src = ybuf + (s == 0 ? p : (s == 1 ? a : b)) * width;
                float* dst = ybuf + (s == 1 ? b : a) * width;
                if (s > 0) any_nan = 0;
                for (int j = first_node; j < nodes; j += node_slots) {
                    // Warp 0 forms the first propagation's input nodes (above).
                    if (s == 0 && j < inputs) continue;
                    const int i = j * D + channel;
                    float v;
                    if (src_nan) {
                        // One NaN activation anywhere poisons every message (dense 0·NaN).
                        v = j < inputs ? 0.0f : quiet_nan();
                    } else {
                        float acc = 0.0f;
                        const int in_end = (int)in_off[j + 1];
                        const float* e_channel = e + channel;
                        const float* src_channel = src + channel;
                        // Four in-edges per pass: ptxas would unroll 16×, with up to 15
                        // iterations of remainder for the 10–20 in-edges a node has. A signed
                        // index cannot wrap, so the unrolled loads take immediate offsets
                        // (an unsigned one cost 9 more instructions per pass).
#pragma unroll 4
                        for (int k = (int)in_off[j]; k < in_end; ++k) {
                            unsigned int state, sender;
                            if (SHARED) {
                                const unsigned int packed = in_list_sh[k];
                                state = packed & 0xffffu;
                                sender = packed >> 16;
                            } else {
                                const unsigned int edge = in_g[k];
                                state = edge * D;
                                sender = pre_g[edge] * D;
                            }
                            acc = fmaf(e_channel[state], src_channel[sender], acc);
                        }
                        v = acc;
                    }
                    if (j < inputs) v = obs[j];
                    if (s > 0 && channel == 0 && j >= nodes - outputs) {
                        v = continuous ? prev_action_value_sh
                                       : (j - (nodes - outputs) == prev_action_sh ? 1.0f : 0.0f);
                    }
                    x[i] = v;
                    node_lanes_sync(tid);
                    const float y = neuron(params + L.w + (types_sh[j] * D + channel) * D, x + j * D);
                    dst[i] = y;
                    any_nan |= is_nan(y);
                    if (s == 2) {
                        // The input gates' post parts of every type's synapses into node j,
                        // from this step's activations and the reward: this lane forms the
                        // r, z and n gates of its channel, each an independent sum.
                        node_lanes_sync(tid);
                        float y_post[D];
#pragma unroll
                        for (int k = 0; k < D; ++k) y_post[k] = dst[j * D + k];
                        for (int ty = 0; ty < types; ++ty) {
#pragma unroll
                            for (int g3 = 0; g3 < 3; ++g3) {
                                const int gate = ty * 3 * D + g3 * D + channel;
                                post_part[(ty * nodes + j) * 3 * D + g3 * D + channel] =
                                    input_gate_post(params + L.w_ih + gate * (2 * D + 1), y_post,
                                                    reward_sh, params[L.bias + gate]);
                            }
                        }
                    }
                }
                if (s == 0 && tid >= gate_pre_first) {
                    // Last step's activations are fixed for the whole step: the input gates'
                    // pre parts can be formed now (read after this step's barriers; the
                    // previous step's readers finished at its closing barrier).
                    for (int i = tid - gate_pre_first; i < prefix_count; i += threads - gate_pre_first) {
                        const int node = i / (3 * D), g = i % (3 * D);
                        const float* w_row =
                            params + L.w_ih + (types_sh[node] * 3 * D + g) * (2 * D + 1);
                        prefix_sh[i] = input_gate_pre(w_row, src + node * D);
                    }
                }
                src_nan = __syncthreads_or(any_nan);
            }
            // A step after the end of an episode (stop_on_done) only recomputed activations
            // from unchanged inputs; the next episode starts over from the same state.
            if (t > 0 && stop_sh[(t - 1) & 1]) break;
            prev_nan = src_nan;
            const float* y = ybuf + a * width;

            if (env_stepper) {
                // Readout (read_action), then the environment step (run_lifetime).
                int action = 0;
                float value = 0.0f;
                if (continuous) {
                    const float out = y[(nodes - 1) * D];
                    const float unit = is_nan(out) ? 0.0f : out;
                    const float low = env_action_low(env_id), high = env_action_high(env_id);
                    value = low + (unit + 1.0f) * 0.5f * (high - low);
                    prev_action_value_sh = unit;
                } else {
                    const int first = nodes - outputs;
                    float best_value = y[first * D];
                    if (!is_nan(best_value)) {
                        for (int k = 1; k < outputs; ++k) {
                            const float v = y[(first + k) * D];
                            if (is_nan(v)) {
                                action = k;
                                break;
                            }
                            if (v > best_value) {
                                action = k;
                                best_value = v;
                            }
                        }
                    }
                    prev_action_sh = action;
                }
                digest = digest_word(digest, continuous ? digest_float(value) : (unsigned int)action);
                const StepResult r = env_step(env, action, value, obs);
                steps += 1;
                if (!ended) total += (double)r.reward;
                reward_sh = r.reward;
                int stop = 0;
                if (r.terminated || r.truncated) {
                    ended = true;
                    if (stop_on_done) {
                        stop = 1;
                    } else {
                        int index;
                        if (pool_size > episodes) {
                            index = episodes + (next_auto_reset - episodes) % (pool_size - episodes);
                        } else {
                            index = next_auto_reset % pool_size;
                        }
                        next_auto_reset += 1;
                        env_reset_to(env, pool + (size_t)index * state_dim, obs);
                    }
                }
                stop_sh[t & 1] = stop;
            }

            // Synapse plasticity: e ← e + 0.01·λ·GRU_τ(pre)([y_prev,pre ; y_post ; r], e), on the
            // workers while warp 0 steps the environment.
            for (int edge = tid - 32; !env_warp && edge < edges; edge += workers) {
                int i, j;
                if (SHARED) {
                    const unsigned int ends = ends_sh[edge];
                    i = (int)(ends & 0xffffu);
                    j = (int)(ends >> 16);
                } else {
                    i = pre_g[edge];
                    j = post_g[edge];
                }
                const int ty = types_sh[i];
                const float* pre = prefix_sh + i * 3 * D;
                const float* post = post_part + (ty * nodes + j) * 3 * D;
                float h[D], h_new[D];
#pragma unroll
                for (int c = 0; c < D; ++c) h[c] = e[edge * D + c];
                const float* w_hh = params + L.w_hh + ty * 3 * D * D;
                const float* bias_n = params + L.bias_n + ty * D;
#pragma unroll
                for (int c = 0; c < D; ++c) {
                    const float gi_r = pre[c] + post[c];
                    const float gi_z = pre[D + c] + post[D + c];
                    const float gi_n = pre[2 * D + c] + post[2 * D + c];
                    const float gh_r = hidden_gate(w_hh + c * D, h);
                    const float gh_z = hidden_gate(w_hh + (D + c) * D, h);
                    const float gh_n = hidden_gate(w_hh + (2 * D + c) * D, h);
                    const float r = sigmoid_f32(gi_r + gh_r);
                    const float z = sigmoid_f32(gi_z + gh_z);
                    const float cand = tanh_f32(fmaf(r, gh_n + bias_n[c], gi_n));
                    h_new[c] = fmaf(plasticity, fmaf(z, h[c] - cand, cand), h[c]);
                }
                // Stored only after every channel is computed: a store to `e` in the loop could
                // alias the weights read there (both may be shared memory), which would force
                // the channels to run one after another instead of overlapping.
#pragma unroll
                for (int c = 0; c < D; ++c) e[edge * D + c] = h_new[c];
            }
            // This step's activations become last step's. No barrier: the next step's first
            // phase waits for warp 0 (__syncwarp) and for the workers (workers_sync) separately.
            const int old_p = p;
            p = a;
            a = old_p;
        }
        if (tid == 0) returns[(size_t)lt * episodes + episode] = total;
    }
    __syncthreads();
    if (tid == 0) {
        // Every worker's last synapse update is behind the barrier above.
        for (int i = 0; i < edges * D; ++i) digest = digest_word(digest, digest_float(e[i]));
        steps_out[lt] = steps;
        digests_out[lt] = digest;
    }
}

#ifdef __CUDACC__
// The two entry points differ only in where a block keeps its synapse states (src/exec/cuda
// pack.rs Placement): all in shared memory, or in global memory for networks too large for it.
#define SFNN_KERNEL_PARAMS                                                                      \
    const float* __restrict__ genomes, int param_count, int types, int nodes, int lifetimes,    \
        int lifetimes_per_member, int episodes, int stop_on_done,                               \
        const int* __restrict__ env_ids, const unsigned int* __restrict__ block_lifetimes,      \
        const unsigned char* __restrict__ node_types,                                           \
        const unsigned int* __restrict__ edge_offsets,                                          \
        const unsigned short* __restrict__ edge_pre, const unsigned short* __restrict__ edge_post, \
        const unsigned int* __restrict__ in_offsets, const unsigned short* __restrict__ in_edges, \
        const float* __restrict__ synapse_init, const unsigned int* __restrict__ reset_offsets, \
        const float* __restrict__ resets, float* __restrict__ e_global, int states_in_global,   \
        unsigned int e_capacity, double* __restrict__ returns,                                  \
        unsigned long long* __restrict__ steps_out, unsigned long long* __restrict__ digests_out
#define SFNN_KERNEL_ARGS                                                                        \
    genomes, param_count, types, nodes, lifetimes, lifetimes_per_member, episodes, stop_on_done, \
        env_ids, block_lifetimes, node_types, edge_offsets, edge_pre, edge_post, in_offsets,    \
        in_edges, synapse_init, reset_offsets, resets, e_global, states_in_global, e_capacity,  \
        returns, steps_out, digests_out

extern "C" __global__ void __launch_bounds__(192, SFNN_MIN_BLOCKS)
    sfnn_lifetimes(SFNN_KERNEL_PARAMS) {
    extern __shared__ float shared[];
    run_lifetime<true>(SFNN_KERNEL_ARGS, shared);
}

// Networks this large fill shared memory with the genome and the gates' parts, so few blocks fit
// an SM anyway: 2 leave ptxas the registers it needs without spilling on sm_80.
extern "C" __global__ void __launch_bounds__(192, 2)
    sfnn_lifetimes_global(SFNN_KERNEL_PARAMS) {
    extern __shared__ float shared[];
    run_lifetime<false>(SFNN_KERNEL_ARGS, shared);
}
#endif
