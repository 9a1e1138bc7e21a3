//! The classic-control environments against gymnasium 1.4.0 reference transitions
//! (`tests/fixtures/envs/`, format and bit-exactness notes in its README), through the public API
//! only.
//!
//! gymnasium's reset RNG cannot be reproduced, so the tests replay the transition function: for
//! every recorded step, load the state `s` and the step counter `t`, take the action `a`, and
//! compare the next state, observation, reward and flags.
//!
//! Observations: gymnasium returns float32 observations (the fixtures hold the exact double of
//! each f32). Our `f64` instance keeps its observations in f64, so they are compared after the same
//! f64 -> f32 rounding gymnasium applies; that comparison is exact.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use sfnn::envs::{self, Action, ActionSpace, Observation};
use sfnn::num::Real;
use std::path::{Path, PathBuf};

/// MountainCarContinuous-v0 is checked to this absolute tolerance in f64: we chose not to copy
/// gymnasium's float32 state storage and its numpy-2 mixed f32/f64 arithmetic (see the module
/// docs), which leaves differences of the order of one f32 ulp of the state (<= 6e-8).
const MCC_TOLERANCE: f64 = 1e-6;

/// The f32 instances must stay within this of the recorded float64 transitions, relative to
/// `max(1, |expected|)`. Loading the recorded state into f32 alone perturbs it by half an f32 ulp
/// (6e-8 relative), and a step is a few dozen roundings of well-conditioned O(1) terms (Acrobot's
/// RK4 is the longest chain; its velocities reach 9 pi, hence relative above 1 and absolute
/// below). The largest error is Pendulum's: its angle is never wrapped, so within the 200-step
/// limit it reaches |theta| <= pi + 200 * 8 * 0.05 ~ 83, where an f32 ulp is 7.6e-6, and
/// `sin`/`cos` of it inherit that rounding as an absolute error (5.1e-6 observed; the scripted
/// runs reach |theta| = 73). Everything else stays below 1e-6 (observed: Acrobot 6.4e-7, CartPole and
/// MountainCar 1.2e-7, MountainCarContinuous 6e-8). A real modelling error (a wrong constant, a
/// missing term) shows up far above 1e-5.
const F32_TOLERANCE: f64 = 1e-5;

struct Episode {
    env_id: String,
    seed: u64,
    steps: Vec<Value>,
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/envs")
}

fn fixture_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture_dir())
        .expect("fixture directory")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
        .collect();
    files.sort();
    files
}

fn load(path: &Path) -> Vec<Episode> {
    let text = std::fs::read_to_string(path).expect("fixture file");
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let record: Value = serde_json::from_str(line).expect("valid JSON line");
            Episode {
                env_id: record["env_id"].as_str().expect("env_id").to_owned(),
                seed: record["seed"].as_u64().expect("seed"),
                steps: record["steps"].as_array().expect("steps").clone(),
            }
        })
        .collect()
}

fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .expect("array of floats")
        .iter()
        .map(|v| v.as_f64().expect("float"))
        .collect()
}

fn action<F: Real>(space: ActionSpace, value: &Value) -> Action<F> {
    match space {
        ActionSpace::Discrete { .. } => {
            Action::Discrete(value.as_u64().expect("int action") as usize)
        }
        ActionSpace::Continuous { .. } => Action::Continuous(F::of(floats(value)[0])),
    }
}

fn to_f64<F: Real>(values: &[F]) -> Vec<f64> {
    values.iter().map(|v| v.to_f64_exact()).collect()
}

fn obs_as_f32(obs: &Observation<f64>) -> Vec<f32> {
    obs.as_slice().iter().map(|&v| v as f32).collect()
}

fn recorded_f32(values: &[f64]) -> Vec<f32> {
    values.iter().map(|&v| v as f32).collect()
}

