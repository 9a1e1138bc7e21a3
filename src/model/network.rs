//! One SFNN network and its environment step (docs/model.md, "One step").
//!
//! Only wired synapses are stored and computed. They are kept in chunks of [`LANES`] synapses of
//! one type, structure-of-arrays (`e[chunk][channel][lane]`), so the GRU update, which is almost
//! all of the arithmetic, runs lane-wise in SIMD registers.
//!
//! Operation order (every executor repeats it, `kernels/sfnn.cu` included): each sum runs left to
//! right from +0 — a message over senders in ascending order, a neuron over its inputs, a GRU
//! hidden gate over `e` — each term added with one fused multiply-add (`mul_add` here, `fmaf` in
//! the kernel); the GRU fuses `r·(W_hn·e + b_n) + gi_n`, `z·(e − n) + n` and the update
//! `λ'·(…) + e`, and the polynomials of `num.rs` fuse each step; nothing else is fused. A GRU
//! input gate of synapse i→j (type τ = τ(i)) is split in two parts formed once per step, not
//! once per synapse: the pre part
//! `Σ_k W_ih[τ][g][k]·y_prev,i,k` per node i, the post part
//! `(Σ_k W_ih[τ][g][d+k]·y_j,k + w_r·r) + b` per type τ and node j, each sum from +0 in order of
//! k; the gate is `pre + post`. (The reference sums `[y_prev,pre ; y_post ; r]` in one pass; the
//! results differ by rounding only.)
//! The dense message sum also adds the ±0 terms of unwired pairs, which never change a sum that
//! starts at +0, so a sparse sum over wired senders gives the same bits.
//!
//! For speed the messages use a copy of the states as dense per-channel matrices, rows padded to
//! a whole number of [`LANES`] so each block of posts is summed in registers; the copy is
//! refreshed chunk by chunk right after the GRU update, through per-slot offsets.

use super::{Params, Wiring};
use crate::num::Real;
use multiversion::multiversion;

/// Synapses per SIMD chunk (one AVX2 register of f32, half an AVX-512 one).
pub const LANES: usize = 16;

/// The largest network the step supports ([`crate::limits::spec::MAX_NODES`]).
pub const MAX_NODES: usize = crate::limits::spec::MAX_NODES;

/// The widest synapse state the step supports ([`crate::limits::spec::MAX_MSG_DIMS`]).
pub const MAX_MSG_DIMS: usize = crate::limits::spec::MAX_MSG_DIMS;

/// How the output nodes become an action.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Readout {
    /// Argmax over channel 0 of the `n` output nodes; ties and NaN go to the lowest index, as
    /// `jnp.argmax` does. The previous action enters as a one-hot in channel 0.
    Discrete { actions: usize },
    /// Our extension for continuous control: channel 0 of the single output node (in [-1, 1])
    /// scaled linearly to `[low, high]`; the previous action enters channel 0 as that same value
    /// in [-1, 1]. A NaN output gives the midpoint action.
    Continuous { low: f64, high: f64 },
}

impl Readout {
    pub fn outputs(&self) -> usize {
        match *self {
            Readout::Discrete { actions } => actions,
            Readout::Continuous { .. } => 1,
        }
    }
}

/// The action chosen by one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision<F> {
    Discrete(usize),
    /// The scaled action, in the environment's bounds.
    Continuous(F),
}

/// A run of chunks whose synapses all use the GRU of one type.
#[derive(Debug, Clone)]
struct Group {
    ty: usize,
    /// Where the post parts of type `ty` sit in [`Scratch::post_part`] (`[table][gate]`).
    table: usize,
    first_chunk: usize,
    chunks: usize,
    edges: usize,
}

