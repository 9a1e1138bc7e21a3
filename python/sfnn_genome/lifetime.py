"""Lifetimes on gymnasium environments (SFNN.md §4.2–4.3) and replays of SFNN Lab traces.

A lifetime is one freshly wired network living through ``episodes`` episodes, its state carried
across them. ``fixed_horizon`` (the reference) runs every episode for the full horizon,
resetting the environment on each ``done`` and counting only the first sub-episode's return;
``stop_on_done`` ends the episode at the first ``done``. gymnasium is imported only here, and
only when an environment is made by name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from .files import Genome, load_genome
from .model import F32, Network, Wiring, initial_synapses, sample_wiring


def readout_for(action_space):
    """Discrete(n): argmax over n output nodes; a one-dimensional Box: the continuous readout."""
    if hasattr(action_space, "n"):
        return ("discrete", int(action_space.n))
    low, high = np.ravel(action_space.low), np.ravel(action_space.high)
    if low.size != 1:
        raise ValueError("only one-dimensional continuous actions are supported")
    return ("continuous", float(low[0]), float(high[0]))


#: The episode returns that map to normalised scores 0 and 1, per environment, as SFNN Lab
#: scores them (``return_min``/``return_max`` in src/envs/).
RETURN_BOUNDS = {
    "CartPole-v1": (8.0, 500.0),
    "Acrobot-v1": (-500.0, -80.0),
    "MountainCar-v0": (-200.0, -110.0),
    "Pendulum-v1": (-1600.0, -200.0),
    "MountainCarContinuous-v0": (-50.0, 90.0),
}


def normalised_score(env: Optional[str], episode_returns: Sequence[float]) -> Optional[float]:
    """The weighted normalised score ``sfnn eval`` prints: ``Σ w_k (R_k − min)/(max − min)`` with
    the reference's episode weights, not clipped. ``None`` for an environment SFNN Lab does not
    know (no bounds)."""
    if env not in RETURN_BOUNDS:
        return None
    low, high = RETURN_BOUNDS[env]
    returns = np.asarray(episode_returns, dtype=np.float64)
    return float(np.dot(episode_weights(len(returns)), (returns - low) / (high - low)))


def spec_lifetime(genome: Genome) -> dict:
    """The ``lifetime`` section of the spec the genome's file carries (``{}`` without one):
    ``episodes`` and ``episode_mode`` there are what the genome was evolved with."""
    spec = genome.spec if isinstance(genome.spec, dict) else {}
    lifetime = spec.get("lifetime")
    return lifetime if isinstance(lifetime, dict) else {}


def default_episodes(genome: Genome) -> int:
    """Episodes per lifetime: the genome's spec's where its file carries one, else 8."""
    episodes = spec_lifetime(genome).get("episodes")
    return int(episodes) if isinstance(episodes, (int, float)) and episodes >= 1 else 8


def default_mode(genome: Genome) -> str:
    """The episode mode: the genome's spec's where its file carries one, else fixed_horizon."""
    mode = spec_lifetime(genome).get("episode_mode")
    return mode if mode in ("fixed_horizon", "stop_on_done") else "fixed_horizon"


def episode_weights(episodes: int) -> np.ndarray:
    """The reference's weights ``arange(k)/sum``: the first episode counts 0, the last most."""
    if episodes == 1:
        return np.ones(1)
    w = np.arange(episodes, dtype=np.float64)
    return w / w.sum()


@dataclass
class LifetimeResult:
    episode_returns: List[float]
    weighted_return: float
    network: Network
    #: The normalised score ``sfnn eval`` prints (:func:`normalised_score`), where the
    #: environment is one SFNN Lab knows; else ``None``.
    score: Optional[float] = None


def make_network(
    genome: Genome, inputs: int, readout, rng, topology: Optional[dict] = None, nodes: Optional[int] = None
) -> Network:
    """A fresh network for a lifetime: wiring and synapse states drawn from ``rng``; ``nodes``
    overrides the genome's network size (its blocks do not depend on it)."""
    outputs = readout[1] if readout[0] == "discrete" else 1
    m = genome.model
    nodes = m.nodes if nodes is None else int(nodes)
    if nodes < inputs + outputs + 1:
        raise ValueError(f"nodes: needs at least {inputs + outputs + 1} (inputs, outputs and a hidden one)")
    wiring = sample_wiring(nodes, inputs, outputs, m.node_types, rng, topology or genome.topology)
    return Network(genome, wiring, initial_synapses(wiring, m.msg_dims, rng), readout)


