//! `sfnn_lab_native`: SFNN Lab's CPU executor as a Python extension module (re-exported as
//! `sfnn_lab.native`).
//!
//! Nothing here computes a network: every number comes from the functions the server's worker
//! and `sfnn eval` call ([`Sampler`], [`CpuExecutor`], [`LifetimeConfig::score`],
//! [`evaluate_genome`]), on the same validated specs, so a population evaluated from Python is
//! bit for bit the population a job's generation evaluates. This file only converts arguments,
//! checks them against the library's limits, and releases the GIL while the executor runs.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyString};
use sfnn::envs::EnvInfo;
use sfnn::evolution::JobPayload;
use sfnn::evolution::cost::{JobCost, JobSizes};
use sfnn::evolution::evaluation::{EvaluationSpec, EvaluationVariant, evaluate_genome};
use sfnn::evolution::strategies::StrategyName;
use sfnn::evolution::{JobSpec, ReturnBounds};
use sfnn::exec::{CpuExecutor, EpisodeMode, EvalRequest, ExecError, Executor, Interrupt, Sampler};
use sfnn::limits::FieldError;
use sfnn::model::GenomeFile;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::Duration;

/// Threads one call may start: far above any machine's cores, low enough that a typo (a
/// population size passed as `threads`) cannot exhaust the process's threads.
const MAX_THREADS: usize = 1024;

/// How often a running evaluation looks for a signal (Ctrl-C). Python handles signals only while
/// it runs, so with the GIL released the waiting thread attaches this often to let it.
const SIGNAL_POLL: Duration = Duration::from_millis(100);

/// A `ValueError` naming the argument: `"population: ..."`.
fn invalid(argument: &str, message: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("{argument}: {message}"))
}

/// A spec's field error as the `spec` argument's: `"spec: lifetime.episodes: ..."`.
fn spec_error(e: FieldError) -> PyErr {
    if e.field.is_empty() {
        invalid("spec", e.message)
    } else {
        invalid("spec", e)
    }
}

fn exec_error(e: ExecError) -> PyErr {
    match e {
        ExecError::InvalidRequest(message) => PyValueError::new_err(message),
        other => pyo3::exceptions::PyRuntimeError::new_err(other.to_string()),
    }
}

fn threads_arg(threads: usize) -> PyResult<usize> {
    if threads > MAX_THREADS {
        return Err(invalid(
            "threads",
            format!("must be between 0 (one per core) and {MAX_THREADS}, got {threads}"),
        ));
    }
    Ok(threads)
}

/// An integer argument as a `u64`, with a `ValueError` naming it otherwise (taken as an `i128`
/// because PyO3's own error for a negative `u64` is an `OverflowError` that names nothing).
fn u64_arg(argument: &str, value: i128) -> PyResult<u64> {
    u64::try_from(value).map_err(|_| {
        invalid(
            argument,
            format!("must be an integer from 0 to 2**64 - 1, got {value}"),
        )
    })
}

/// JSON text of a spec given as a string, or as anything `json.dumps` takes (a dict).
fn json_text(py: Python<'_>, argument: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    if value.is_instance_of::<PyString>() {
        return value.extract::<String>();
    }
    let kwargs = PyDict::new(py);
    kwargs.set_item("allow_nan", false)?;
    py.import("json")?
        .call_method("dumps", (value,), Some(&kwargs))
        .and_then(|text| text.extract::<String>())
        .map_err(|e| {
            let message =
                format!("{argument}: must be a JSON string or a dict of JSON values ({e})");
            // `json.dumps` raises ValueError for NaN and infinities, TypeError for other types.
            if e.is_instance_of::<PyValueError>(py) {
                PyValueError::new_err(message)
            } else {
                PyTypeError::new_err(message)
            }
        })
}