/// Network state for one lifetime: wiring, synapse states, last activations, reward, action.
#[derive(Debug, Clone)]
pub struct Network<F> {
    nodes: usize,
    d: usize,
    inputs: usize,
    readout: Readout,
    node_types: Vec<u8>,
    /// Pre- and post-synaptic node of each synapse slot (padding slots point at node 0).
    pre: Vec<u8>,
    post: Vec<u8>,
    /// For each slot, where its synapse sits in the wiring's edge list (`u32::MAX` for padding).
    wiring_index: Vec<u32>,
    groups: Vec<Group>,
    /// The types that occur as pre-synaptic types, in the order of their post-part tables.
    pre_types: Vec<usize>,
    /// Synapse states, `[chunk][channel][lane]`.
    e: Vec<F>,
    /// The same states as dense per-channel matrices `[channel][pre][post]`, zero where no
    /// synapse is wired, for the message passing (three times per step, vectorised over posts).
    /// Rows are `dense_row` long (`nodes` rounded up to whole chunks); each channel's plane has
    /// one extra row that padding slots write into and nothing reads.
    dense: Vec<F>,
    dense_row: usize,
    /// Where each slot's synapse sits in a channel's plane of `dense`.
    dense_offset: Vec<u32>,
    y_prev: Vec<F>,
    /// Whether the synapse update may gather with a two-register permute (f32, at most 32 nodes
    /// and 32 types, AVX-512F present), and refresh the dense states with one scatter per
    /// channel; otherwise it gathers and stores lane by lane.
    permute_gather: bool,
    /// Node types, zero-padded to whole chunks (the per-node pre parts read them [`LANES`] at a
    /// time).
    node_types_padded: Vec<u8>,
    reward: F,
    prev_action: usize,
    /// The previous action as the network saw it in channel 0 (continuous readout).
    prev_action_value: F,
    scratch: Scratch<F>,
}

#[derive(Debug, Clone)]
struct Scratch<F> {
    x: Vec<F>,
    y: Vec<F>,
    /// Activations channel-major (`[channel][node]`), last step's and this step's, so each
    /// lane gathers its synapse's inputs by a byte index, without bounds checks.
    prev_by_channel: Vec<[F; MAX_NODES]>,
    now_by_channel: Vec<[F; MAX_NODES]>,
    gi: Vec<[F; LANES]>,
    gh: Vec<[F; LANES]>,
    /// `W_ih[τ][g][k]` for every type τ, one table per `(g, k)` with `k < d` (the
    /// pre-synaptic columns), gathered by node type.
    type_w: Vec<[F; MAX_NODES]>,
    /// Per gate row g, per node i: `Σ_{k<d} W_ih[τ(i)][g][k]·y_prev,i,k` summed from +0 in
    /// order, the pre part of every input gate of a synapse leaving i.
    pre_part: Vec<[F; MAX_NODES]>,
    /// Per pre-synaptic type τ (in `pre_types` order), gate row g and node j:
    /// `(Σ_{k<d} W_ih[τ][g][d+k]·y_j,k + W_ih[τ][g][2d]·r) + b[τ][g]`, the post part of every
    /// input gate of a synapse of type τ entering j.
    post_part: Vec<[F; MAX_NODES]>,
}

