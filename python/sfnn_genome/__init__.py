"""Run SFNN Lab genomes with NumPy: load genome files, sample a wiring, step the network, and run
lifetimes on gymnasium environments (optional)."""

from .files import Genome, ModelConfig, TENSOR_NAMES, load_genome, save_genome
from .lifetime import evaluate, load_trace, replay_trace, run_lifetime
from .model import Network, Wiring, initial_synapses, sample_wiring

__all__ = [
    "Genome",
    "ModelConfig",
    "Network",
    "TENSOR_NAMES",
    "Wiring",
    "evaluate",
    "initial_synapses",
    "load_genome",
    "load_trace",
    "replay_trace",
    "run_lifetime",
    "sample_wiring",
    "save_genome",
]