/// Runs `work` with the GIL released, on a thread of its own while this one watches for
/// signals: a Ctrl-C raises `interrupt`, which the executor checks between lifetimes, and the
/// signal's exception (`KeyboardInterrupt`) is raised once the work has stopped.
fn detached<T: Send>(
    py: Python<'_>,
    work: impl FnOnce(&Interrupt) -> Result<T, ExecError> + Send,
) -> PyResult<T> {
    let interrupt = &Interrupt::new(false);
    let (outcome, signal) = py.detach(|| {
        std::thread::scope(|scope| {
            let (done, finished) = channel::<()>();
            let worker = scope.spawn(move || {
                let result = work(interrupt);
                let _ = done.send(());
                result
            });
            let mut signal = None;
            // A panicking worker drops its sender: the loop ends then too.
            while let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(SIGNAL_POLL) {
                if signal.is_none()
                    && let Err(e) = Python::attach(|py| py.check_signals())
                {
                    interrupt.store(true, Ordering::Relaxed);
                    signal = Some(e);
                }
            }
            (worker.join(), signal)
        })
    });
    if let Some(e) = signal {
        return Err(e);
    }
    match outcome {
        Ok(result) => result.map_err(exec_error),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Names as a Python list's items: `'CartPole-v1', 'Acrobot-v1'`.
fn python_list<S: AsRef<str>>(names: &[S]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{}'", n.as_ref())).collect();
    quoted.join(", ")
}

/// Plain-old-data values that cross into NumPy as their native-endian bytes.
trait Pod: Copy {
    /// NumPy's name of the type, native byte order.
    const DTYPE: &'static str;
    fn extend_bytes(self, bytes: &mut Vec<u8>);
}

impl Pod for f64 {
    const DTYPE: &'static str = "=f8";
    fn extend_bytes(self, bytes: &mut Vec<u8>) {
        bytes.extend_from_slice(&self.to_ne_bytes());
    }
}

impl Pod for u64 {
    const DTYPE: &'static str = "=u8";
    fn extend_bytes(self, bytes: &mut Vec<u8>) {
        bytes.extend_from_slice(&self.to_ne_bytes());
    }
}

/// A writable NumPy array of `shape` holding `values` (row-major).
fn to_numpy<T: Pod>(py: Python<'_>, shape: &[usize], values: &[T]) -> PyResult<Py<PyAny>> {
    debug_assert_eq!(shape.iter().product::<usize>(), values.len());
    let mut bytes = Vec::with_capacity(std::mem::size_of_val(values));
    values.iter().for_each(|v| v.extend_bytes(&mut bytes));
    // Over a bytearray (not bytes), so the array is writable like any other.
    let buffer = PyByteArray::new(py, &bytes);
    let kwargs = PyDict::new(py);
    kwargs.set_item("dtype", T::DTYPE)?;
    Ok(py
        .import("numpy")?
        .call_method("frombuffer", (buffer,), Some(&kwargs))?
        .call_method1("reshape", (shape.to_vec(),))?
        .unbind())
}

/// A population as the executor takes it: `rows × params` float32 values, row-major. Float64
/// values are rounded to float32 as the worker rounds the strategy's (`as f32`: to nearest).
/// The values cross over as the bytes of NumPy's `tobytes()`, C order, native byte order.
fn population_values(
    py: Python<'_>,
    population: &Bound<'_, PyAny>,
    params: usize,
) -> PyResult<(usize, Vec<f32>)> {
    let numpy = py.import("numpy")?;
    let array = numpy.call_method1("asarray", (population,))?;
    let dtype = array.getattr("dtype")?;
    let kind: String = dtype.getattr("kind")?.extract()?;
    let itemsize: usize = dtype.getattr("itemsize")?.extract()?;
    let shape: Vec<usize> = array.getattr("shape")?.extract()?;
    let shape_text = array.getattr("shape")?.str()?;
    if kind != "f" || !(itemsize == 4 || itemsize == 8) {
        return Err(PyTypeError::new_err(format!(
            "population: expected float32 or float64 values, got {} (np.asarray(x, \
             dtype=np.float32) converts)",
            dtype.str()?
        )));
    }
    let (rows, cols) = match shape[..] {
        [rows, cols] if rows >= 1 && cols == params => (rows, cols),
        _ => {
            return Err(invalid(
                "population",
                format!(
                    "expected shape (popsize, {params}) with popsize >= 1 (this model has \
                     {params} parameters), got {shape_text}"
                ),
            ));
        }
    };
    let kwargs = PyDict::new(py);
    kwargs.set_item("order", "C")?;
    let native = if itemsize == 4 { "=f4" } else { "=f8" };
    let bytes =
        array
            .call_method1("astype", (native,))?
            .call_method("tobytes", (), Some(&kwargs))?;
    let bytes = bytes.cast::<PyBytes>()?.as_bytes();
    let values: Vec<f32> = if itemsize == 4 {
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_ne_bytes(b.try_into().expect("4 bytes")))
            .collect()
    } else {
        bytes
            .chunks_exact(8)
            .map(|b| f64::from_ne_bytes(b.try_into().expect("8 bytes")) as f32)
            .collect()
    };
    debug_assert_eq!(values.len(), rows * cols);
    if let Some(index) = values.iter().position(|v| !v.is_finite()) {
        let (row, col) = (index / cols, index % cols);
        let value = array.get_item((row, col))?;
        return Err(PyValueError::new_err(format!(
            "population[{row}, {col}] is {value}: every value must be finite as float32 (at \
             most about 3.4e38 in magnitude)"
        )));
    }
    Ok((rows, values))
}

/// Evaluates populations the way a job's generation does: the spec's model, environments,
/// lifetime protocol and seed, every lifetime drawn by `(seed, generation, member, env)`.
#[pyclass(frozen, module = "sfnn_lab_native")]
struct Evaluator {
    spec: JobSpec,
    envs: Vec<&'static EnvInfo>,
    bounds: Vec<ReturnBounds>,
    params: usize,
    executor: CpuExecutor,
    /// Where the lifetimes are drawn: the same number of threads as the executor, so `threads`
    /// bounds the whole call (a job draws them on the process's shared pool).
    sampling: rayon::ThreadPool,
}

#[pymethods]
impl Evaluator {
    /// `spec`: a job spec (dict or JSON text; `None`: the reference); `envs` and `seed` replace
    /// the spec's. Its `strategy` is not used (the caller's loop is the strategy); when absent,
    /// a cheap one stands in, so the spec is not refused for a CMA-ES it would never run.
    #[new]
    #[pyo3(signature = (spec=None, *, envs=None, seed=None, threads=0))]
    fn new(
        py: Python<'_>,
        spec: Option<&Bound<'_, PyAny>>,
        envs: Option<Vec<String>>,
        seed: Option<i128>,
        threads: usize,
    ) -> PyResult<Self> {
        let threads = threads_arg(threads)?;
        let mut value = match spec {
            None => serde_json::json!({}),
            Some(spec) => serde_json::from_str::<serde_json::Value>(&json_text(py, "spec", spec)?)
                .map_err(|e| invalid("spec", format!("not JSON: {e}")))?,
        };
        let object = value
            .as_object_mut()
            .ok_or_else(|| invalid("spec", "must be a JSON object (a dict)"))?;
        if let Some(envs) = envs {
            object.insert("envs".into(), envs.into());
        }
        if let Some(seed) = seed {
            object.insert("seed".into(), u64_arg("seed", seed)?.into());
        }
        object
            .entry("strategy")
            .or_insert_with(|| serde_json::json!({"name": "open_es", "popsize": 2}));
        let has_envs = object.contains_key("envs");
        let spec = JobSpec::from_json(&value.to_string()).map_err(|e| {
            if e.field == "envs" && !has_envs {
                invalid("envs", "give the environments, e.g. envs=[\"CartPole-v1\"]")
            } else {
                spec_error(e)
            }
        })?;
        let executor = CpuExecutor::new(threads).map_err(exec_error)?;
        let sampling = rayon::ThreadPoolBuilder::new()
            .num_threads(executor.threads())
            .build()
            .map_err(|e| exec_error(ExecError::Unavailable(e.to_string())))?;
        Ok(Evaluator {
            envs: spec.env_infos(),
            bounds: spec.return_bounds(),
            params: spec.model.config().param_count(),
            spec,
            executor,
            sampling,
        })
    }

    /// Parameters per genome (the population's columns).
    #[getter]
    fn param_count(&self) -> usize {
        self.params
    }

    /// The environments, in the spec's order (the columns of `env_scores`).
    #[getter]
    fn envs(&self) -> Vec<&'static str> {
        self.envs.iter().map(|info| info.name).collect()
    }

    /// The validated spec, every default filled in, as a dict.
    #[getter]
    fn spec<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let text = serde_json::to_string(&self.spec).expect("a spec serialises");
        py.import("json")?.call_method1("loads", (text,))
    }

    /// CPU threads the executor runs on.
    #[getter]
    fn threads(&self) -> usize {
        self.executor.threads()
    }

    /// Evaluates `population` (`(popsize, param_count)`, float32 or float64) as generation
    /// `generation` of the spec's job: member i's lifetimes are those a job with this seed
    /// draws for its member i in that generation.
    #[pyo3(signature = (population, generation=0))]
    fn evaluate(
        &self,
        py: Python<'_>,
        population: &Bound<'_, PyAny>,
        generation: i128,
    ) -> PyResult<Evaluation> {
        let generation = u64_arg("generation", generation)?;
        let (members, genomes) = population_values(py, population, self.params)?;
        // The bounds a job's generation of this size must meet (the strategy aside: an
        // OpenAI-ES keeps no more than the population itself).
        JobCost::of(&JobSizes {
            popsize: members,
            strategy: StrategyName::OpenEs,
            ..self.spec.sizes()
        })
        .map_err(|e| invalid("population", format!("{members} genomes: {}", e.message)))?;

        let model = self.spec.model.config();
        let sampler = Sampler {
            model: &model,
            topology: &self.spec.model.topology,
            envs: &self.envs,
            protocol: self.spec.protocol(),
            repeats: self.spec.lifetime.eval_repeats,
            seed: self.spec.seed,
        };
        let lifetime = self.spec.lifetime;
        let bounds = &self.bounds;
        let (output, scores) = detached(py, |interrupt| {
            let lifetimes = self
                .sampling
                .install(|| sampler.generation(generation, members));
            let request = EvalRequest {
                model,
                envs: &self.envs,
                protocol: sampler.protocol,
                genomes: &genomes,
                repeats: sampler.repeats,
                lifetimes: &lifetimes,
            };
            let output = self.executor.evaluate_interruptible(&request, interrupt)?;
            // As `Evolution::step` scores a generation.
            let scores: Vec<_> = output
                .returns
                .chunks_exact(output.returns.len() / members)
                .map(|returns| lifetime.score(bounds, returns))
                .collect();
            Ok((output, scores))
        })?;

        let (repeats, envs, episodes) = (sampler.repeats, self.envs.len(), lifetime.episodes);
        let per_env = |values: fn(&sfnn::evolution::Score) -> &Vec<f64>| -> Vec<f64> {
            scores
                .iter()
                .flat_map(|s| values(s).iter().copied())
                .collect()
        };
        let fitness: Vec<f64> = scores.iter().map(|s| s.fitness).collect();
        Ok(Evaluation {
            fitness: to_numpy(py, &[members], &fitness)?,
            env_scores: to_numpy(py, &[members, envs], &per_env(|s| &s.env_scores))?,
            env_returns: to_numpy(py, &[members, envs], &per_env(|s| &s.env_returns))?,
            returns: to_numpy(py, &[members, repeats, envs, episodes], &output.returns)?,
            digests: to_numpy(py, &[members, repeats, envs], &output.digests)?,
            env_steps: output.env_steps,
            cpu_seconds: output.cpu_seconds,
            generation,
            envs: self.envs().into_iter().map(String::from).collect(),
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "Evaluator(envs=[{}], seed={}, {} parameters, {} episodes, {} threads)",
            python_list(&self.envs()),
            self.spec.seed,
            self.params,
            self.spec.lifetime.episodes,
            self.threads()
        )
    }
}