impl<F: Real> Network<F> {
    /// A network at the start of a lifetime: `synapse_init` holds `d` values per wiring edge (in
    /// the wiring's order); activations, reward and previous action start at zero.
    pub fn new(
        wiring: &Wiring,
        readout: Readout,
        d: usize,
        types: usize,
        synapse_init: &[F],
    ) -> Self {
        assert_eq!(synapse_init.len(), wiring.edges.len() * d);
        assert!(wiring.nodes <= MAX_NODES, "at most {MAX_NODES} nodes");
        assert!(wiring.node_types.iter().all(|&t| (t as usize) < types));
        assert!(
            d <= MAX_MSG_DIMS,
            "at most {MAX_MSG_DIMS} message dimensions"
        );
        assert_eq!(wiring.outputs, readout.outputs());
        let mut groups: Vec<Group> = Vec::new();
        let mut pre_types: Vec<usize> = Vec::new();
        let (mut pre, mut post, mut wiring_index) = (Vec::new(), Vec::new(), Vec::new());
        let mut start = 0;
        while start < wiring.edges.len() {
            let ty = wiring.node_types[wiring.edges[start][0] as usize] as usize;
            let end = start
                + wiring.edges[start..]
                    .iter()
                    .take_while(|e| wiring.node_types[e[0] as usize] as usize == ty)
                    .count();
            let chunks = (end - start).div_ceil(LANES);
            let table = match pre_types.iter().position(|&t| t == ty) {
                Some(table) => table,
                None => {
                    pre_types.push(ty);
                    pre_types.len() - 1
                }
            };
            groups.push(Group {
                ty,
                table,
                first_chunk: pre.len() / LANES,
                chunks,
                edges: end - start,
            });
            for slot in 0..chunks * LANES {
                let k = start + slot;
                if k < end {
                    pre.push(wiring.edges[k][0] as u8);
                    post.push(wiring.edges[k][1] as u8);
                    wiring_index.push(k as u32);
                } else {
                    pre.push(0);
                    post.push(0);
                    wiring_index.push(u32::MAX);
                }
            }
            start = end;
        }
        let mut e = vec![F::zero(); pre.len() * d];
        for (slot, &k) in wiring_index.iter().enumerate() {
            if k != u32::MAX {
                for c in 0..d {
                    e[e_index(slot, c, d)] = synapse_init[k as usize * d + c];
                }
            }
        }
        let n = wiring.nodes;
        let post_tables = pre_types.len() * 3 * d;
        let dense_row = n.next_multiple_of(LANES);
        let dense_offset: Vec<u32> = (0..pre.len())
            .map(|slot| {
                let (i, j) = match wiring_index[slot] {
                    u32::MAX => (n, 0),
                    _ => (pre[slot] as usize, post[slot] as usize),
                };
                (i * dense_row + j) as u32
            })
            .collect();
        let mut dense = vec![F::zero(); d * dense_plane(n, dense_row)];
        for chunk in 0..pre.len() / LANES {
            scatter_chunk(
                &e[chunk * d * LANES..(chunk + 1) * d * LANES],
                dense_offset[chunk * LANES..(chunk + 1) * LANES]
                    .try_into()
                    .expect("whole chunk"),
                dense_plane(n, dense_row),
                &mut dense,
                false,
            );
        }
        Network {
            nodes: n,
            d,
            inputs: wiring.inputs,
            readout,
            node_types: wiring.node_types.clone(),
            pre,
            post,
            wiring_index,
            groups,
            pre_types,
            e,
            dense,
            dense_row,
            dense_offset,
            y_prev: vec![F::zero(); n * d],
            permute_gather: n <= 32
                && types <= 32
                && std::mem::size_of::<F>() == 4
                && has_avx512f(),
            node_types_padded: {
                let mut padded = wiring.node_types.clone();
                padded.resize(n.next_multiple_of(LANES), 0);
                padded
            },
            reward: F::zero(),
            prev_action: 0,
            prev_action_value: F::zero(),
            scratch: Scratch {
                x: vec![F::zero(); n * d],
                y: vec![F::zero(); n * d],
                prev_by_channel: vec![[F::zero(); MAX_NODES]; d],
                now_by_channel: vec![[F::zero(); MAX_NODES]; d],
                gi: vec![[F::zero(); LANES]; 3 * d],
                gh: vec![[F::zero(); LANES]; 3 * d],
                type_w: vec![[F::zero(); MAX_NODES]; 3 * d * d],
                pre_part: vec![[F::zero(); MAX_NODES]; 3 * d],
                post_part: vec![[F::zero(); MAX_NODES]; post_tables],
            },
        }
    }

    /// One environment step: three propagations, the readout, then the synapse update.
    pub fn step(&mut self, params: &Params<F>, obs: &[F]) -> Decision<F> {
        step_dispatch(self, params, obs)
    }

    /// Feeds the reward of the transition that followed the last step (used by the next step).
    pub fn set_reward(&mut self, reward: F) {
        self.reward = reward;
    }

    pub fn reward(&self) -> F {
        self.reward
    }

    /// Overrides the previous action (teacher forcing in tests; discrete readout).
    pub fn set_prev_action(&mut self, action: usize) {
        self.prev_action = action;
    }

    pub fn prev_action(&self) -> usize {
        self.prev_action
    }

    /// Activations of the last step, `[node][channel]`.
    pub fn activations(&self) -> &[F] {
        &self.y_prev
    }

    /// Channel 0 of the output nodes after the last step.
    pub fn action_outputs(&self) -> Vec<F> {
        let outputs = self.readout.outputs();
        (self.nodes - outputs..self.nodes)
            .map(|j| self.y_prev[j * self.d])
            .collect()
    }

