"""The SFNN network (SFNN.md §2.3–2.6) in float32 NumPy: wiring, initial state, one env step.

Dense (N, N, d) arrays: at N = 32 the whole step is a handful of small ``einsum`` calls. Only
wired synapses are updated (the reference updates all N² pairs, but never reads the unwired
ones). Here an unwired synapse's state is set to 0 when the :class:`Network` is built, whatever
initial value was passed for it, and stays 0: the dense sums over all pairs then add only wired
synapses, and an unwired state cannot overflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np

from .files import Genome

#: The reference's connection probabilities (``reservoir`` with 0.5/0.5/0.5/0.5/0) and the
#: layered variant; same names as the job spec's ``topology``.
PRESETS = {
    "reservoir": dict(p_ih=0.5, p_hh=0.5, p_ho=0.5, p_oh=0.5, p_io=0.0),
    "layered": dict(p_ih=0.5, p_hh=0.0, p_ho=0.5, p_oh=0.0, p_io=0.0),
}

F32 = np.float32


@dataclass
class Wiring:
    """One network's structure: node types (N,) and adjacency (N, N), ``adjacency[i, j]``
    meaning a synapse from i to j. Inputs are nodes ``0..inputs-1``, outputs the last ``outputs``."""

    inputs: int
    outputs: int
    node_types: np.ndarray
    adjacency: np.ndarray

    @property
    def nodes(self) -> int:
        return len(self.node_types)

    @classmethod
    def from_edges(cls, nodes, inputs, outputs, node_types, edges) -> "Wiring":
        adjacency = np.zeros((nodes, nodes), dtype=bool)
        edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
        adjacency[edges[:, 0], edges[:, 1]] = True
        return cls(inputs, outputs, np.asarray(node_types, dtype=np.int64), adjacency)

    def edges(self) -> np.ndarray:
        """Synapses ``[pre, post]`` in SFNN Lab's order: by (type of pre, pre, post)."""
        pre, post = np.nonzero(self.adjacency)
        order = np.lexsort((post, pre, self.node_types[pre]))
        return np.stack([pre[order], post[order]], axis=1)


def node_types(nodes: int, inputs: int, outputs: int, types: int, rng) -> np.ndarray:
    """Inputs 0, outputs T−1, hidden ``randint(1, T−1)`` (deterministic for T ≤ 3)."""
    t = np.ones(nodes, dtype=np.int64) * min(1, types - 1)
    if types >= 4:
        t[:] = rng.integers(1, types - 1, size=nodes)
    t[:inputs] = 0
    t[nodes - outputs :] = types - 1
    return t


def topology_probabilities(topology: Optional[dict] = None) -> dict:
    """The five probabilities of a job spec's ``topology`` (a preset plus overrides)."""
    topology = dict(topology or {})
    probs = dict(PRESETS[topology.pop("preset", "reservoir")])
    probs.update({k: float(v) for k, v in topology.items() if v is not None})
    return probs


def sample_wiring(
    nodes: int, inputs: int, outputs: int, types: int, rng, topology: Optional[dict] = None
) -> Wiring:
    """Draws node types and connectivity (SFNN.md §2.3); ``rng`` is a ``numpy.random.Generator``."""
    p = topology_probabilities(topology)
    t = node_types(nodes, inputs, outputs, types, rng)
    hid = slice(inputs, nodes - outputs)
    out = slice(nodes - outputs, nodes)
    inp = slice(0, inputs)
    a = np.zeros((nodes, nodes), dtype=bool)
    h = nodes - inputs - outputs
    a[inp, hid] = rng.random((inputs, h)) < p["p_ih"]
    a[hid, hid] = (rng.random((h, h)) < p["p_hh"]) & ~np.eye(h, dtype=bool)
    a[hid, out] = rng.random((h, outputs)) < p["p_ho"]
    a[out, hid] = rng.random((outputs, h)) < p["p_oh"]
    a[inp, out] = rng.random((inputs, outputs)) < p["p_io"]
    return Wiring(inputs, outputs, t, a)


def initial_synapses(wiring: Wiring, d: int, rng) -> np.ndarray:
    """Synapse states (N, N, d), Uniform(−0.1, 0.1) for every pair as the reference draws them."""
    n = wiring.nodes
    return rng.uniform(-0.1, 0.1, size=(n, n, d)).astype(F32)


