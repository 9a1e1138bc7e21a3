// Runs kernels/sfnn.cu on the CPU for tests/cuda_kernel_emulation.rs: each thread block is
// emulated by `threads` std::threads, __syncthreads, __syncwarp and the workers' named barrier
// by std::barriers, so the kernel's own code (indexing, phases, protocol, readout) runs
// unchanged against the CPU executor.
//
// argv: input file, output file, threads per block, and optionally the placement (the kernel's
// states_in_global: 0, 1 or 2; default 0), for which this provides the global scratch area.
// Input (little-endian): i32 param_count, types, nodes, lifetimes, lifetimes_per_member,
// episodes, stop_on_done; then the arrays of src/exec/cuda/pack.rs, each as u32 length + values:
// genomes f32, env_ids i32, block_lifetimes u32, node_types u8, edge_offsets u32, edge_pre u16,
// edge_post u16, in_offsets u32, in_edges u16, synapse_init f32, reset_offsets u32, resets f32;
// then u32 shared_bytes. Output: returns (f64 per lifetime × episode), then steps (u64 per
// lifetime), then digests (u64 per lifetime).
#include <algorithm>
#include <atomic>
#include <barrier>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>
#include <xmmintrin.h>

// ---- the CUDA built-ins the kernel uses
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define __restrict__ __restrict
#define __launch_bounds__(...)

struct Dim3 {
    unsigned x = 0, y = 0, z = 0;
};
static thread_local Dim3 threadIdx;
static Dim3 blockIdx, blockDim;
static std::unique_ptr<std::barrier<>> block_barrier;
static std::atomic<int> or_slots[2];
static thread_local int or_calls = 0;

static void __syncthreads() { block_barrier->arrive_and_wait(); }

static int __syncthreads_or(int predicate) {
    int slot = or_calls++ & 1;
    if (predicate) or_slots[slot].fetch_or(1);
    block_barrier->arrive_and_wait();
    int result = or_slots[slot].load();
    // Every thread has read the other slot in its previous call (before this barrier).
    if (threadIdx.x == 0) or_slots[slot ^ 1].store(0);
    return result;
}

alignas(16) float shared[1 << 20];

// __syncwarp over one node's lanes (sfnn.cu node_lanes_sync): a std::barrier per group of D
// lanes, indexed by the group's first thread.
static std::vector<std::unique_ptr<std::barrier<>>> node_group_barriers;

// __syncwarp() (only warp 0 calls it, sfnn.cu).
static std::unique_ptr<std::barrier<>> warp0_barrier;

static void __syncwarp() { warp0_barrier->arrive_and_wait(); }

// Barrier 1 of the workers (sfnn.cu workers_sync: every thread but warp 0's).
static std::unique_ptr<std::barrier<>> workers_barrier;

static void workers_sync_emulated(int) { workers_barrier->arrive_and_wait(); }

static void node_lanes_sync_emulated(int tid) {
    const int first = (tid & ~31) + (tid & 31) / SFNN_D * SFNN_D;
    node_group_barriers[first]->arrive_and_wait();
}

#include "sfnn.cu"

template <typename T>
static std::vector<T> read_array(FILE* f) {
    unsigned n = 0;
    if (fread(&n, 4, 1, f) != 1) exit(3);
    std::vector<T> v(n ? n : 1);
    if (n && fread(v.data(), sizeof(T), n, f) != n) exit(3);
    return v;
}

static int read_int(FILE* f) {
    int v;
    if (fread(&v, 4, 1, f) != 1) exit(3);
    return v;
}

// `--tables`: the kernel's own copies of the environment table and the genome layout, one line
// each, for tests/cuda_kernel_emulation.rs to compare with src/envs and src/model/genome.rs.
static const int ENV_COUNT = MOUNTAIN_CAR_CONTINUOUS + 1;

static int print_tables() {
    for (int id = 0; id < ENV_COUNT; ++id) {
        printf("env %d %d %d %d %d %d %.9g %.9g\n", id, env_obs_dim(id), env_state_dim(id),
               env_horizon(id), env_outputs(id), (int)env_is_continuous(id),
               (double)env_action_low(id), (double)env_action_high(id));
    }
    for (int types = 1; types <= 16; ++types) {
        const Layout l = layout_for(types);
        printf("layout %d %d %d %d %d %d %d\n", types, l.w, l.w_ih, l.w_hh, l.bias, l.bias_n,
               l.lambda);
    }
    return 0;
}

