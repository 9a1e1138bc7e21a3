//! Every kernel compiles with NVRTC for sm_80 and sm_90 without spilling registers; no GPU needed.
//!
//! Needs libnvrtc 13 (the `nvidia-cuda-nvrtc==13.0.88` wheel, found through `NVRTC_LIB_DIR`, or a
//! toolkit on the loader path). Without it the tests print SKIP and pass, unless
//! `REQUIRE_NVRTC=1` (CI), in which case they fail.
#![cfg(feature = "cuda")]

use sfnn::exec::cuda::nvrtc::{self, CompileError};

const ARCHS: [&str; 2] = ["sm_80", "sm_90"];

/// Message widths compiled: the reference (4) and the extremes the model allows.
const WIDTHS: [usize; 3] = [1, 4, 16];

fn nvrtc_or_skip() -> bool {
    match nvrtc::nvrtc_version() {
        Ok((major, minor)) => {
            println!("NVRTC {major}.{minor}");
            true
        }
        Err(e) => {
            assert!(
                std::env::var("REQUIRE_NVRTC").as_deref() != Ok("1"),
                "REQUIRE_NVRTC=1 but {e}"
            );
            eprintln!("SKIP: {e}");
            false
        }
    }
}

#[test]
fn every_kernel_compiles_for_sm80_and_sm90_without_spills() {
    if !nvrtc_or_skip() {
        return;
    }
    let mut failures = Vec::new();
    for file in nvrtc::KERNEL_SOURCES {
        for arch in ARCHS {
            for d in WIDTHS {
                let compiled = match nvrtc::compile_embedded(file, arch, d) {
                    Ok(c) => c,
                    Err(e) => {
                        failures.push(format!("{e}"));
                        continue;
                    }
                };
                assert!(!compiled.cubin.is_empty());
                assert!(
                    !compiled.kernels.is_empty(),
                    "{file} {arch}: no ptxas report in the log:\n{}",
                    compiled.log
                );
                for (kernel, report) in &compiled.kernels {
                    println!(
                        "{file} {arch} d={d}: {kernel}: {} registers, {} bytes stack, \
                         {} / {} bytes spill stores / loads",
                        report.registers,
                        report.stack_bytes,
                        report.spill_store_bytes,
                        report.spill_load_bytes
                    );
                    assert!(report.registers > 0, "{kernel}: no register count parsed");
                    if report.spill_store_bytes > 0 || report.spill_load_bytes > 0 {
                        failures.push(format!("{file} {arch} d={d}: {kernel} spills: {report:?}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_broken_kernel_fails_with_the_file_name_and_the_diagnostic() {
    if !nvrtc_or_skip() {
        return;
    }
    let broken = "#include \"math.cuh\"\nextern \"C\" __global__ void k(float* x) { x[0] = sfnn::tanh_f32(x[0]) }\n";
    let err = nvrtc::compile("broken.cu", broken, &nvrtc::options("sm_90", 4))
        .expect_err("a missing semicolon must not compile");
    let CompileError::Failed { file, log, .. } = &err else {
        panic!("unexpected error {err}");
    };
    assert_eq!(file, "broken.cu");
    let message = err.to_string();
    assert!(message.contains("broken.cu"), "{message}");
    assert!(log.contains("error"), "{log}");
}

#[test]
fn the_embedded_headers_resolve_and_a_missing_one_is_reported() {
    if !nvrtc_or_skip() {
        return;
    }
    let uses_envs = "#include \"envs.cuh\"\nextern \"C\" __global__ void k(float* x) { \
                     sfnn::Env e; e.id = 0; e.elapsed = 0; sfnn::env_reset_to(e, x, x); }\n";
    let compiled = nvrtc::compile("uses_envs.cu", uses_envs, &nvrtc::options("sm_80", 4)).unwrap();
    assert!(compiled.kernels.contains_key("k"), "{:?}", compiled.kernels);
    let missing = "#include \"nowhere.cuh\"\n";
    let err = nvrtc::compile("missing.cu", missing, &nvrtc::options("sm_80", 4)).unwrap_err();
    assert!(err.to_string().contains("nowhere.cuh"), "{err}");
}
