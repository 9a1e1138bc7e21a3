//! The evolved fixture genomes (tests/fixtures/evolved) still mean something: on the CPU
//! executor, with the fixture's seeds, every chosen lifetime leaves its environment's floor (an
//! episode returns strictly more than the floor), in both episode modes. If a change to the model, the
//! environments or the sampler moved them back to the floor, the parity checks that use them
//! (cuda_kernel_emulation, cuda_parity) would silently stop seeing the actions; this fails first.

mod evolved;

use sfnn::exec::{CpuExecutor, EpisodeMode, EvalRequest, Executor};

#[test]
fn every_fixture_lifetime_leaves_its_environment_floor_in_both_modes() {
    let cpu = CpuExecutor::new(0).unwrap();
    let mut failures = Vec::new();
    for fixture in evolved::all() {
        assert_eq!(
            fixture.model,
            sfnn::model::ModelConfig::default(),
            "{}: the fixtures are paper-config genomes",
            fixture.env.name
        );
        for mode in [EpisodeMode::FixedHorizon, EpisodeMode::StopOnDone] {
            let (genomes, lifetimes) = fixture.inputs(mode);
            let envs = [fixture.env];
            let out = cpu
                .evaluate(&EvalRequest {
                    model: fixture.model,
                    envs: &envs,
                    protocol: fixture.protocol(mode),
                    genomes: &genomes,
                    repeats: 1,
                    lifetimes: &lifetimes,
                })
                .unwrap();
            assert_eq!(
                out.returns.len(),
                fixture.lifetimes.len() * fixture.episodes
            );
            for (k, returns) in out.returns.chunks(fixture.episodes).enumerate() {
                println!(
                    "{} {mode:?} lifetime {}: returns {returns:?} (floor {})",
                    fixture.env.name, fixture.lifetimes[k], fixture.floor
                );
                if !returns.iter().any(|&r| r > fixture.floor) {
                    failures.push(format!(
                        "{} {mode:?} lifetime {} (seed {}): returns {returns:?} never exceed \
                         the floor {}",
                        fixture.env.name, fixture.lifetimes[k], fixture.seed, fixture.floor
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "fixture genomes back at the floor (regenerate them as tests/fixtures/evolved/README.md \
         says):\n{}",
        failures.join("\n")
    );
}
