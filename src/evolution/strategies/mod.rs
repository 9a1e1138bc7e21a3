//! Evolution strategies behind one ask/tell interface.
//!
//! Four strategies, each replicating the formulas of evosax 0.1.4 (the library the SFNN reference
//! uses) with the library defaults:
//! - [`CmaEs`]: CMA-ES with active (negative) weights (Hansen 2016), the SFNN reference strategy.
//! - [`SepCmaEs`]: separable CMA-ES (Ros & Hansen 2008).
//! - [`OpenEs`]: OpenAI-ES (Salimans et al. 2017) with Adam, mirrored sampling, centred ranks.
//! - [`Snes`]: separable NES (Schaul et al. 2011).
//!
//! Conventions:
//! - Fitness is **maximised**. evosax minimises; the translation happens once, in
//!   [`shaping::rank_order`] (all four strategies only use the ranking of the fitness values).
//! - NaN fitness ranks worst, never gets a positive recombination weight, and never panics.
//! - Ties break by population index (stable sort), and every reduction runs in a fixed sequential
//!   order, so a run is a pure function of the seed; the RNG ([`ChaCha8Rng`]) is part of the
//!   serialised state, so an [`EvolutionStrategy`] serialised to JSON *is* the checkpoint and
//!   resumes bit for bit.
//! - Samples are drawn with `ChaCha8Rng` + `rand_distr::StandardNormal`, so they cannot match
//!   evosax's JAX PRNG draws; everything after the draw follows evosax's formulas.

mod cma_es;
mod cma_paths;
mod open_es;
mod sep_cma_es;
pub mod shaping;
mod snes;

pub use cma_es::CmaEs;
pub use open_es::OpenEs;
pub use sep_cma_es::SepCmaEs;
pub use snes::Snes;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// Which strategy a job uses.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum StrategyName {
    /// Full-covariance CMA-ES (evosax `CMA_ES`), the SFNN reference strategy.
    #[default]
    CmaEs,
    /// Diagonal-covariance CMA-ES (evosax `Sep_CMA_ES`).
    SepCmaEs,
    /// OpenAI-ES with Adam (evosax `OpenES`).
    OpenEs,
    /// Separable natural evolution strategy (evosax `SNES`).
    Snes,
}

impl StrategyName {
    /// Every strategy, in declaration order.
    pub const ALL: [StrategyName; 4] = [
        StrategyName::CmaEs,
        StrategyName::SepCmaEs,
        StrategyName::OpenEs,
        StrategyName::Snes,
    ];

    /// The name as it appears in a spec (`"cma_es"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyName::CmaEs => "cma_es",
            StrategyName::SepCmaEs => "sep_cma_es",
            StrategyName::OpenEs => "open_es",
            StrategyName::Snes => "snes",
        }
    }
}

impl std::fmt::Display for StrategyName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `strategy` section of a job spec. Every field has a default; fields that a strategy does
/// not use are ignored by it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
#[schema(default)]
pub struct StrategyConfig {
    /// Default `cma_es`.
    pub name: StrategyName,
    /// Members per generation. Default 128 (the SFNN reference). At least 2; even for OpenAI-ES
    /// with antithetic sampling.
    pub popsize: usize,
    /// Initial step size (CMA-ES, Sep-CMA-ES: sigma; OpenAI-ES: the fixed noise std; SNES: the
    /// initial per-coordinate std). Default 1.0 (evosax 0.1.4 `sigma_init` for CMA-ES, Sep-CMA-ES
    /// and SNES; evosax's OpenES default is 0.03, pass it explicitly if wanted).
    pub sigma0: f64,
    /// Fraction of the population that recombines into the mean (CMA-ES, Sep-CMA-ES):
    /// `mu = max(1, floor(popsize * elite_ratio))`. Default 0.5, range (0, 1].
    pub elite_ratio: f64,
    /// OpenAI-ES Adam step size. Default 0.01.
    pub learning_rate: f64,
    /// OpenAI-ES multiplicative learning-rate decay per generation, in (0, 1]. Default 1.0 (none),
    /// as evosax 0.1.4.
    pub learning_rate_decay: f64,
    /// OpenAI-ES floor the decayed learning rate stops at. Default 0.001 (evosax). Never raises the
    /// learning rate.
    pub learning_rate_limit: f64,
    /// OpenAI-ES multiplicative sigma decay per generation, in (0, 1]. Default 1.0 (fixed sigma).
    pub sigma_decay: f64,
    /// OpenAI-ES floor the decayed sigma stops at. Default 0.01 (evosax). Never raises sigma.
    pub sigma_limit: f64,
    /// OpenAI-ES L2 penalty on the shaped fitness: `u_i -= weight_decay * mean(x_i^2)`. Default 0.
    pub weight_decay: f64,
    /// OpenAI-ES mirrored sampling (members `i` and `i + popsize/2` are `mean ± sigma * z`).
    /// Default true.
    pub antithetic: bool,
    /// SNES learning rate of the mean. Default 1.0 (evosax, Schaul et al. 2011).
    pub lr_mean: f64,
    /// SNES learning rate of the standard deviations; `null` (the default) means
    /// `(3 + ln n) / (5 sqrt n)` (Schaul et al. 2011, evosax).
    pub lr_sigma: Option<f64>,
}