/// Asserts `actual` equals `expected` bit for bit, or within `tolerance` where one is given.
fn check_f64(what: &str, actual: &[f64], expected: &[f64], tolerance: Option<f64>) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        match tolerance {
            None => assert!(
                a.to_bits() == e.to_bits(),
                "{what}[{i}]: got {a:e}, recorded {e:e} (diff {:e})",
                a - e
            ),
            Some(tol) => assert!(
                (a - e).abs() <= tol,
                "{what}[{i}]: got {a:e}, recorded {e:e} (diff {:e} > {tol:e})",
                a - e
            ),
        }
    }
}

#[test]
fn every_fixture_file_is_covered() {
    let files = fixture_files();
    assert_eq!(files.len(), 10, "{files:?}");
    for name in envs::names() {
        for suffix in [".jsonl", ".scripted.jsonl"] {
            let path = fixture_dir().join(format!("{name}{suffix}"));
            assert!(files.contains(&path), "missing fixture {}", path.display());
        }
    }
}

#[test]
fn f64_reproduces_every_recorded_transition() {
    let mut checked = 0;
    for path in fixture_files() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        for episode in load(&path) {
            let mut env = envs::make::<f64>(&episode.env_id).expect("known env");
            let info = env.info();
            // Only MountainCarContinuous needs a tolerance (module docs: float32 state storage not
            // copied); everything else is bit-exact, as the fixtures README says is possible.
            let tolerance = (info.name == "MountainCarContinuous-v0").then_some(MCC_TOLERANCE);
            for step in &episode.steps {
                let t = step["t"].as_u64().unwrap() as usize;
                let at = format!("{file} seed {} t {t}", episode.seed);
                let s = floats(&step["s"]);
                env.set_state(&s);
                env.set_elapsed(t);
                assert_eq!(env.state(), &s[..], "{at}: set_state");
                assert_eq!(env.elapsed(), t, "{at}: set_elapsed");
                // The observation function, compared after gymnasium's rounding to float32.
                let o = env.observation();
                assert_eq!(o.as_slice().len(), info.obs_dim, "{at}: obs length");
                assert_eq!(obs_as_f32(&o), recorded_f32(&floats(&step["o"])), "{at}: o");

                let result = env.step(action(info.action_space, &step["a"]));
                check_f64(
                    &format!("{at}: s2"),
                    env.state(),
                    &floats(&step["s2"]),
                    tolerance,
                );
                match tolerance {
                    None => assert_eq!(
                        obs_as_f32(&result.obs),
                        recorded_f32(&floats(&step["o2"])),
                        "{at}: o2"
                    ),
                    Some(_) => check_f64(
                        &format!("{at}: o2"),
                        result.obs.as_slice(),
                        &floats(&step["o2"]),
                        tolerance,
                    ),
                }
                assert_eq!(result.obs, env.observation(), "{at}: returned obs");
                // The reward is exact everywhere: MountainCarContinuous's reward depends only on
                // the (unclipped) action and the termination flag.
                check_f64(
                    &format!("{at}: r"),
                    &[result.reward],
                    &[step["r"].as_f64().unwrap()],
                    None,
                );
                assert_eq!(
                    result.terminated,
                    step["term"].as_bool().unwrap(),
                    "{at}: term"
                );
                assert_eq!(
                    result.truncated,
                    step["trunc"].as_bool().unwrap(),
                    "{at}: trunc"
                );
                assert_eq!(env.elapsed(), t + 1, "{at}: elapsed after the step");
                checked += 1;
            }
        }
    }
    // 115 + 2500 + 1000 + 1000 + 4995 plain and 2500 + 553 + 577 + 1000 + 526 scripted steps.
    assert_eq!(checked, 14_766);
}