def run_lifetime(
    genome: Genome,
    env,
    episodes: int = 8,
    seed: int = 0,
    mode: str = "fixed_horizon",
    horizon: Optional[int] = None,
    topology: Optional[dict] = None,
    nodes: Optional[int] = None,
    permute_inputs: Optional[int] = None,
    input_order: Optional[Sequence[int]] = None,
    extra_inputs: int = 0,
    extra_input_value: Optional[float] = None,
) -> LifetimeResult:
    """Runs one lifetime on a gymnasium environment (an instance, or a name for ``gymnasium.make``).

    The horizon defaults to the environment's ``max_episode_steps``. Pass an environment made
    without the TimeLimit wrapper for the reference's fixed-horizon semantics to be exact
    (``gymnasium.make(name, max_episode_steps=None)`` still wraps; the horizon here is what counts).

    Meta-test variants, as ``sfnn eval`` and the API's evaluation take them, alone or combined:
    ``nodes`` (another network size), ``permute_inputs`` (a seed: input node i reads observation
    ``order[i]`` of a fixed permutation; NumPy's, so not the order ``sfnn`` draws for the same
    seed: pass the ``input_order`` an ``sfnn`` result lists to feed exactly that one) and
    ``extra_inputs`` (input nodes wired like the real ones, reading standard normal noise, fresh
    each step, or the constant ``extra_input_value``).
    """
    if isinstance(env, str):
        import gymnasium

        env = gymnasium.make(env)
    if mode not in ("fixed_horizon", "stop_on_done"):
        raise ValueError("mode must be fixed_horizon or stop_on_done")
    if horizon is None:
        spec = getattr(env, "spec", None)
        horizon = getattr(spec, "max_episode_steps", None)
        if horizon is None:
            raise ValueError("pass horizon=: the environment has no max_episode_steps")
    rng = np.random.default_rng(seed)
    readout = readout_for(env.action_space)
    obs_dim = int(np.prod(env.observation_space.shape))
    extra_inputs = int(extra_inputs)
    if extra_inputs < 0:
        raise ValueError("extra_inputs must not be negative")
    if extra_input_value is not None and extra_inputs == 0:
        raise ValueError("extra_input_value is what extra inputs read: give extra_inputs too")
    feed = _input_feed(obs_dim, permute_inputs, input_order, extra_inputs, extra_input_value, seed)
    net = make_network(genome, obs_dim + extra_inputs, readout, rng, topology, nodes)
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=int(rng.integers(2**31)))
        total, ended = 0.0, False
        for _ in range(horizon):
            action = net.step(obs if feed is None else feed(np.ravel(obs)))
            if readout[0] == "continuous":
                action = np.array([action], dtype=F32)
            obs, reward, terminated, truncated, _ = env.step(action)
            if not ended:
                total += float(reward)
            net.set_reward(reward)  # fed unmasked, also after the first done
            if terminated or truncated:
                ended = True
                if mode == "stop_on_done":
                    break
                obs, _ = env.reset()
        returns.append(total)
    weighted = float(np.dot(episode_weights(episodes), returns))
    env_id = getattr(getattr(env, "spec", None), "id", None)
    return LifetimeResult(returns, weighted, net, normalised_score(env_id, returns))


def _input_feed(obs_dim, permute_inputs, input_order, extra_inputs, extra_input_value, seed):
    """What the input nodes read instead of the observation, or None for the reference. The
    noise has a stream of its own, so the lifetime's wiring and resets are drawn as without it."""
    if permute_inputs is None and input_order is None and extra_inputs == 0:
        return None
    if input_order is not None:
        order = np.asarray(input_order, dtype=np.int64)
        if sorted(order.tolist()) != list(range(obs_dim)):
            raise ValueError(f"input_order must be a permutation of 0..{obs_dim - 1}")
    elif permute_inputs is not None:
        order = np.random.default_rng(int(permute_inputs)).permutation(obs_dim)
    else:
        order = np.arange(obs_dim)

    noise = np.random.default_rng([int(seed), 0x5EED])

    def feed(obs):
        if extra_inputs == 0:
            return obs[order]
        if extra_input_value is None:
            extra = noise.standard_normal(extra_inputs).astype(F32)
        else:
            extra = np.full(extra_inputs, extra_input_value, dtype=F32)
        return np.concatenate([np.asarray(obs, dtype=F32)[order], extra])

    return feed


