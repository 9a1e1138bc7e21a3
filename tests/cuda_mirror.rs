//! The device code's float32 math and environment dynamics (`kernels/math.cuh`,
//! `kernels/envs.cuh`) compiled as plain C++ with g++ and compared bit for bit with the Rust
//! implementations the CPU executor uses. This needs no GPU: it checks that the CUDA port
//! mirrors the CPU operation for operation (same constants, same grouping, no contraction),
//! which is what the GPU parity tests then rely on.
//!
//! Skips (prints SKIP) without g++, unless `REQUIRE_GXX=1`, as CI sets.

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sfnn::envs::{self, Action, ActionSpace};
use sfnn::num::{FlushDenormals, Real, cos_f32, sin_f32, tanh_f32};
use std::path::{Path, PathBuf};
use std::process::Command;

fn kernels_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("kernels")
}

/// Builds the harness, or returns None (SKIP) when there is no g++ and it is not required.
fn build_harness(dir: &Path) -> Option<PathBuf> {
    let exe = dir.join("harness");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mirror/harness.cpp");
    let output = Command::new(std::env::var("CXX").unwrap_or_else(|_| "g++".into()))
        .args([
            "-std=c++17",
            "-O2",
            "-ffp-contract=off",
            "-fno-fast-math",
            "-Wall",
        ])
        .arg("-I")
        .arg(kernels_dir())
        .arg(&source)
        .arg("-o")
        .arg(&exe)
        .output();
    match output {
        Ok(out) if out.status.success() => Some(exe),
        Ok(out) => panic!(
            "g++ failed to compile the device code as C++:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            assert!(
                std::env::var("REQUIRE_GXX").as_deref() != Ok("1"),
                "REQUIRE_GXX=1 but g++ cannot run: {e}"
            );
            eprintln!("SKIP: no g++ ({e})");
            None
        }
    }
}

fn push_u32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn push_f32(buf: &mut Vec<u8>, v: f32) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn math_arguments(rng: &mut ChaCha8Rng) -> Vec<f32> {
    let mut xs = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::MIN_POSITIVE,
        1e-40,
        -1e-40,
        7.905_311,
        7.905_312,
        -7.905_311,
        0.0004,
        f32::from_bits(0.0004f32.to_bits() - 1),
        88.722_83,
        88.8,
        -87.336_55,
        -87.4,
        8192.0,
        8192.001,
        std::f32::consts::FRAC_PI_4,
        std::f32::consts::PI,
        -std::f32::consts::PI,
        1e30,
        -1e30,
    ];
    // A dense grid where the environments and the network live, then random magnitudes.
    xs.extend((-40_000..=40_000).map(|i| i as f32 * 2.5e-3));
    xs.extend((0..40_000).map(|_| {
        let magnitude = 10f32.powf(rng.random_range(-12.0f32..4.0));
        if rng.random::<bool>() {
            magnitude
        } else {
            -magnitude
        }
    }));
    xs.extend((0..20_000).map(|_| f32::from_bits(rng.next_u32())));
    xs
}

struct EnvRun {
    id: usize,
    resets: Vec<f32>,
    actions: Vec<(i32, f32)>,
}

fn env_runs(rng: &mut ChaCha8Rng) -> Vec<EnvRun> {
    let mut runs = Vec::new();
    for (id, info) in envs::all().into_iter().enumerate() {
        let env = envs::make::<f32>(info.name).unwrap();
        for _ in 0..4 {
            let pool = 64;
            let mut resets = vec![0.0f32; pool * info.state_dim];
            for state in resets.chunks_exact_mut(info.state_dim) {
                env.sample_reset_state(rng, state);
            }
            // Long runs with sticky random actions, so episodes both fail and run to the limit.
            let mut actions = Vec::new();
            let mut current = (0i32, 0.0f32);
            for _ in 0..3000 {
                if rng.random_range(0..8) == 0 {
                    current = match info.action_space {
                        ActionSpace::Discrete { n } => (rng.random_range(0..n as i32), 0.0),
                        ActionSpace::Continuous { low, high } => {
                            (0, rng.random_range(low as f32 * 1.5..high as f32 * 1.5))
                        }
                    };
                }
                actions.push(current);
            }
            runs.push(EnvRun {
                id,
                resets,
                actions,
            });
        }
    }
    runs
}

/// What the Rust environments give for the same runs, in the harness' output format.
fn rust_env_outputs(runs: &[EnvRun], out: &mut Vec<u8>) {
    let _flush = FlushDenormals::new();
    for run in runs {
        let info = envs::all()[run.id];
        let dim = info.state_dim;
        let pool = run.resets.len() / dim;
        let mut env = envs::make::<f32>(info.name).unwrap();
        let mut next = 0;
        env.reset_to(&run.resets[(next % pool) * dim..][..dim]);
        next += 1;
        for &(discrete, value) in &run.actions {
            let action = match info.action_space {
                ActionSpace::Discrete { .. } => Action::Discrete(discrete as usize),
                ActionSpace::Continuous { .. } => Action::Continuous(value),
            };
            let step = env.step(action);
            let mut obs = [0.0f32; 6];
            obs[..step.obs.as_slice().len()].copy_from_slice(step.obs.as_slice());
            for v in obs {
                push_f32(out, v);
            }
            push_f32(out, step.reward);
            push_u32(
                out,
                u32::from(step.terminated) | (u32::from(step.truncated) << 1),
            );
            if step.terminated || step.truncated {
                env.reset_to(&run.resets[(next % pool) * dim..][..dim]);
                next += 1;
            }
        }
    }
}