/// What the executor returned for a population, scored as the job scores it.
#[pyclass(frozen, module = "sfnn_lab_native")]
struct Evaluation {
    /// `(popsize,)`: each member's fitness (what the strategy is told).
    #[pyo3(get)]
    fitness: Py<PyAny>,
    /// `(popsize, envs)`: the weighted, normalised score per environment (mean over repeats).
    #[pyo3(get)]
    env_scores: Py<PyAny>,
    /// `(popsize, envs)`: the weighted raw return per environment (mean over repeats).
    #[pyo3(get)]
    env_returns: Py<PyAny>,
    /// `(popsize, repeats, envs, episodes)`: every episode's return.
    #[pyo3(get)]
    returns: Py<PyAny>,
    /// `(popsize, repeats, envs)`: each lifetime's digest (its actions and final synapse
    /// states), as the executors' parity checks compare them.
    #[pyo3(get)]
    digests: Py<PyAny>,
    /// Environment steps simulated: one SFNN network step each.
    #[pyo3(get)]
    env_steps: u64,
    /// CPU seconds the executor's threads used.
    #[pyo3(get)]
    cpu_seconds: f64,
    #[pyo3(get)]
    generation: u64,
    #[pyo3(get)]
    envs: Vec<String>,
}

#[pymethods]
impl Evaluation {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Evaluation(generation={}, popsize={}, envs=[{}], env_steps={})",
            self.generation,
            self.fitness.bind(py).len()?,
            python_list(&self.envs),
            self.env_steps
        ))
    }
}