def evaluate(
    path, env, lifetimes: int = 1, episodes: Optional[int] = None, seed: int = 0, mode: Optional[str] = None, **variant
):
    """Evaluates a genome (a file's path or a :class:`Genome`): one :class:`LifetimeResult` per
    lifetime (seeds ``seed + k``). ``episodes`` and ``mode`` default to the genome's spec's
    (:func:`default_episodes`, :func:`default_mode`). ``variant``: the meta-test keywords of
    :func:`run_lifetime` (``nodes``, ``permute_inputs``, ``input_order``, ``extra_inputs``,
    ``extra_input_value``)."""
    genome = path if isinstance(path, Genome) else load_genome(path)
    episodes = default_episodes(genome) if episodes is None else episodes
    mode = default_mode(genome) if mode is None else mode
    return [run_lifetime(genome, env, episodes, seed + k, mode, **variant) for k in range(lifetimes)]


@dataclass
class ReplayReport:
    steps: int
    #: Steps whose actions were compared: margin above ``margin``, within the determined prefix.
    compared: int
    #: Steps before our float32 and float64 runs first part (see :func:`replay_trace`).
    determined: int
    mismatches: int
    #: Largest difference between our float32 action-node outputs and the trace's, over the
    #: compared steps and over all steps.
    max_output_diff: float
    max_output_diff_all: float
    first_mismatch: Optional[int]


def network_from_trace(genome: Genome, trace: dict, dtype=np.float32) -> Network:
    """The network an ``sfnn eval --trace`` lifetime started from: its wiring and initial states."""
    w = trace["wiring"]
    wiring = Wiring.from_edges(w["nodes"], w["inputs"], w["outputs"], w["node_types"], w["edges"])
    d = genome.model.msg_dims
    e = np.zeros((wiring.nodes, wiring.nodes, d), dtype=F32)
    edges = np.asarray(w["edges"], dtype=np.int64).reshape(-1, 2)
    e[edges[:, 0], edges[:, 1]] = np.asarray(trace["synapse_init"], dtype=F32).reshape(-1, d)
    readout = trace["readout"]
    readout = ("discrete", readout["actions"]) if "actions" in readout else ("continuous", readout["low"], readout["high"])
    return Network(genome, wiring, e, readout, dtype)


def replay_trace(genome: Genome, trace: dict, margin: float = 1e-4, determined: float = 1e-6) -> ReplayReport:
    """Feeds a trace's observations and rewards to the network and compares the actions.

    The previous action is taken from the trace (teacher forcing), so a different choice on a
    near-tie does not change what follows. Plastic networks can amplify rounding: over a
    lifetime, float32 and float64 runs of the same network may part (the reference fixtures'
    README shows this for JAX too), and then no float32 implementation can be expected to
    follow another. So a float64 twin runs alongside, and steps are compared only while the
    lifetime is determined at float32 precision: up to the first step where our float32 and
    float64 outputs differ by more than ``determined``. There, discrete actions are compared
    where the trace's margin exceeds ``margin``; continuous ones must lie within ``margin`` of
    the action range.
    """
    net = network_from_trace(genome, trace)
    twin = network_from_trace(genome, trace, np.float64)
    steps = compared = mismatches = 0
    first, worst, worst_all, parted = None, 0.0, 0.0, None
    for ep in trace["episodes"]:
        for obs, action, outputs, reward in zip(ep["obs"], ep["actions"], ep["outputs"], ep["rewards"]):
            mine = net.step(obs)
            if parted is None:  # afterwards the twin has nothing left to say
                twin.step(obs)
            outputs = np.asarray(outputs, dtype=F32)
            diff = float(np.max(np.abs(net.last_outputs - outputs)))
            worst_all = max(worst_all, diff)
            if parted is None and np.max(np.abs(net.last_outputs - twin.last_outputs)) > determined:
                parted = steps
            check = parted is None
            if net.readout[0] == "discrete":
                top = np.sort(outputs)[::-1]
                check = check and (len(top) < 2 or top[0] - top[1] > margin)
                same = mine == action
                forced = int(action)
            else:
                same = abs(float(mine) - float(action)) <= margin * (net.readout[2] - net.readout[1])
                forced = outputs[0]
            if check:
                compared += 1
                worst = max(worst, diff)
                if not same:
                    mismatches += 1
                    first = steps if first is None else first
            for n in (net, twin):
                n.prev_action = forced
                n.set_reward(reward)
            steps += 1
    determined_steps = steps if parted is None else parted
    return ReplayReport(steps, compared, determined_steps, mismatches, worst, worst_all, first)


def load_trace(path) -> dict:
    return json.loads(Path(path).read_text())
