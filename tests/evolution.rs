//! Lifetimes, the CPU executor and the generation loop, end to end (no server).

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use sfnn::envs;
use sfnn::evolution::{Evolution, JobSpec};
use sfnn::exec::{
    CpuExecutor, EpisodeMode, EvalRequest, Executor, Protocol, Sampler, run_lifetime,
};
use sfnn::model::{
    Decision, GenomeLayout, ModelConfig, Network, Params, Readout, Topology, Wiring,
};

fn random_genomes(members: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let len = ModelConfig::default().param_count();
    (0..members * len)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect()
}

fn evaluate(
    threads: usize,
    envs: &[&'static envs::EnvInfo],
    protocol: Protocol,
) -> (Vec<f64>, u64) {
    let model = ModelConfig::default();
    let sampler = Sampler {
        model: &model,
        topology: &Topology::default(),
        envs,
        protocol,
        repeats: 2,
        seed: 42,
    };
    let members = 5;
    let lifetimes = sampler.generation(3, members);
    let genomes = random_genomes(members, 9);
    let out = CpuExecutor::new(threads)
        .unwrap()
        .evaluate(&EvalRequest {
            model,
            envs,
            protocol,
            genomes: &genomes,
            repeats: 2,
            lifetimes: &lifetimes,
        })
        .unwrap();
    (out.returns, out.env_steps)
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let envs = [
        envs::info("CartPole-v1").unwrap(),
        envs::info("Pendulum-v1").unwrap(),
    ];
    let protocol = Protocol {
        episodes: 2,
        mode: EpisodeMode::StopOnDone,
    };
    let one = evaluate(1, &envs, protocol);
    let two = evaluate(2, &envs, protocol);
    assert_eq!(one.0.len(), 5 * 2 * 2 * 2);
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&one.0), bits(&two.0));
    assert_eq!(one.1, two.1);
}

#[test]
fn sampling_is_keyed_by_seed_generation_and_member() {
    let model = ModelConfig::default();
    let envs = [envs::info("Acrobot-v1").unwrap()];
    let protocol = Protocol {
        episodes: 8,
        mode: EpisodeMode::FixedHorizon,
    };
    let sampler = Sampler {
        model: &model,
        topology: &Topology::default(),
        envs: &envs,
        protocol,
        repeats: 1,
        seed: 5,
    };
    let a = sampler.generation(7, 4);
    assert_eq!(a, sampler.generation(7, 4));
    // A larger population draws the same lifetimes for the members both have.
    assert_eq!(a[..], sampler.generation(7, 6)[..4]);
    assert_ne!(a[0], sampler.generation(8, 4)[0]);
    assert_ne!(a[0], a[1]);
    let info = envs[0];
    assert_eq!(a[0].reset_count(info), 8 * (1 + info.max_dones_per_horizon));
    assert!(a[0].synapse_init.iter().all(|v| (-0.1..0.1).contains(v)));
}

/// One CartPole lifetime of one genome in either episode mode.
fn cartpole_lifetime(mode: EpisodeMode, genome: &[f32]) -> (Vec<f64>, u64) {
    let model = ModelConfig::default();
    let info = envs::info("CartPole-v1").unwrap();
    let protocol = Protocol { episodes: 3, mode };
    // Both modes draw from the same stream: episode starts come first in the pool.
    let input = Sampler {
        model: &model,
        topology: &Topology::default(),
        envs: &[info],
        protocol: Protocol {
            episodes: 3,
            mode: EpisodeMode::FixedHorizon,
        },
        repeats: 1,
        seed: 1,
    }
    .generation(0, 1)
    .remove(0);
    let params = Params::<f32>::from_flat(&GenomeLayout::new(model), genome);
    let mut returns = vec![0.0; 3];
    let steps = run_lifetime(
        &params,
        &model,
        info,
        &input,
        protocol,
        &mut returns,
        &mut (),
    )
    .env_steps;
    (returns, steps)
}

#[test]
fn fixed_horizon_runs_every_step_and_counts_only_the_first_sub_episode() {
    for seed in 0..4 {
        let genome = random_genomes(1, 100 + seed);
        let (fixed, fixed_steps) = cartpole_lifetime(EpisodeMode::FixedHorizon, &genome);
        let (stop, stop_steps) = cartpole_lifetime(EpisodeMode::StopOnDone, &genome);
        assert_eq!(
            fixed_steps,
            3 * 500,
            "the network acts for the whole horizon"
        );
        // CartPole pays 1 per step up to and including the first done.
        assert_eq!(stop_steps as f64, stop.iter().sum::<f64>());
        assert!(fixed.iter().all(|&r| (1.0..=500.0).contains(&r)));
        // Until the first done both modes are the same computation.
        assert_eq!(fixed[0], stop[0]);
    }
}