    /// The state of every wired synapse, `d` values per edge in the wiring's edge order.
    pub fn synapse_states(&self) -> Vec<F> {
        let edges = self.groups.iter().map(|g| g.edges).sum::<usize>();
        let mut out = vec![F::zero(); edges * self.d];
        for (slot, &k) in self.wiring_index.iter().enumerate() {
            if k != u32::MAX {
                for c in 0..self.d {
                    out[k as usize * self.d + c] = self.e[e_index(slot, c, self.d)];
                }
            }
        }
        out
    }

    /// Number of wired synapses.
    pub fn edge_count(&self) -> usize {
        self.groups.iter().map(|g| g.edges).sum()
    }
}

#[inline(always)]
fn e_index(slot: usize, channel: usize, d: usize) -> usize {
    (slot / LANES * d + channel) * LANES + slot % LANES
}

/// The step, compiled once per instruction set and dispatched at run time. Every version gives
/// bit-identical results: the compiler fuses nothing, and `mul_add` is exact everywhere (an FMA
/// instruction where the target has one; without, a much slower library call).
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "x86_64+avx"))]
fn step_dispatch<F: Real>(net: &mut Network<F>, params: &Params<F>, obs: &[F]) -> Decision<F> {
    step_impl(net, params, obs)
}

#[inline(always)]
fn step_impl<F: Real>(net: &mut Network<F>, params: &Params<F>, obs: &[F]) -> Decision<F> {
    let d = net.d;
    let mut x = std::mem::take(&mut net.scratch.x);
    let mut y = std::mem::take(&mut net.scratch.y);

    // Propagation 0: from last step's activations, without the action clamp.
    aggregate(net, &net.y_prev, &mut x);
    clamp_inputs(&mut x, obs, d);
    neurons(net, params, &x, &mut y);
    // Propagations 1 and 2, with the previous action written into the output nodes.
    for _ in 0..2 {
        aggregate(net, &y, &mut x);
        clamp_inputs(&mut x, obs, d);
        clamp_prev_action(net, &mut x);
        neurons(net, params, &x, &mut y);
    }
    let decision = read_action(net, &y);
    update_synapses(net, params, &y);

    std::mem::swap(&mut net.y_prev, &mut y);
    net.scratch.x = x;
    net.scratch.y = y;
    match decision {
        Decision::Discrete(a) => net.prev_action = a,
        Decision::Continuous(_) => {
            let out = net.y_prev[(net.nodes - 1) * d];
            net.prev_action_value = if out.is_nan() { F::zero() } else { out };
        }
    }
    decision
}

/// `x_j = Σ_i A_ij (e_ij ⊙ y_i)`, summed over senders i in ascending order. The reference sums
/// densely over all senders, so one NaN activation anywhere makes every message NaN (0·NaN =
/// NaN); we reproduce that instead of letting NaN spread only along wired synapses.
///
/// Posts are taken [`LANES`] at a time so each block's sums stay in registers over all senders.
#[inline(always)]
fn aggregate<F: Real>(net: &Network<F>, src: &[F], x: &mut [F]) {
    let (d, n, row) = (net.d, net.nodes, net.dense_row);
    if src.iter().any(|v| v.is_nan()) {
        x[..net.inputs * d].fill(F::zero());
        x[net.inputs * d..].fill(F::nan());
        return;
    }
    let plane = dense_plane(n, row);
    for c in 0..d {
        let w = &net.dense[c * plane..(c + 1) * plane];
        for block in (0..n).step_by(LANES) {
            let mut acc = [F::zero(); LANES];
            for i in 0..n {
                let yi = src[i * d + c];
                let w_row: &[F; LANES] = w[i * row + block..][..LANES]
                    .try_into()
                    .expect("whole block");
                for l in 0..LANES {
                    acc[l] = w_row[l].mul_add(yi, acc[l]);
                }
            }
            for (l, &value) in acc.iter().enumerate().take(n - block) {
                x[(block + l) * d + c] = value;
            }
        }
    }
}

/// `acc += row · scale`, element-wise, each with one fused multiply-add.
#[inline(always)]
fn add_scaled<F: Real>(acc: &mut [F], row: &[F], scale: F) {
    for (a, &w) in acc.iter_mut().zip(row) {
        *a = w.mul_add(scale, *a);
    }
}

/// Floats in one channel's plane of the dense states: `nodes` rows and the padding slots' row.
#[inline(always)]
fn dense_plane(n: usize, row: usize) -> usize {
    (n + 1) * row
}