int main(int argc, char** argv) {
    if (argc == 2 && std::string(argv[1]) == "--tables") return print_tables();
    if (argc != 4 && argc != 5) return 2;
    const int placement = argc == 5 ? atoi(argv[4]) : 0;
    if (placement < 0 || placement > 2) return 2;
    FILE* in = fopen(argv[1], "rb");
    if (!in) return 2;
    int threads = atoi(argv[3]);
    int param_count = read_int(in), types = read_int(in), nodes = read_int(in);
    int lifetimes = read_int(in), per_member = read_int(in), episodes = read_int(in);
    int stop_on_done = read_int(in);
    auto genomes = read_array<float>(in);
    auto env_ids = read_array<int>(in);
    auto block_lifetimes = read_array<unsigned>(in);
    auto node_types = read_array<unsigned char>(in);
    auto edge_offsets = read_array<unsigned>(in);
    auto edge_pre = read_array<unsigned short>(in);
    auto edge_post = read_array<unsigned short>(in);
    auto in_offsets = read_array<unsigned>(in);
    auto in_edges = read_array<unsigned short>(in);
    auto synapse_init = read_array<float>(in);
    auto reset_offsets = read_array<unsigned>(in);
    auto resets = read_array<float>(in);
    unsigned shared_bytes = (unsigned)read_int(in);
    fclose(in);
    if (shared_bytes > sizeof shared) return 4;

    std::vector<double> returns((size_t)lifetimes * episodes);
    std::vector<unsigned long long> steps(lifetimes);
    std::vector<unsigned long long> digests(lifetimes);
    // The executor's scratch area: per block, room for the most synapses of any lifetime and,
    // with placement 2, the post parts (src/exec/cuda/pack.rs BlockSizes::scratch_floats).
    unsigned max_edges = 0;
    for (int l = 0; l < lifetimes; ++l) {
        max_edges = std::max(max_edges, edge_offsets[l + 1] - edge_offsets[l]);
    }
    const size_t per_block = placement == 0 ? 0
                             : (size_t)max_edges * D +
                                   (placement == 2 ? (size_t)types * nodes * 3 * D : 0);
    std::vector<float> scratch(std::max<size_t>(1, per_block * lifetimes), 0.0f);
    blockDim.x = threads;
    for (int block = 0; block < lifetimes; ++block) {
        blockIdx.x = block;
        block_barrier = std::make_unique<std::barrier<>>(threads);
        warp0_barrier = std::make_unique<std::barrier<>>(std::min(threads, 32));
        workers_barrier = threads > 32 ? std::make_unique<std::barrier<>>(threads - 32) : nullptr;
        node_group_barriers.clear();
        node_group_barriers.resize(threads);
        for (int warp = 0; warp < threads; warp += 32) {
            for (int first = warp; first + SFNN_D <= std::min(warp + 32, threads); first += SFNN_D) {
                node_group_barriers[first] = std::make_unique<std::barrier<>>(SFNN_D);
            }
        }
        or_slots[0] = 0;
        or_slots[1] = 0;
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t) {
            pool.emplace_back([&, t] {
                threadIdx.x = t;
                or_calls = 0;
                // The CPU executor runs lifetimes with FTZ and DAZ on, as --ftz=true does here.
                _mm_setcsr(_mm_getcsr() | 0x8040);
                // The kernel's two entry points (sfnn_lifetimes, sfnn_lifetimes_global).
                auto run = placement == 0 ? run_lifetime<true> : run_lifetime<false>;
                run(genomes.data(), param_count, types, nodes, lifetimes, per_member, episodes,
                    stop_on_done, env_ids.data(), block_lifetimes.data(), node_types.data(),
                    edge_offsets.data(), edge_pre.data(), edge_post.data(), in_offsets.data(),
                    in_edges.data(),
                    synapse_init.data(), reset_offsets.data(), resets.data(), scratch.data(),
                    placement, max_edges, returns.data(), steps.data(), digests.data(), shared);
            });
        }
        for (auto& th : pool) th.join();
    }
    FILE* out = fopen(argv[2], "wb");
    if (!out) return 2;
    fwrite(returns.data(), sizeof(double), returns.size(), out);
    fwrite(steps.data(), sizeof(unsigned long long), steps.size(), out);
    fwrite(digests.data(), sizeof(unsigned long long), digests.size(), out);
    fclose(out);
    return 0;
}