#[test]
fn continuous_control_lifetimes_stay_in_bounds() {
    let model = ModelConfig::default();
    for name in ["Pendulum-v1", "MountainCarContinuous-v0"] {
        let info = envs::info(name).unwrap();
        let protocol = Protocol {
            episodes: 2,
            mode: EpisodeMode::FixedHorizon,
        };
        let sampler = Sampler {
            model: &model,
            topology: &Topology::default(),
            envs: &[info],
            protocol,
            repeats: 1,
            seed: 3,
        };
        let input = sampler.generation(0, 1).remove(0);
        let params = Params::<f32>::from_flat(&GenomeLayout::new(model), &random_genomes(1, 4));
        let mut returns = vec![0.0; 2];
        let steps = run_lifetime(
            &params,
            &model,
            info,
            &input,
            protocol,
            &mut returns,
            &mut (),
        )
        .env_steps;
        assert_eq!(steps, 2 * info.horizon as u64);
        for r in returns {
            assert!(r.is_finite(), "{name}: return {r}");
            // Pendulum costs at most π² + 0.1·8² + 0.001·2² per step; MountainCarContinuous at
            // most 0.1 per step plus the 100 goal bonus.
            let (lo, hi) = match name {
                "Pendulum-v1" => (-16.3 * 200.0, 0.0),
                _ => (-0.1 * 999.0, 100.0),
            };
            assert!((lo..=hi).contains(&r), "{name}: return {r}");
        }
    }
}

#[test]
fn growing_synapse_states_go_non_finite_without_panicking_and_act_like_jnp_argmax() {
    let model = ModelConfig::default();
    let layout = GenomeLayout::new(model);
    let mut genome = random_genomes(1, 77);
    // A huge plasticity rate makes |e| grow by up to (1 + 0.01·λ) per step.
    *genome.last_mut().unwrap() = 400.0;
    let params = Params::<f32>::from_flat(&layout, &genome);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
    let wiring = Wiring::sample(32, 4, 2, 3, &Topology::default(), &mut rng);
    let init = vec![0.05f32; wiring.edges.len() * 4];
    let mut net = Network::new(&wiring, Readout::Discrete { actions: 2 }, 4, 3, &init);
    let mut saw_nan_outputs = false;
    for t in 0..4000 {
        let obs = [0.01 * (t % 7) as f32, -0.02, 0.03, 0.0];
        let Decision::Discrete(action) = net.step(&params, &obs) else {
            panic!("discrete readout");
        };
        net.set_reward(1.0);
        let outputs = net.action_outputs();
        if let Some(first_nan) = outputs.iter().position(|v| v.is_nan()) {
            saw_nan_outputs = true;
            assert_eq!(
                action, first_nan,
                "NaN counts as the maximum, first one wins"
            );
        }
    }
    assert!(
        net.synapse_states().iter().any(|v| !v.is_finite()),
        "states should have overflowed"
    );
    assert!(saw_nan_outputs);
}

fn small_spec(strategy: &str) -> JobSpec {
    JobSpec::from_json(&format!(
        r#"{{
            "envs": ["CartPole-v1", "MountainCar-v0"],
            "lifetime": {{"episodes": 2, "episode_mode": "stop_on_done", "combine": "mean"}},
            "strategy": {{"name": "{strategy}", "popsize": 8}},
            "generations": 30,
            "seed": 12
        }}"#
    ))
    .unwrap()
}