/// Copies one chunk's synapse states (`[channel][lane]`) into the dense per-channel matrices;
/// with `vector` (f32 and AVX-512F, as for the permute gathers) one scatter per channel.
#[inline(always)]
fn scatter_chunk<F: Real>(
    e: &[F],
    offsets: &[u32; LANES],
    plane: usize,
    dense: &mut [F],
    vector: bool,
) {
    #[cfg(target_arch = "x86_64")]
    if vector {
        debug_assert_eq!(std::mem::size_of::<F>(), 4);
        let channels = e.len() / LANES;
        assert!(dense.len() >= channels * plane && offsets.iter().all(|&o| (o as usize) < plane));
        // SAFETY: `vector` is only set for a 4-byte `F` (f32) on a processor with AVX-512F;
        // `e` holds `channels` whole lanes, and every offset is inside a channel's plane of
        // `dense` (asserted above), so every store is in bounds.
        unsafe {
            scatter_chunk_f32(
                e.as_ptr().cast::<f32>(),
                offsets,
                plane,
                dense.as_mut_ptr().cast::<f32>(),
                channels,
            );
        }
        return;
    }
    for (c, e_c) in e.chunks_exact(LANES).enumerate() {
        let dense_c = &mut dense[c * plane..(c + 1) * plane];
        for l in 0..LANES {
            dense_c[offsets[l] as usize] = e_c[l];
        }
    }
}

#[inline(always)]
fn clamp_inputs<F: Real>(x: &mut [F], obs: &[F], d: usize) {
    for (j, &o) in obs.iter().enumerate() {
        x[j * d..(j + 1) * d].fill(o);
    }
}

#[inline(always)]
fn clamp_prev_action<F: Real>(net: &Network<F>, x: &mut [F]) {
    let d = net.d;
    match net.readout {
        Readout::Discrete { actions } => {
            for k in 0..actions {
                let hot = if k == net.prev_action {
                    F::one()
                } else {
                    F::zero()
                };
                x[(net.nodes - actions + k) * d] = hot;
            }
        }
        Readout::Continuous { .. } => x[(net.nodes - 1) * d] = net.prev_action_value,
    }
}

/// `y_j = tanh(W_τ(j) x_j)` for every node: all pre-activations first, then one tanh pass over
/// the whole array, which vectorises. Common widths get a version with `d` known at compile
/// time (same sums, same order), which the compiler unrolls.
#[inline(always)]
fn neurons<F: Real>(net: &Network<F>, params: &Params<F>, x: &[F], y: &mut [F]) {
    match net.d {
        1 => neuron_sums::<F, 1>(net, params, x, y),
        2 => neuron_sums::<F, 2>(net, params, x, y),
        4 => neuron_sums::<F, 4>(net, params, x, y),
        8 => neuron_sums::<F, 8>(net, params, x, y),
        16 => neuron_sums::<F, 16>(net, params, x, y),
        d => {
            for j in 0..net.nodes {
                let w = &params.neuron_w_t[net.node_types[j] as usize * d * d..][..d * d];
                let (xj, yj) = (&x[j * d..(j + 1) * d], &mut y[j * d..(j + 1) * d]);
                yj.fill(F::zero());
                for c in 0..d {
                    add_scaled(yj, &w[c * d..(c + 1) * d], xj[c]);
                }
            }
        }
    }
    for v in y.iter_mut() {
        *v = v.tanh_model();
    }
}

/// `y_j = W_τ(j) x_j` for `d = D`: each output summed over the inputs in order, from +0.
#[inline(always)]
fn neuron_sums<F: Real, const D: usize>(
    net: &Network<F>,
    params: &Params<F>,
    x: &[F],
    y: &mut [F],
) {
    for ((xj, yj), &ty) in x
        .chunks_exact(D)
        .zip(y.chunks_exact_mut(D))
        .zip(&net.node_types)
    {
        let w = &params.neuron_w_t[ty as usize * D * D..][..D * D];
        let mut acc = [F::zero(); D];
        for (c, w_c) in w.chunks_exact(D).enumerate() {
            let xc = xj[c];
            for k in 0..D {
                acc[k] = w_c[k].mul_add(xc, acc[k]);
            }
        }
        yj.copy_from_slice(&acc);
    }
}