impl Default for StrategyConfig {
    fn default() -> Self {
        StrategyConfig {
            name: StrategyName::CmaEs,
            popsize: 128,
            sigma0: 1.0,
            elite_ratio: 0.5,
            learning_rate: 0.01,
            learning_rate_decay: 1.0,
            learning_rate_limit: 0.001,
            sigma_decay: 1.0,
            sigma_limit: 0.01,
            weight_decay: 0.0,
            antithetic: true,
            lr_mean: 1.0,
            lr_sigma: None,
        }
    }
}

pub use crate::limits::FieldError;

/// What a real-valued strategy option allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RealBound {
    /// A finite number > 0.
    Positive,
    /// A finite number >= 0.
    NonNegative,
    /// A number in (0, 1].
    UnitInterval,
}

impl RealBound {
    fn admits(self, value: f64) -> bool {
        match self {
            RealBound::Positive => value.is_finite() && value > 0.0,
            RealBound::NonNegative => value.is_finite() && value >= 0.0,
            RealBound::UnitInterval => value > 0.0 && value <= 1.0,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            RealBound::Positive => "a finite number > 0",
            RealBound::NonNegative => "a finite number >= 0",
            RealBound::UnitInterval => "in (0, 1]",
        }
    }
}

/// An option of [`StrategyConfig`] beyond the population size: the strategies that read it and,
/// for a real number, what it allows. [`StrategyConfig::validate`] checks these, the OpenAPI
/// document states them (`x-strategies`), and the dashboard's form shows a strategy's own.
pub struct StrategyOption {
    pub field: &'static str,
    pub used_by: &'static [StrategyName],
    /// The bound and the value of a real-valued option (`None`: a flag).
    pub real: Option<(RealBound, ReadOption)>,
}

/// Reads an option's value from a config (`None` where it is unset).
pub type ReadOption = fn(&StrategyConfig) -> Option<f64>;

const EVERY_STRATEGY: &[StrategyName] = &[
    StrategyName::CmaEs,
    StrategyName::SepCmaEs,
    StrategyName::OpenEs,
    StrategyName::Snes,
];
const CMA: &[StrategyName] = &[StrategyName::CmaEs, StrategyName::SepCmaEs];
const OPEN_ES: &[StrategyName] = &[StrategyName::OpenEs];
const SNES: &[StrategyName] = &[StrategyName::Snes];

