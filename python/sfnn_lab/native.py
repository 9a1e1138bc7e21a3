"""SFNN Lab's CPU executor inside Python: evaluate a population exactly as a job's generation
(and ``sfnn eval``) does, with the GIL released. It lives in a wheel of its own,
``sfnn-lab-native`` (Rust, built with maturin), so that ``sfnn-lab`` stays NumPy-only::

    pip install ./python/native            # from the SFNN Lab repository; needs cargo (Rust)

    from sfnn_lab import native
    evaluator = native.Evaluator({"lifetime": {"episodes": 8}}, envs=["CartPole-v1"], seed=0)
    result = evaluator.evaluate(population, generation=g)   # (popsize, evaluator.param_count)
    result.fitness          # (popsize,): what the job's strategy would be told
    result.env_returns      # (popsize, envs): weighted raw return per environment
    result.digests          # (popsize, repeats, envs): each lifetime's fingerprint

``Evaluator(spec=None, *, envs=None, seed=None, threads=0)``
    ``spec``: a job spec (dict or JSON text) for the model, environments, lifetime protocol
    and seed; ``envs`` and ``seed`` replace the spec's. Its ``strategy`` is not used.
    ``threads``: CPU threads, as ``--threads`` (0: one per core).
``Evaluator.evaluate(population, generation=0)``
    ``population``: ``(popsize, param_count)``, float32 or float64 (rounded to float32 as the
    worker rounds its strategy's samples). Member i lives the lifetimes a job with this seed
    draws for its member i in generation ``generation``. Returns an ``Evaluation``:
    ``fitness``, ``env_scores``, ``env_returns``, ``returns`` (popsize, repeats, envs,
    episodes), ``digests``, ``env_steps`` (= SFNN steps), ``cpu_seconds``.
``evaluate(population, spec=None, *, envs=None, seed=None, generation=0, threads=0)``
    The two in one call.
``evaluate_genome(path, envs, *, seeds=[0], episodes=8, episode_mode="fixed_horizon",
variant=None, threads=0)``
    A genome file as ``sfnn eval`` evaluates it (one lifetime per seed and environment, the
    meta-test ``variant`` as ``--nodes``, ``--permute-inputs``, ``--extra-inputs``); returns
    what ``sfnn eval --json`` writes.

Bad arguments raise ``ValueError`` (``TypeError`` for the wrong type) whose message starts with
the argument's name (``"spec: lifetime.episodes: ..."``, ``"population: ..."``); Ctrl-C stops an
evaluation between lifetimes and raises ``KeyboardInterrupt``.
"""

try:
    from sfnn_lab_native import (
        Evaluation,
        Evaluator,
        __version__,
        environments,
        evaluate,
        evaluate_genome,
    )
except ModuleNotFoundError as error:
    if error.name != "sfnn_lab_native":
        raise
    raise ImportError(
        "sfnn_lab.native needs the sfnn-lab-native wheel, which is not installed: run "
        "`pip install ./python/native` in the SFNN Lab repository (it compiles Rust, so it "
        "needs cargo)",
        name="sfnn_lab_native",
    ) from error

__all__ = ["Evaluation", "Evaluator", "__version__", "environments", "evaluate", "evaluate_genome"]