#[inline(always)]
fn read_action<F: Real>(net: &Network<F>, y: &[F]) -> Decision<F> {
    let d = net.d;
    match net.readout {
        Readout::Discrete { actions } => {
            let first = net.nodes - actions;
            let mut best = 0;
            let mut best_value = y[first * d];
            if best_value.is_nan() {
                return Decision::Discrete(0);
            }
            for k in 1..actions {
                let v = y[(first + k) * d];
                if v.is_nan() {
                    return Decision::Discrete(k);
                }
                if v > best_value {
                    best = k;
                    best_value = v;
                }
            }
            Decision::Discrete(best)
        }
        Readout::Continuous { low, high } => {
            let out = y[(net.nodes - 1) * d];
            let unit = if out.is_nan() { F::zero() } else { out };
            let (low, high) = (F::of(low), F::of(high));
            Decision::Continuous(low + (unit + F::one()) * F::of(0.5) * (high - low))
        }
    }
}

/// `e ← e + 0.01·λ·GRU_τ(pre)([y_prev,pre ; y_post ; r], e)` for every wired synapse.
#[inline(always)]
fn update_synapses<F: Real>(net: &mut Network<F>, params: &Params<F>, y: &[F]) {
    let d = net.d;
    let g3 = 3 * d;
    let n = net.nodes;
    let Scratch {
        prev_by_channel,
        now_by_channel,
        gi,
        gh,
        type_w,
        pre_part,
        post_part,
        ..
    } = &mut net.scratch;
    for j in 0..n {
        for c in 0..d {
            prev_by_channel[c][j] = net.y_prev[j * d + c];
            now_by_channel[c][j] = y[j * d + c];
        }
    }

    let plasticity = params.plasticity;
    let plane = dense_plane(n, net.dense_row);
    let permute = net.permute_gather;
    input_gate_pre_parts(
        type_w,
        pre_part,
        prev_by_channel,
        &net.node_types_padded,
        params,
        d,
        permute,
    );
    input_gate_post_parts(
        post_part,
        now_by_channel,
        &net.pre_types,
        params,
        d,
        n,
        net.reward,
    );
    for group in &net.groups {
        let ty = group.ty;
        let post_tables = &post_part[group.table * g3..][..g3];
        let w_hh = &params.w_hh[ty * g3 * d..][..g3 * d];
        let bias_n = &params.bias_n[ty * d..][..d];
        for chunk in group.first_chunk..group.first_chunk + group.chunks {
            let slots = chunk * LANES..(chunk + 1) * LANES;
            let pre: &[u8; LANES] = net.pre[slots.clone()].try_into().expect("whole chunk");
            let post: &[u8; LANES] = net.post[slots].try_into().expect("whole chunk");
            for ((gi_g, pre_g), post_g) in gi.iter_mut().zip(pre_part.iter()).zip(post_tables) {
                let a = gather(pre_g, pre, permute);
                let b = gather(post_g, post, permute);
                for l in 0..LANES {
                    gi_g[l] = a[l] + b[l];
                }
            }
            let e = &mut net.e[chunk * d * LANES..(chunk + 1) * d * LANES];
            gru_chunk(gi, gh, e, w_hh, bias_n, plasticity);
            let offsets = net.dense_offset[chunk * LANES..(chunk + 1) * LANES]
                .try_into()
                .expect("whole chunk");
            scatter_chunk(e, offsets, plane, &mut net.dense, permute);
        }
    }
}

/// `table[index[l]]` for every lane.
#[inline(always)]
fn gather<F: Real>(table: &[F; MAX_NODES], index: &[u8; LANES], permute: bool) -> [F; LANES] {
    #[cfg(target_arch = "x86_64")]
    if permute {
        debug_assert_eq!(std::mem::size_of::<F>(), 4);
        // SAFETY: `permute` is only set for a 4-byte `F` (f32, the only one) on a processor with
        // AVX-512F, and for networks of at most 32 nodes, so the 32 table entries the permute
        // reads are in bounds and every index is below 32.
        unsafe {
            let out = permute_gather_f32(table.as_ptr().cast::<f32>(), index);
            return std::mem::transmute_copy::<[f32; LANES], [F; LANES]>(&out);
        }
    }
    let mut out = [F::zero(); LANES];
    for l in 0..LANES {
        out[l] = table[index[l] as usize];
    }
    out
}