/// Every option, once.
pub const STRATEGY_OPTIONS: &[StrategyOption] = {
    use RealBound::*;
    /// A real-valued option.
    const fn real(
        field: &'static str,
        used_by: &'static [StrategyName],
        bound: RealBound,
        value: ReadOption,
    ) -> StrategyOption {
        StrategyOption {
            field,
            used_by,
            real: Some((bound, value)),
        }
    }
    &[
        real("sigma0", EVERY_STRATEGY, Positive, |c| Some(c.sigma0)),
        real("elite_ratio", CMA, UnitInterval, |c| Some(c.elite_ratio)),
        real("learning_rate", OPEN_ES, Positive, |c| {
            Some(c.learning_rate)
        }),
        real("learning_rate_decay", OPEN_ES, UnitInterval, |c| {
            Some(c.learning_rate_decay)
        }),
        real("learning_rate_limit", OPEN_ES, NonNegative, |c| {
            Some(c.learning_rate_limit)
        }),
        real("sigma_decay", OPEN_ES, UnitInterval, |c| {
            Some(c.sigma_decay)
        }),
        real("sigma_limit", OPEN_ES, NonNegative, |c| Some(c.sigma_limit)),
        real("weight_decay", OPEN_ES, NonNegative, |c| {
            Some(c.weight_decay)
        }),
        StrategyOption {
            field: "antithetic",
            used_by: OPEN_ES,
            real: None,
        },
        real("lr_mean", SNES, Positive, |c| Some(c.lr_mean)),
        real("lr_sigma", SNES, Positive, |c| c.lr_sigma),
    ]
};

impl StrategyConfig {
    /// Checks every field the chosen strategy uses (and the shared ones). Errors name the field
    /// as `strategy.<field>` and say what is allowed; the first carries the others.
    pub fn validate(&self) -> Result<(), FieldError> {
        let bounds = STRATEGY_OPTIONS.iter().filter_map(|option| {
            let (bound, value) = option.real?;
            let value = value(self)?;
            (!bound.admits(value)).then(|| {
                FieldError::new(
                    format!("strategy.{}", option.field),
                    format!("must be {}, got {value}", bound.describe()),
                )
            })
        });
        let odd_antithetic = (self.name == StrategyName::OpenEs
            && self.antithetic
            && !self.popsize.is_multiple_of(2))
        .then(|| {
            FieldError::new(
                "strategy.popsize",
                format!(
                    "must be even for open_es with antithetic sampling, got {}",
                    self.popsize
                ),
            )
        });
        let popsize = crate::limits::spec::POPSIZE.check(self.popsize).err();
        FieldError::all(popsize.into_iter().chain(bounds).chain(odd_antithetic))
    }
}

/// One generation's candidates, `len()` rows of `dim` values, row-major.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Population {
    pub dim: usize,
    /// `len() * dim` values; member `i` is `members[i * dim..(i + 1) * dim]`.
    pub members: Vec<f64>,
}

impl Population {
    /// Member `i`'s parameters.
    pub fn member(&self, i: usize) -> &[f64] {
        &self.members[i * self.dim..(i + 1) * self.dim]
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len().checked_div(self.dim).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Iterates the members in order.
    pub fn iter(&self) -> impl Iterator<Item = &[f64]> {
        self.members.chunks_exact(self.dim.max(1))
    }
}

/// What a `tell` reports about the search distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Telemetry {
    /// Step size after the update (see [`EvolutionStrategy::sigma`]).
    pub sigma: f64,
    /// Strategy-specific scalars, e.g. CMA-ES axis ratio and min/max coordinate std.
    pub extra: Vec<(String, f64)>,
}

/// A running strategy: parameters, state and RNG. Serialising it is checkpointing it: in JSON
/// as `{"name": "cma_es", "state": {…}}`, in binary formats (which cannot read names back) as
/// the variant's index and its state (see [`forms`]).
#[derive(Debug, Clone, PartialEq)]
pub enum EvolutionStrategy {
    CmaEs(CmaEs),
    SepCmaEs(SepCmaEs),
    OpenEs(OpenEs),
    Snes(Snes),
}