/// Evaluates one genome file as `sfnn eval` does (and an evaluation job): per environment,
/// one fresh lifetime per seed. Returns what `sfnn eval --json` writes, as a dict.
#[pyfunction(name = "evaluate_genome")]
#[pyo3(signature = (genome, envs, *, seeds=None, episodes=8, episode_mode="fixed_horizon", variant=None, threads=0))]
#[allow(clippy::too_many_arguments)] // Python keywords, as `sfnn eval`'s flags.
fn evaluate_genome_file<'py>(
    py: Python<'py>,
    genome: PathBuf,
    envs: Vec<String>,
    seeds: Option<Vec<i128>>,
    episodes: usize,
    episode_mode: &str,
    variant: Option<&Bound<'py, PyAny>>,
    threads: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let threads = threads_arg(threads)?;
    let seeds = match seeds {
        None => vec![0],
        Some(seeds) => seeds
            .iter()
            .map(|&s| u64_arg("seeds", s))
            .collect::<PyResult<_>>()?,
    };
    let episode_mode: EpisodeMode = serde_json::from_value(episode_mode.into())
        .map_err(|_| invalid("episode_mode", "must be fixed_horizon or stop_on_done"))?;
    let variant: EvaluationVariant = match variant {
        None => EvaluationVariant::default(),
        Some(variant) => serde_json::from_str(&json_text(py, "variant", variant)?)
            .map_err(|e| invalid("variant", e))?,
    };
    let file = GenomeFile::load(&genome).map_err(|e| invalid("genome", e))?;
    // `sfnn eval`'s spec, field for field (src/cli/eval.rs): the genome's path as its id, the
    // wiring of the job that evolved it.
    let spec = EvaluationSpec {
        genome_id: genome.display().to_string().chars().take(128).collect(),
        envs,
        episodes,
        seeds,
        episode_mode,
        topology: file.topology.unwrap_or_default(),
        variant,
    };
    let JobPayload::Evaluate(spec) = JobPayload::evaluate(spec, &file.model).map_err(|e| {
        let argument = match e.field.as_str() {
            field if field == "envs" || field.starts_with("envs[") => "envs",
            "episodes" => "episodes",
            "seeds" => "seeds",
            field if field.starts_with("variant") => "variant",
            _ => "genome",
        };
        invalid(argument, e)
    })?
    else {
        unreachable!("an evaluation payload")
    };
    let executor = CpuExecutor::new(threads).map_err(exec_error)?;
    let result = detached(py, |_| {
        evaluate_genome(&spec, file.model, &file.values, &executor as &dyn Executor)
    })?;
    let text = serde_json::to_string(&result).expect("a result serialises");
    py.import("json")?.call_method1("loads", (text,))
}

/// Evaluates `population` once: `Evaluator(spec, envs=, seed=, threads=).evaluate(population,
/// generation)`.
#[pyfunction]
#[pyo3(signature = (population, spec=None, *, envs=None, seed=None, generation=0, threads=0))]
fn evaluate(
    py: Python<'_>,
    population: &Bound<'_, PyAny>,
    spec: Option<&Bound<'_, PyAny>>,
    envs: Option<Vec<String>>,
    seed: Option<i128>,
    generation: i128,
    threads: usize,
) -> PyResult<Evaluation> {
    Evaluator::new(py, spec, envs, seed, threads)?.evaluate(py, population, generation)
}

/// The environments the executor simulates.
#[pyfunction]
fn environments() -> Vec<&'static str> {
    sfnn::envs::names()
}

#[pymodule]
fn sfnn_lab_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Evaluator>()?;
    m.add_class::<Evaluation>()?;
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate_genome_file, m)?)?;
    m.add_function(wrap_pyfunction!(environments, m)?)?;
    Ok(())
}