#[test]
fn f32_stays_within_tolerance_of_every_recorded_transition() {
    let mut worst = std::collections::BTreeMap::<String, (f64, String)>::new();
    let mut checked = 0;
    for path in fixture_files() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        for episode in load(&path) {
            let mut env = envs::make::<f32>(&episode.env_id).expect("known env");
            let info = env.info();
            let worst = worst
                .entry(info.name.to_owned())
                .or_insert((0.0, String::new()));
            let mut compare = |what: &str, actual: &[f32], expected: &[f64]| {
                assert_eq!(actual.len(), expected.len(), "{what}: length");
                for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
                    let error = (f64::from(a) - e).abs() / e.abs().max(1.0);
                    if error > worst.0 {
                        *worst = (error, format!("{what}[{i}]"));
                    }
                    assert!(
                        error <= F32_TOLERANCE,
                        "{what}[{i}]: f32 gives {a:e}, recorded {e:e} (scaled error {error:e})"
                    );
                }
            };
            for step in &episode.steps {
                let t = step["t"].as_u64().unwrap() as usize;
                let at = format!("{file} seed {} t {t}", episode.seed);
                let s: Vec<f32> = floats(&step["s"]).iter().map(|&v| v as f32).collect();
                env.set_state(&s);
                env.set_elapsed(t);
                compare(
                    &format!("{at}: o"),
                    env.observation().as_slice(),
                    &floats(&step["o"]),
                );
                let result = env.step(action(info.action_space, &step["a"]));
                compare(&format!("{at}: s2"), env.state(), &floats(&step["s2"]));
                compare(
                    &format!("{at}: o2"),
                    result.obs.as_slice(),
                    &floats(&step["o2"]),
                );
                compare(
                    &format!("{at}: r"),
                    &[result.reward],
                    &[step["r"].as_f64().unwrap()],
                );
                // No recorded state lies within f32 rounding of a termination threshold, so the
                // flags match exactly without exceptions.
                assert_eq!(
                    result.terminated,
                    step["term"].as_bool().unwrap(),
                    "{at}: term"
                );
                assert_eq!(
                    result.truncated,
                    step["trunc"].as_bool().unwrap(),
                    "{at}: trunc"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 14_766);
    println!("largest f32 error, relative to max(1, |recorded|): {worst:#?}");
}

#[test]
fn an_episode_truncates_at_the_horizon_and_never_before() {
    for info in envs::all() {
        let mut env = envs::make::<f64>(info.name).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        env.reset(&mut rng);
        // No torque or push (CartPole: always left, which topples the pole): none of these
        // policies reaches a goal, so only CartPole terminates.
        let idle = match info.action_space {
            ActionSpace::Discrete { n: 2 } => Action::Discrete(0),
            ActionSpace::Discrete { .. } => Action::Discrete(1),
            ActionSpace::Continuous { .. } => Action::Continuous(0.0),
        };
        let mut since_reset = 0;
        for _ in 0..3 * info.horizon {
            let step = env.step(idle);
            since_reset += 1;
            assert_eq!(env.elapsed(), since_reset, "{}", info.name);
            assert_eq!(
                step.truncated,
                since_reset >= info.horizon,
                "{} after {since_reset} steps",
                info.name
            );
            if step.terminated || step.truncated {
                // CartPole's pole falls without control; start anew, as the host would.
                env.reset(&mut rng);
                since_reset = 0;
            }
        }
    }
}

/// `(name, [(low, high) per state component])` of each reset distribution; `low == high` means
/// the component is always that value.
fn reset_ranges() -> Vec<(&'static str, Vec<(f64, f64)>)> {
    let pi = std::f64::consts::PI;
    vec![
        ("CartPole-v1", vec![(-0.05, 0.05); 4]),
        ("Acrobot-v1", vec![(-0.1, 0.1); 4]),
        ("MountainCar-v0", vec![(-0.6, -0.4), (0.0, 0.0)]),
        ("Pendulum-v1", vec![(-pi, pi), (-1.0, 1.0)]),
        ("MountainCarContinuous-v0", vec![(-0.6, -0.4), (0.0, 0.0)]),
    ]
}

fn check_reset_distribution<F: Real>() {
    const DRAWS: usize = 20_000;
    let ranges = reset_ranges();
    assert_eq!(ranges.len(), envs::all().len());
    for (name, components) in ranges {
        let mut env = envs::make::<F>(name).unwrap();
        let info = env.info();
        assert_eq!(components.len(), info.state_dim, "{name}");
        let mut rng = ChaCha8Rng::seed_from_u64(2024);
        let mut sums = vec![0.0; info.state_dim];
        let mut state = vec![F::zero(); info.state_dim];
        for _ in 0..DRAWS {
            env.sample_reset_state(&mut rng, &mut state);
            for (i, (&value, &(low, high))) in state.iter().zip(&components).enumerate() {
                let value = value.to_f64_exact();
                // Bounds rounded to F: an f64 draw just inside may round onto the bound in f32.
                let (low_f, high_f) = (F::of(low).to_f64_exact(), F::of(high).to_f64_exact());
                assert!(
                    (low_f..=high_f).contains(&value),
                    "{name}[{i}] = {value} outside [{low}, {high}]"
                );
                sums[i] += value;
            }
        }
        for (i, &(low, high)) in components.iter().enumerate() {
            let mean = sums[i] / DRAWS as f64;
            let centre = (low + high) / 2.0;
            // The standard error of the mean of U(low, high) is (high - low) / sqrt(12 DRAWS);
            // allow 6 of them.
            let allowed = 6.0 * (high - low) / (12.0 * DRAWS as f64).sqrt();
            assert!(
                (mean - centre).abs() <= allowed,
                "{name}[{i}]: mean {mean} vs centre {centre} (allowed {allowed})"
            );
        }
        // `reset` draws a state in range, restarts the counter and returns its observation.
        env.set_elapsed(17);
        let obs = env.reset(&mut rng);
        assert_eq!(env.elapsed(), 0, "{name}");
        assert_eq!(obs, env.observation(), "{name}");
        let state = to_f64(env.state());
        for (&value, &(low, high)) in state.iter().zip(&components) {
            assert!(
                (F::of(low).to_f64_exact()..=F::of(high).to_f64_exact()).contains(&value),
                "{name}"
            );
        }
        // `reset_to` loads exactly the given state.
        let given: Vec<F> = components.iter().map(|&(low, _)| F::of(low)).collect();
        let obs = env.reset_to(&given);
        assert_eq!(env.state(), &given[..], "{name}");
        assert_eq!(obs, env.observation(), "{name}");
    }
}

#[test]
fn reset_distributions_have_the_documented_ranges_and_centres_f64() {
    check_reset_distribution::<f64>();
}

#[test]
fn reset_distributions_have_the_documented_ranges_and_centres_f32() {
    check_reset_distribution::<f32>();
}

#[test]
fn make_rejects_unknown_names() {
    for name in [
        "",
        "CartPole",
        "CartPole-v0",
        "cartpole-v1",
        "Acrobot-v2",
        "MountainCar",
        "Pendulum-v0",
        "MountainCarContinuous-v1",
        "LunarLander-v3",
    ] {
        assert!(envs::make::<f64>(name).is_none(), "{name:?}");
        assert!(envs::make::<f32>(name).is_none(), "{name:?}");
        assert!(envs::info(name).is_none(), "{name:?}");
    }
}

#[test]
fn infos_are_consistent_with_the_environments() {
    let names = envs::names();
    assert_eq!(
        names,
        [
            "CartPole-v1",
            "Acrobot-v1",
            "MountainCar-v0",
            "Pendulum-v1",
            "MountainCarContinuous-v0"
        ]
    );
    for info in envs::all() {
        assert!(std::ptr::eq(envs::info(info.name).unwrap(), info));
        for env in [
            envs::make::<f64>(info.name)
                .map(|e| (e.info(), e.observation().as_slice().len(), e.state().len())),
            envs::make::<f32>(info.name)
                .map(|e| (e.info(), e.observation().as_slice().len(), e.state().len())),
        ] {
            let (env_info, obs_len, state_len) = env.unwrap();
            assert!(std::ptr::eq(env_info, info), "{}", info.name);
            assert_eq!(obs_len, info.obs_dim, "{}", info.name);
            assert_eq!(state_len, info.state_dim, "{}", info.name);
        }
        assert!(info.obs_dim <= envs::MAX_OBS);
        assert!(info.state_dim <= envs::MAX_OBS);
        assert!(info.return_min < info.return_max, "{}", info.name);
        assert!(
            (1..=info.horizon).contains(&info.max_dones_per_horizon),
            "{}",
            info.name
        );
    }
    let expected = [
        (
            "CartPole-v1",
            4,
            ActionSpace::Discrete { n: 2 },
            500,
            8.0,
            500.0,
        ),
        (
            "Acrobot-v1",
            6,
            ActionSpace::Discrete { n: 3 },
            500,
            -500.0,
            -80.0,
        ),
        (
            "MountainCar-v0",
            2,
            ActionSpace::Discrete { n: 3 },
            200,
            -200.0,
            -110.0,
        ),
        (
            "Pendulum-v1",
            3,
            ActionSpace::Continuous {
                low: -2.0,
                high: 2.0,
            },
            200,
            -1600.0,
            -200.0,
        ),
        (
            "MountainCarContinuous-v0",
            2,
            ActionSpace::Continuous {
                low: -1.0,
                high: 1.0,
            },
            999,
            -50.0,
            90.0,
        ),
    ];
    for (name, obs_dim, space, horizon, return_min, return_max) in expected {
        let info = envs::info(name).unwrap();
        assert_eq!(info.obs_dim, obs_dim, "{name}");
        assert_eq!(info.action_space, space, "{name}");
        assert_eq!(info.horizon, horizon, "{name}");
        assert_eq!(info.return_min, return_min, "{name}");
        assert_eq!(info.return_max, return_max, "{name}");
    }
    assert_eq!(envs::info("Pendulum-v1").unwrap().max_dones_per_horizon, 1);
}

#[test]
fn continuous_actions_in_discrete_envs_match_the_discrete_torques() {
    // Acrobot and MountainCar take `Continuous(u)` as the torque / push `u` (clipped to [-1, 1]);
    // at -1, 0, 1 that is exactly `Discrete(0 | 1 | 2)`.
    for name in ["Acrobot-v1", "MountainCar-v0"] {
        let mut env = envs::make::<f64>(name).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut start = vec![0.0; env.info().state_dim];
        env.sample_reset_state(&mut rng, &mut start);
        for (index, value) in [(0, -1.0), (1, 0.0), (2, 1.0), (2, 5.0), (0, -5.0)] {
            env.reset_to(&start);
            let discrete = env.step(Action::Discrete(index));
            let discrete_state = env.state().to_vec();
            env.reset_to(&start);
            let continuous = env.step(Action::Continuous(value));
            assert_eq!(discrete, continuous, "{name} {value}");
            assert_eq!(discrete_state, env.state(), "{name} {value}");
        }
    }
}

#[test]
fn continuous_actions_are_clipped_to_the_bounds() {
    for name in ["Pendulum-v1", "MountainCarContinuous-v0"] {
        let mut env = envs::make::<f64>(name).unwrap();
        let ActionSpace::Continuous { low, high } = env.info().action_space else {
            panic!("{name} is continuous");
        };
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut start = vec![0.0; env.info().state_dim];
        env.sample_reset_state(&mut rng, &mut start);
        for (bound, beyond) in [(low, low - 3.0), (high, high + 3.0)] {
            env.reset_to(&start);
            env.step(Action::Continuous(bound));
            let at_bound = env.state().to_vec();
            env.reset_to(&start);
            env.step(Action::Continuous(beyond));
            assert_eq!(at_bound, env.state(), "{name} {beyond}");
        }
    }
}