#[test]
fn a_resumed_run_is_bit_identical_to_an_uninterrupted_one() {
    for strategy in ["cma_es", "snes"] {
        let executor = CpuExecutor::new(2).unwrap();
        let spec = small_spec(strategy);
        let mut straight = Evolution::new(spec.clone(), None).unwrap();
        let mut history = Vec::new();
        while straight.stop_reason().is_none() {
            history.push(straight.step(&executor).unwrap());
        }
        assert_eq!(history.len(), 30);

        let mut first = Evolution::new(spec.clone(), None).unwrap();
        let mut resumed_history = Vec::new();
        for _ in 0..15 {
            resumed_history.push(first.step(&executor).unwrap());
        }
        let saved = serde_json::to_string(first.checkpoint()).unwrap();
        drop(first);
        let mut second = Evolution::from_checkpoint(spec, serde_json::from_str(&saved).unwrap());
        while second.stop_reason().is_none() {
            resumed_history.push(second.step(&executor).unwrap());
        }

        for (a, b) in history.iter().zip(&resumed_history) {
            let key = |r: &sfnn::evolution::GenerationRecord| {
                (
                    r.generation,
                    r.fitness.best.to_bits(),
                    r.fitness.mean.to_bits(),
                    r.fitness.worst.to_bits(),
                    r.best_so_far.to_bits(),
                    r.sigma.to_bits(),
                    r.env_steps,
                )
            };
            assert_eq!(key(a), key(b), "{strategy}, generation {}", a.generation);
        }
        assert_eq!(straight.mean_genome(), second.mean_genome());
        assert_eq!(straight.best(), second.best());
    }
}

#[test]
fn stop_rules_end_the_run() {
    let executor = CpuExecutor::new(2).unwrap();
    let mut spec = small_spec("cma_es");
    spec.stop.stagnation_generations = Some(2);
    let mut run = Evolution::new(spec.clone(), None).unwrap();
    while run.stop_reason().is_none() {
        run.step(&executor).unwrap();
    }
    assert!(run.generation() < 30, "stagnation should stop early");
    assert_eq!(
        run.stop_reason(),
        Some(sfnn::evolution::StopReason::Stagnation)
    );

    spec.stop = Default::default();
    spec.stop.target_fitness = Some(f64::MIN);
    let mut run = Evolution::new(spec, None).unwrap();
    run.step(&executor).unwrap();
    assert_eq!(
        run.stop_reason(),
        Some(sfnn::evolution::StopReason::TargetFitness)
    );
}

#[test]
fn a_warm_started_run_begins_at_the_given_mean() {
    let spec = small_spec("cma_es");
    let mean: Vec<f64> = (0..565).map(|i| i as f64 * 1e-3).collect();
    let run = Evolution::new(spec.clone(), Some(&mean)).unwrap();
    let expected: Vec<f32> = mean.iter().map(|&v| v as f32).collect();
    assert_eq!(run.mean_genome(), expected);
    let err = Evolution::new(spec, Some(&mean[..10])).err().unwrap();
    assert_eq!(err.field, "init_genome");
}

/// Lifetimes at an environment's floor all return the same, whatever they do; their digests
/// still tell them apart, and stay the same for the same request on any number of threads.
#[test]
fn digests_see_actions_that_equal_returns_hide() {
    use sfnn::exec::{CpuExecutor, EvalRequest, Executor, Sampler};
    let model = ModelConfig::default();
    let envs = [sfnn::envs::info("MountainCar-v0").unwrap()];
    let protocol = Protocol {
        episodes: 1,
        mode: EpisodeMode::FixedHorizon,
    };
    let members = 8;
    let lifetimes = Sampler {
        model: &model,
        topology: &sfnn::model::Topology::default(),
        envs: &envs,
        protocol,
        repeats: 1,
        seed: 5,
    }
    .generation(0, members);
    let genomes: Vec<f32> = (0..members * model.param_count())
        .map(|i| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * 0.5)
        .collect();
    let request = EvalRequest {
        model,
        envs: &envs,
        protocol,
        genomes: &genomes,
        repeats: 1,
        lifetimes: &lifetimes,
    };
    let one = CpuExecutor::new(1).unwrap().evaluate(&request).unwrap();
    let two = CpuExecutor::new(2).unwrap().evaluate(&request).unwrap();
    // Everything but the CPU time it took.
    assert_eq!(
        (&one.returns, one.env_steps, &one.digests),
        (&two.returns, two.env_steps, &two.digests)
    );
    assert!(one.cpu_seconds > 0.0 && two.cpu_seconds > 0.0);
    // Random genomes never reach the flag: every return is the floor...
    assert!(
        one.returns.iter().all(|&r| r == -200.0),
        "{:?}",
        one.returns
    );
    // ...yet every lifetime acted (and learned) differently.
    let mut digests = one.digests.clone();
    digests.sort_unstable();
    digests.dedup();
    assert_eq!(digests.len(), members);
}