/// The two serialised forms of [`EvolutionStrategy`], chosen by
/// [`is_human_readable`](serde::Serializer::is_human_readable). Variants keep their order: a
/// binary checkpoint stores the index.
mod forms {
    use super::{CmaEs, EvolutionStrategy, OpenEs, SepCmaEs, Snes};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize)]
    #[serde(tag = "name", content = "state", rename_all = "snake_case")]
    enum NamedRef<'a> {
        CmaEs(&'a CmaEs),
        SepCmaEs(&'a SepCmaEs),
        OpenEs(&'a OpenEs),
        Snes(&'a Snes),
    }

    #[derive(Deserialize)]
    #[serde(tag = "name", content = "state", rename_all = "snake_case")]
    enum Named {
        CmaEs(CmaEs),
        SepCmaEs(SepCmaEs),
        OpenEs(OpenEs),
        Snes(Snes),
    }

    #[derive(Serialize)]
    enum IndexedRef<'a> {
        CmaEs(&'a CmaEs),
        SepCmaEs(&'a SepCmaEs),
        OpenEs(&'a OpenEs),
        Snes(&'a Snes),
    }

    #[derive(Deserialize)]
    enum Indexed {
        CmaEs(CmaEs),
        SepCmaEs(SepCmaEs),
        OpenEs(OpenEs),
        Snes(Snes),
    }

    impl Serialize for EvolutionStrategy {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            if serializer.is_human_readable() {
                match self {
                    EvolutionStrategy::CmaEs(s) => NamedRef::CmaEs(s),
                    EvolutionStrategy::SepCmaEs(s) => NamedRef::SepCmaEs(s),
                    EvolutionStrategy::OpenEs(s) => NamedRef::OpenEs(s),
                    EvolutionStrategy::Snes(s) => NamedRef::Snes(s),
                }
                .serialize(serializer)
            } else {
                match self {
                    EvolutionStrategy::CmaEs(s) => IndexedRef::CmaEs(s),
                    EvolutionStrategy::SepCmaEs(s) => IndexedRef::SepCmaEs(s),
                    EvolutionStrategy::OpenEs(s) => IndexedRef::OpenEs(s),
                    EvolutionStrategy::Snes(s) => IndexedRef::Snes(s),
                }
                .serialize(serializer)
            }
        }
    }

    impl<'de> Deserialize<'de> for EvolutionStrategy {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            Ok(if deserializer.is_human_readable() {
                match Named::deserialize(deserializer)? {
                    Named::CmaEs(s) => EvolutionStrategy::CmaEs(s),
                    Named::SepCmaEs(s) => EvolutionStrategy::SepCmaEs(s),
                    Named::OpenEs(s) => EvolutionStrategy::OpenEs(s),
                    Named::Snes(s) => EvolutionStrategy::Snes(s),
                }
            } else {
                match Indexed::deserialize(deserializer)? {
                    Indexed::CmaEs(s) => EvolutionStrategy::CmaEs(s),
                    Indexed::SepCmaEs(s) => EvolutionStrategy::SepCmaEs(s),
                    Indexed::OpenEs(s) => EvolutionStrategy::OpenEs(s),
                    Indexed::Snes(s) => EvolutionStrategy::Snes(s),
                }
            })
        }
    }
}

impl EvolutionStrategy {
    /// Validates `config` and builds generation 0. `initial_mean` defaults to zeros (evosax's
    /// `init_min = init_max = 0`).
    pub fn new(
        config: &StrategyConfig,
        dim: usize,
        initial_mean: Option<&[f64]>,
        seed: u64,
    ) -> Result<Self, FieldError> {
        config.validate()?;
        if dim == 0 {
            return Err(FieldError::new("dim", "must be at least 1"));
        }
        let mean = match initial_mean {
            Some(m) => {
                if m.len() != dim {
                    return Err(FieldError::new(
                        "initial_mean",
                        format!("has {} values, expected dim = {dim}", m.len()),
                    ));
                }
                if let Some(bad) = m.iter().find(|v| !v.is_finite()) {
                    return Err(FieldError::new(
                        "initial_mean",
                        format!("values must be finite, got {bad}"),
                    ));
                }
                m.to_vec()
            }
            None => vec![0.0; dim],
        };
        Ok(match config.name {
            StrategyName::CmaEs => EvolutionStrategy::CmaEs(CmaEs::new(config, mean, seed)),
            StrategyName::SepCmaEs => {
                EvolutionStrategy::SepCmaEs(SepCmaEs::new(config, mean, seed))
            }
            StrategyName::OpenEs => EvolutionStrategy::OpenEs(OpenEs::new(config, mean, seed)),
            StrategyName::Snes => EvolutionStrategy::Snes(Snes::new(config, mean, seed)),
        })
    }

    /// Samples the next population from the strategy's own RNG.
    pub fn ask(&mut self) -> Population {
        match self {
            EvolutionStrategy::CmaEs(s) => s.ask(),
            EvolutionStrategy::SepCmaEs(s) => s.ask(),
            EvolutionStrategy::OpenEs(s) => s.ask(),
            EvolutionStrategy::Snes(s) => s.ask(),
        }
    }

    /// Updates the distribution from the fitness (maximised) of `population`, normally the one
    /// the last [`ask`](Self::ask) returned.
    ///
    /// # Panics
    /// If `population` does not hold `popsize` members of `dim` values, or `fitness` does not
    /// hold `popsize` values.
    pub fn tell(&mut self, population: &Population, fitness: &[f64]) -> Telemetry {
        let (popsize, dim) = (self.popsize(), self.dim());
        assert_eq!(population.dim, dim, "population dim");
        assert_eq!(population.members.len(), popsize * dim, "population size");
        assert_eq!(fitness.len(), popsize, "fitness length");
        match self {
            EvolutionStrategy::CmaEs(s) => s.tell(population, fitness),
            EvolutionStrategy::SepCmaEs(s) => s.tell(population, fitness),
            EvolutionStrategy::OpenEs(s) => s.tell(population, fitness),
            EvolutionStrategy::Snes(s) => s.tell(population, fitness),
        }
    }

    /// Current mean of the search distribution.
    pub fn mean(&self) -> &[f64] {
        match self {
            EvolutionStrategy::CmaEs(s) => &s.mean,
            EvolutionStrategy::SepCmaEs(s) => &s.mean,
            EvolutionStrategy::OpenEs(s) => &s.mean,
            EvolutionStrategy::Snes(s) => &s.mean,
        }
    }

    /// Step size: CMA-ES / Sep-CMA-ES sigma, OpenAI-ES noise std, SNES mean of the stds.
    pub fn sigma(&self) -> f64 {
        match self {
            EvolutionStrategy::CmaEs(s) => s.sigma,
            EvolutionStrategy::SepCmaEs(s) => s.sigma,
            EvolutionStrategy::OpenEs(s) => s.sigma,
            EvolutionStrategy::Snes(s) => s.mean_sigma(),
        }
    }

    /// Number of `tell`s so far.
    pub fn generation(&self) -> u64 {
        match self {
            EvolutionStrategy::CmaEs(s) => s.generation,
            EvolutionStrategy::SepCmaEs(s) => s.generation,
            EvolutionStrategy::OpenEs(s) => s.generation,
            EvolutionStrategy::Snes(s) => s.generation,
        }
    }

    pub fn popsize(&self) -> usize {
        match self {
            EvolutionStrategy::CmaEs(s) => s.popsize,
            EvolutionStrategy::SepCmaEs(s) => s.popsize,
            EvolutionStrategy::OpenEs(s) => s.popsize,
            EvolutionStrategy::Snes(s) => s.popsize,
        }
    }

    pub fn dim(&self) -> usize {
        self.mean().len()
    }

    pub fn name(&self) -> StrategyName {
        match self {
            EvolutionStrategy::CmaEs(_) => StrategyName::CmaEs,
            EvolutionStrategy::SepCmaEs(_) => StrategyName::SepCmaEs,
            EvolutionStrategy::OpenEs(_) => StrategyName::OpenEs,
            EvolutionStrategy::Snes(_) => StrategyName::Snes,
        }
    }
}

/// `count` standard normal draws, in order.
fn standard_normals(rng: &mut ChaCha8Rng, count: usize) -> Vec<f64> {
    (0..count)
        .map(|_| rng.sample::<f64, _>(StandardNormal))
        .collect()
}

/// Sequential dot product (fixed summation order, no FMA).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).fold(0.0, |acc, (x, y)| acc + x * y)
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}