#[test]
fn device_math_and_environments_match_the_cpu_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let Some(harness) = build_harness(dir.path()) else {
        return;
    };
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let xs = math_arguments(&mut rng);
    let runs = env_runs(&mut rng);

    let mut input = Vec::new();
    push_u32(&mut input, xs.len() as u32);
    for &x in &xs {
        push_f32(&mut input, x);
    }
    push_u32(&mut input, runs.len() as u32);
    for run in &runs {
        push_u32(&mut input, run.id as u32);
        push_u32(&mut input, run.actions.len() as u32);
        push_u32(
            &mut input,
            (run.resets.len() / envs::all()[run.id].state_dim) as u32,
        );
        for &v in &run.resets {
            push_f32(&mut input, v);
        }
        for &(a, v) in &run.actions {
            push_u32(&mut input, a as u32);
            push_f32(&mut input, v);
        }
    }
    let (in_path, out_path) = (dir.path().join("in.bin"), dir.path().join("out.bin"));
    std::fs::write(&in_path, &input).unwrap();
    let status = Command::new(&harness)
        .arg(&in_path)
        .arg(&out_path)
        .status()
        .unwrap();
    assert!(status.success(), "harness failed: {status}");
    let got = std::fs::read(&out_path).unwrap();

    let mut expected = Vec::new();
    {
        let _flush = FlushDenormals::new();
        for &x in &xs {
            for v in [tanh_f32(x), x.sigmoid_model(), sin_f32(x), cos_f32(x)] {
                push_f32(&mut expected, v);
            }
        }
    }
    let math_bytes = expected.len();
    rust_env_outputs(&runs, &mut expected);
    assert_eq!(got.len(), expected.len(), "harness output size");

    let words = |b: &[u8]| -> Vec<u32> {
        b.chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    let (got_math, want_math) = (words(&got[..math_bytes]), words(&expected[..math_bytes]));
    let names = ["tanh", "sigmoid", "sin", "cos"];
    let mismatches: Vec<String> = got_math
        .iter()
        .zip(&want_math)
        .enumerate()
        .filter(|(_, (g, w))| g != w)
        .take(10)
        .map(|(i, (g, w))| {
            format!(
                "{}({:e}): C++ {:e} ({g:#x}), Rust {:e} ({w:#x})",
                names[i % names.len()],
                xs[i / names.len()],
                f32::from_bits(*g),
                f32::from_bits(*w)
            )
        })
        .collect();
    assert!(
        mismatches.is_empty(),
        "math differs:\n{}",
        mismatches.join("\n")
    );

    let (got_env, want_env) = (words(&got[math_bytes..]), words(&expected[math_bytes..]));
    let per_step = 8;
    let mut offset = 0;
    let mut episodes_ended = 0;
    for run in &runs {
        let name = envs::all()[run.id].name;
        for t in 0..run.actions.len() {
            let (g, w) = (
                &got_env[offset..offset + per_step],
                &want_env[offset..offset + per_step],
            );
            assert_eq!(g, w, "{name}, step {t}: C++ {g:x?} vs Rust {w:x?}");
            episodes_ended += usize::from(w[7] != 0);
            offset += per_step;
        }
    }
    // The runs must exercise resets, or the comparison would miss half the protocol.
    assert!(episodes_ended > 40, "only {episodes_ended} episode ends");
    println!(
        "{} math arguments × 5 functions and {} environment steps identical",
        xs.len(),
        offset / per_step
    );
}

/// The GPU forms tanh's p / q with the fast path of its IEEE division alone (math.cuh
/// tanh_quotient). That must round correctly wherever tanh uses the quotient, whatever
/// reciprocal `rcp.approx` returns within its error: every 13th float |x| in range, both signs,
/// and each reciprocal within 2 ulp of 1/q (the PTX ISA bounds rcp.approx by 1 ulp) must give
/// exactly the IEEE quotient. The whole range (stride 1, 1.2 × 10⁹ cases) passed as well.
#[test]
fn tanh_division_fast_path_rounds_like_ieee_division() {
    let dir = tempfile::tempdir().unwrap();
    let Some(harness) = build_harness(dir.path()) else {
        return;
    };
    let out = Command::new(&harness)
        .args(["--tanh-quotient", "13"])
        .output()
        .unwrap();
    assert!(out.status.success(), "harness failed: {}", out.status);
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    let fields: Vec<&str> = last.split_whitespace().collect();
    let (checked, mismatches): (u64, u64) = match fields[..] {
        ["checked", n, "mismatches", m] => (n.parse().unwrap(), m.parse().unwrap()),
        _ => panic!("unexpected harness output: {text}"),
    };
    // 15 binades of 2²³ floats, each sign, 5 reciprocals, every 13th.
    assert!(checked > 90_000_000, "only {checked} cases checked");
    assert_eq!(mismatches, 0, "{text}");
}