class Network:
    """A network for one lifetime: wiring, synapse states ``e``, last activations ``y_prev``,
    last reward ``r`` and previous action ``prev_action``.

    ``synapses`` (N, N, d) gives the initial synapse states: wired pairs keep the value given,
    unwired pairs are set to 0 and stay 0 (they are never updated). ``y_prev`` (N, d),
    ``reward`` and ``prev_action`` give the state the first :meth:`step` sees, for a network
    that continues where another left off (a replay, a checkpoint); by default a lifetime's
    start: zero activations, reward 0, previous action 0. ``prev_action`` is an action index for
    a discrete readout, the last output in [−1, 1] for a continuous one.

    ``dtype`` float64 gives the same network in double precision, to tell rounding from error.

    ``readout`` is ``("discrete", n_actions)`` — argmax over channel 0 of the output nodes, ties
    and NaN to the lowest index — or ``("continuous", low, high)``: channel 0 of the single
    output node, in [−1, 1], scaled to [low, high] (SFNN Lab's extension).
    """

    def __init__(
        self,
        genome: Genome,
        wiring: Wiring,
        synapses: np.ndarray,
        readout=None,
        dtype=np.float32,
        *,
        y_prev: Optional[np.ndarray] = None,
        reward: float = 0.0,
        prev_action: Union[int, float] = 0,
    ):
        F32 = self.dtype = np.dtype(dtype).type
        d = genome.model.msg_dims
        self.d = d
        self.wiring = wiring
        self.readout = tuple(readout or ("discrete", wiring.outputs))
        if self.readout[0] == "continuous" and wiring.outputs != 1:
            raise ValueError("a continuous readout needs exactly one output node")
        tn = genome.tensors
        types = wiring.node_types
        # Per-node parameters (a synapse uses its pre-synaptic node's GRU).
        self.w_neuron = tn["node_cells.out.weight"].astype(F32)[types]  # (N, d, d)
        w_ih = tn["edge_cells.weight_ih"].astype(F32)[types]  # (N, 3d, 2d+1)
        self.w_pre, self.w_post, self.w_r = w_ih[:, :, :d], w_ih[:, :, d : 2 * d], w_ih[:, :, 2 * d]
        self.w_hh = tn["edge_cells.weight_hh"].astype(F32)[types]  # (N, 3d, d)
        self.bias = tn["edge_cells.bias"].astype(F32)[types]  # (N, 3d)
        self.bias_n = tn["edge_cells.bias_n"].astype(F32)[types]  # (N, d)
        # 0.01 rounded to float32 first, then the product, as the reference forms it.
        self.plasticity = F32(0.01) * F32(tn["learning_rate"].ravel()[0])
        self.mask = wiring.adjacency[:, :, None]
        self.e = np.where(self.mask, np.asarray(synapses, dtype=F32), F32(0))
        self.y_prev = np.zeros((wiring.nodes, d), dtype=F32)
        if y_prev is not None:
            y_prev = np.asarray(y_prev, dtype=F32)
            if y_prev.shape != self.y_prev.shape:
                raise ValueError(f"y_prev should have shape {list(self.y_prev.shape)}, is {list(y_prev.shape)}")
            self.y_prev = y_prev.copy()
        self.r = F32(reward)
        self.prev_action: Union[int, float] = 0
        if self.readout[0] == "discrete":
            if not 0 <= int(prev_action) < self.readout[1]:
                raise ValueError(f"prev_action must be an action in 0..{self.readout[1] - 1}, got {prev_action}")
            self.prev_action = int(prev_action)
        elif prev_action != 0:
            self.prev_action = F32(prev_action)
        self.last_outputs = np.zeros(wiring.outputs, dtype=F32)

    def _aggregate(self, y: np.ndarray) -> np.ndarray:
        if np.isnan(y).any():  # the reference's dense sum spreads one NaN everywhere
            x = np.full_like(y, np.nan)
            return x
        return np.einsum("ijk,ik->jk", self.e, y, dtype=self.dtype)

    def _neurons(self, x: np.ndarray) -> np.ndarray:
        return np.tanh(np.einsum("jok,jk->jo", self.w_neuron, x, dtype=self.dtype))

    def _clamp(self, x: np.ndarray, obs: np.ndarray, with_action: bool) -> np.ndarray:
        x[: self.wiring.inputs] = obs[:, None]
        if with_action:
            first = self.wiring.nodes - self.wiring.outputs
            if self.readout[0] == "discrete":
                x[first:, 0] = np.arange(self.wiring.outputs) == self.prev_action
            else:
                x[first, 0] = self.prev_action
        return x

    def step(self, obs: Sequence[float]):
        """One environment step: three propagations, the readout, the synapse update."""
        obs = np.asarray(obs, dtype=self.dtype).ravel()
        y = self._neurons(self._clamp(self._aggregate(self.y_prev), obs, False))
        for _ in range(2):
            y = self._neurons(self._clamp(self._aggregate(y), obs, True))
        self.last_outputs = y[self.wiring.nodes - self.wiring.outputs :, 0].copy()
        action = self._read(self.last_outputs)
        self._update_synapses(y)
        self.y_prev = y
        if self.readout[0] == "discrete":
            self.prev_action = action
        else:
            out = self.last_outputs[0]
            self.prev_action = self.dtype(0) if np.isnan(out) else out
        return action

    def _read(self, outputs: np.ndarray):
        if self.readout[0] == "discrete":
            return int(np.argmax(outputs))  # first maximum, first NaN: as jnp.argmax
        _, low, high = self.readout
        unit = self.dtype(0) if np.isnan(outputs[0]) else outputs[0]
        low, high = self.dtype(low), self.dtype(high)
        return low + (unit + self.dtype(1)) * self.dtype(0.5) * (high - low)

    def set_reward(self, reward: float) -> None:
        """The reward of the transition that followed the last step (seen by the next step)."""
        self.r = self.dtype(reward)

    def _update_synapses(self, y: np.ndarray) -> None:
        """``e ← e + 0.01·λ·GRU([y_prev,i ; y_j ; r], e)`` on every wired pair, gates [r; z; n]."""
        d = self.d
        pre = np.einsum("igk,ik->ig", self.w_pre, self.y_prev, dtype=self.dtype)  # (N, 3d)
        post = np.einsum("igk,jk->ijg", self.w_post, y, dtype=self.dtype)  # (N, N, 3d)
        gi = pre[:, None, :] + post + (self.w_r * self.r)[:, None, :] + self.bias[:, None, :]
        gh = np.einsum("igk,ijk->ijg", self.w_hh, self.e, dtype=self.dtype)
        with np.errstate(over="ignore"):
            r = 1 / (1 + np.exp(-(gi[..., :d] + gh[..., :d])))
            z = 1 / (1 + np.exp(-(gi[..., d : 2 * d] + gh[..., d : 2 * d])))
        n = np.tanh(gi[..., 2 * d :] + r * (gh[..., 2 * d :] + self.bias_n[:, None, :]))
        h = n + z * (self.e - n)
        self.e = np.where(self.mask, self.e + self.plasticity * h, self.e).astype(self.dtype)
