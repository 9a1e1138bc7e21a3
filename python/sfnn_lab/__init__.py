"""A Python client for an SFNN Lab server: submit jobs and sweeps, follow them live, read their
histories as DataFrames, download genomes into :mod:`sfnn_genome` and run them.

    from sfnn_lab import Client
    client = Client()                      # $SFNN_URL, $SFNN_API_TOKEN
    job = client.submit("examples/cartpole-quick.json", generations=20).wait()
    job.history()[["generation", "best", "mean"]]
    genome = job.best_genome().download()  # an sfnn_genome.Genome
"""

__version__ = "0.2.0"

from .client import DEFAULT_URL, Client
from .errors import ApiError, SfnnError
from .jobs import FINISHED, Job, RemoteGenome, Sweep

__all__ = [
    "ApiError",
    "Client",
    "DEFAULT_URL",
    "FINISHED",
    "Job",
    "RemoteGenome",
    "SfnnError",
    "Sweep",
    "__version__",
]