/// `table[index[l]]` for 16 lanes and indices below 32, with one two-register permute
/// (`vpermt2ps`) instead of 16 loads; it inlines into the AVX-512 version of the step.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn permute_gather_f32(table: *const f32, index: &[u8; LANES]) -> [f32; LANES] {
    use std::arch::x86_64::*;
    // SAFETY: the caller guarantees 32 readable floats at `table`; `index` is 16 bytes.
    unsafe {
        let low = _mm512_loadu_ps(table);
        let high = _mm512_loadu_ps(table.add(16));
        let lanes = _mm512_cvtepu8_epi32(_mm_loadu_si128(index.as_ptr().cast::<__m128i>()));
        std::mem::transmute::<__m512, [f32; LANES]>(_mm512_permutex2var_ps(low, lanes, high))
    }
}

/// [`scatter_chunk`] with one `vpscatterdd`-style store per channel; it inlines into the AVX-512
/// version of the step.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn scatter_chunk_f32(
    e: *const f32,
    offsets: &[u32; LANES],
    plane: usize,
    dense: *mut f32,
    channels: usize,
) {
    use std::arch::x86_64::*;
    // SAFETY: the caller guarantees `channels × LANES` readable floats at `e` and that every
    // offset is inside each of the `channels` planes at `dense`.
    unsafe {
        let index = _mm512_loadu_si512(offsets.as_ptr().cast());
        for c in 0..channels {
            let values = _mm512_loadu_ps(e.add(c * LANES));
            _mm512_i32scatter_ps::<4>(dense.add(c * plane).cast(), index, values);
        }
    }
}

fn has_avx512f() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The pre part of every input gate, per node: `pre_part[g][i] = Σ_{k<d}
/// W_ih[τ(i)][g][k]·y_prev,i,k`, from +0 in order of k (a synapse's GRU is its pre node's
/// type). Vectorised over nodes; each node's weight is gathered from a per-type table by its
/// type.
#[inline(always)]
fn input_gate_pre_parts<F: Real>(
    type_w: &mut [[F; MAX_NODES]],
    pre_part: &mut [[F; MAX_NODES]],
    prev_by_channel: &[[F; MAX_NODES]],
    node_types: &[u8],
    params: &Params<F>,
    d: usize,
    permute: bool,
) {
    let (g3, width) = (3 * d, 2 * d + 1);
    let types = params.w_ih.len() / (g3 * width);
    for (gk, table) in type_w.iter_mut().enumerate() {
        let (g, k) = (gk / d, gk % d);
        for (ty, w) in table.iter_mut().take(types).enumerate() {
            *w = params.w_ih[(ty * g3 + g) * width + k];
        }
    }
    for (block, types_of) in node_types.chunks_exact(LANES).enumerate() {
        let types_of: &[u8; LANES] = types_of.try_into().expect("whole chunk");
        let nodes = block * LANES..(block + 1) * LANES;
        for (g, out) in pre_part.iter_mut().enumerate() {
            let mut acc = [F::zero(); LANES];
            for k in 0..d {
                let w = gather(&type_w[g * d + k], types_of, permute);
                let y: &[F; LANES] = prev_by_channel[k][nodes.clone()]
                    .try_into()
                    .expect("whole chunk");
                for l in 0..LANES {
                    acc[l] += w[l] * y[l];
                }
            }
            out[nodes.clone()].copy_from_slice(&acc);
        }
    }
}

/// The post part of every input gate, per pre-synaptic type τ and node j:
/// `post_part[τ][g][j] = (Σ_{k<d} W_ih[τ][g][d+k]·y_j,k + W_ih[τ][g][2d]·r) + b[τ][g]`, the sum
/// from +0 in order of k. Vectorised over nodes.
#[inline(always)]
fn input_gate_post_parts<F: Real>(
    post_part: &mut [[F; MAX_NODES]],
    now_by_channel: &[[F; MAX_NODES]],
    pre_types: &[usize],
    params: &Params<F>,
    d: usize,
    n: usize,
    r: F,
) {
    let (g3, width) = (3 * d, 2 * d + 1);
    for (tables, &ty) in post_part.chunks_exact_mut(g3).zip(pre_types) {
        let w_ih = &params.w_ih[ty * g3 * width..][..g3 * width];
        let bias = &params.bias[ty * g3..][..g3];
        for ((out, w_row), &b) in tables.iter_mut().zip(w_ih.chunks_exact(width)).zip(bias) {
            let wr = w_row[width - 1] * r;
            for block in (0..n).step_by(LANES) {
                let mut acc = [F::zero(); LANES];
                for (&w, y) in w_row[d..2 * d].iter().zip(now_by_channel) {
                    let y: &[F; LANES] = y[block..block + LANES].try_into().expect("whole chunk");
                    for l in 0..LANES {
                        acc[l] += w * y[l];
                    }
                }
                for (o, a) in out[block..block + LANES].iter_mut().zip(acc) {
                    *o = a + wr + b;
                }
            }
        }
    }
}

/// The GRU update of one chunk of synapses. A function of its own so that LLVM knows `e` does
/// not alias the gate buffers, which it must know to vectorise across lanes.
#[inline(always)]
fn gru_chunk<F: Real>(
    gi: &[[F; LANES]],
    gh: &mut [[F; LANES]],
    e: &mut [F],
    w_hh: &[F],
    bias_n: &[F],
    plasticity: F,
) {
    let d = bias_n.len();
    let (e, _) = e.as_chunks_mut::<LANES>();
    for (gh_g, w_row) in gh.iter_mut().zip(w_hh.chunks_exact(d)) {
        let mut acc = [F::zero(); LANES];
        for (&w, ec) in w_row.iter().zip(e.iter()) {
            for l in 0..LANES {
                acc[l] = w.mul_add(ec[l], acc[l]);
            }
        }
        *gh_g = acc;
    }
    // Plain loops, not closures: a closure is a function of its own, which does not inherit the
    // caller's target features and would run scalar.
    let (mut r, mut z, mut cand) = ([F::zero(); LANES], [F::zero(); LANES], [F::zero(); LANES]);
    for c in 0..d {
        let (gi_r, gi_z, gi_n) = (&gi[c], &gi[d + c], &gi[2 * d + c]);
        let (gh_r, gh_z, gh_n) = (&gh[c], &gh[d + c], &gh[2 * d + c]);
        for l in 0..LANES {
            r[l] = (gi_r[l] + gh_r[l]).sigmoid_model();
        }
        for l in 0..LANES {
            z[l] = (gi_z[l] + gh_z[l]).sigmoid_model();
        }
        for l in 0..LANES {
            cand[l] = r[l].mul_add(gh_n[l] + bias_n[c], gi_n[l]).tanh_model();
        }
        let ec = &mut e[c];
        for l in 0..LANES {
            let h = ec[l];
            ec[l] = plasticity.mul_add(z[l].mul_add(h - cand[l], cand[l]), h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{GenomeLayout, ModelConfig, Topology};
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The permute gathers (AVX-512, at most 32 nodes) and the lane-by-lane ones feed the same
    /// pre and post parts to every synapse, so both give the same bits.
    #[test]
    fn permute_and_lane_gathers_give_the_same_bits() {
        let model = ModelConfig::default();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let wiring = Wiring::sample(32, 4, 2, 3, &Topology::default(), &mut rng);
        let layout = GenomeLayout::new(model);
        let flat: Vec<f64> = (0..layout.len())
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let params = Params::<f32>::from_flat(&layout, &flat);
        let init: Vec<f32> = (0..wiring.edges.len() * 4)
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect();
        let readout = Readout::Discrete { actions: 2 };
        let mut a = Network::new(&wiring, readout, 4, 3, &init);
        let mut b = a.clone();
        b.permute_gather = false;
        for t in 0..50 {
            let obs: Vec<f32> = (0..4).map(|_| rng.random_range(-2.0f32..2.0)).collect();
            assert_eq!(a.step(&params, &obs), b.step(&params, &obs), "step {t}");
            let reward = rng.random_range(-1.0f32..1.0);
            a.set_reward(reward);
            b.set_reward(reward);
            let bits = |n: &Network<f32>| -> Vec<u32> {
                n.synapse_states().iter().map(|v| v.to_bits()).collect()
            };
            assert_eq!(bits(&a), bits(&b), "step {t}");
        }
        assert!(a.synapse_states().iter().all(|v| v.is_finite()));
    }
}
