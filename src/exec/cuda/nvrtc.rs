//! Compiling the kernels with NVRTC, which needs no GPU: the library (from the CUDA toolkit or
//! the pinned `nvidia-cuda-nvrtc` wheel) turns a kernel source into a cubin for one
//! architecture, and its built-in ptxas reports each kernel's registers and spills.
//!
//! The sources are embedded in the binary; their `#include "…"`s are served from the same
//! embedded set through NVRTC's header arrays, so nothing is read from disk at run time.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString, c_char, c_int};
use std::sync::OnceLock;

/// Every kernel source and header, by the name `#include` uses.
pub const SOURCES: [(&str, &str); 3] = [
    ("sfnn.cu", include_str!("../../../kernels/sfnn.cu")),
    ("math.cuh", include_str!("../../../kernels/math.cuh")),
    ("envs.cuh", include_str!("../../../kernels/envs.cuh")),
];

/// The sources that hold kernels (the rest are headers).
pub const KERNEL_SOURCES: [&str; 1] = ["sfnn.cu"];

/// The NVRTC major version the bindings are pinned to (`cuda-13000`).
pub const NVRTC_MAJOR: i32 = 13;

#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("NVRTC is not available: {0}")]
    Unavailable(String),
    #[error("{file}: NVRTC failed ({status}) with options {options:?}:\n{log}")]
    Failed {
        file: String,
        status: String,
        options: Vec<String>,
        log: String,
    },
}

/// What ptxas reported for one kernel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelReport {
    pub registers: u32,
    pub stack_bytes: u32,
    pub spill_store_bytes: u32,
    pub spill_load_bytes: u32,
}

/// A compiled program: the cubin, NVRTC's log, and ptxas' report per kernel.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub cubin: Vec<u8>,
    pub log: String,
    pub kernels: BTreeMap<String, KernelReport>,
}

/// Loads libnvrtc once per process and checks its version. `NVRTC_LIB_DIR` (a directory holding
/// `libnvrtc.so.13` and `libnvrtc-builtins.so.13.*`) is tried first; otherwise the loader's
/// search path. Never panics: a missing library is an error.
pub fn nvrtc_version() -> Result<(i32, i32), CompileError> {
    static VERSION: OnceLock<Result<(i32, i32), String>> = OnceLock::new();
    VERSION
        .get_or_init(|| {
            preload_from_dir()?;
            // SAFETY: only tries to dlopen the library by its usual names.
            if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
                return Err(
                    "libnvrtc not found (set NVRTC_LIB_DIR to the directory holding \
                            libnvrtc.so.13, or add it to LD_LIBRARY_PATH)"
                        .into(),
                );
            }
            let version = std::panic::catch_unwind(|| {
                let (mut major, mut minor): (c_int, c_int) = (0, 0);
                // SAFETY: the library is present; the call writes two ints.
                let status = unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut major, &mut minor) };
                (status, major, minor)
            })
            .map_err(|_| "loading libnvrtc failed (missing symbol?)".to_string())?;
            let (status, major, minor) = version;
            if status != cudarc::nvrtc::sys::nvrtcResult::NVRTC_SUCCESS {
                return Err(format!("nvrtcVersion failed: {status:?}"));
            }
            if major != NVRTC_MAJOR {
                return Err(format!(
                    "found NVRTC {major}.{minor}, but this build needs NVRTC {NVRTC_MAJOR}.x"
                ));
            }
            Ok((major, minor))
        })
        .clone()
        .map_err(CompileError::Unavailable)
}

/// Recipe B of the toolchain notes: dlopen the builtins first, then libnvrtc itself, by full
/// path, and keep them loaded; cudarc's later dlopen by bare name then finds them by SONAME.
fn preload_from_dir() -> Result<(), String> {
    let Some(dir) = std::env::var_os("NVRTC_LIB_DIR") else {
        return Ok(());
    };
    let dir = std::path::PathBuf::from(dir);
    let entries =
        std::fs::read_dir(&dir).map_err(|e| format!("NVRTC_LIB_DIR={}: {e}", dir.display()))?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("libnvrtc") && !n.ends_with(".alt") && n.contains(".so"))
        .collect();
    // Builtins first: libnvrtc opens them by name when it compiles.
    names.sort_by_key(|n| (!n.starts_with("libnvrtc-builtins"), n.clone()));
    let wanted = format!("libnvrtc.so.{NVRTC_MAJOR}");
    let mut found = false;
    for name in names {
        let is_main = name == wanted;
        if !(is_main || name.starts_with(&format!("libnvrtc-builtins.so.{NVRTC_MAJOR}"))) {
            continue;
        }
        let path = dir.join(&name);
        // SAFETY: loading NVRTC runs no initialisers with preconditions.
        let library = unsafe { libloading::Library::new(&path) }
            .map_err(|e| format!("cannot load {}: {e}", path.display()))?;
        // Kept for the life of the process (cudarc holds raw symbols from it).
        std::mem::forget(library);
        found |= is_main;
    }
    if found {
        Ok(())
    } else {
        Err(format!("NVRTC_LIB_DIR={} holds no {wanted}", dir.display()))
    }
}

/// The NVRTC options every kernel is built with. `arch` is e.g. `sm_90`.
pub fn options(arch: &str, msg_dims: usize) -> Vec<String> {
    vec![
        format!("--gpu-architecture={arch}"),
        // The CPU code never fuses a multiply and an add; neither may the GPU.
        "--fmad=false".into(),
        // The CPU runs lifetimes with FTZ/DAZ on.
        "--ftz=true".into(),
        "--prec-div=true".into(),
        "--prec-sqrt=true".into(),
        "--std=c++17".into(),
        format!("-DSFNN_D={msg_dims}"),
        "--ptxas-options=-v".into(),
    ]
}

/// Compiles the embedded source `file` (one of [`KERNEL_SOURCES`]) to a cubin.
pub fn compile_embedded(file: &str, arch: &str, msg_dims: usize) -> Result<Compiled, CompileError> {
    let source = SOURCES
        .iter()
        .find(|(name, _)| *name == file)
        .map(|(_, text)| *text)
        .ok_or_else(|| CompileError::Unavailable(format!("no kernel source {file}")))?;
    compile(file, source, &options(arch, msg_dims))
}

/// Compiles `source` (named `file` in diagnostics) with the embedded headers available.
pub fn compile(file: &str, source: &str, options: &[String]) -> Result<Compiled, CompileError> {
    use cudarc::nvrtc::{result, sys};
    nvrtc_version()?;
    let failed = |status: String, log: String| CompileError::Failed {
        file: file.to_string(),
        status,
        options: options.to_vec(),
        log,
    };
    let c_source = CString::new(source).map_err(|e| failed(e.to_string(), String::new()))?;
    let c_name = CString::new(file).map_err(|e| failed(e.to_string(), String::new()))?;
    let headers: Vec<(CString, CString)> = SOURCES
        .iter()
        .filter(|(name, _)| name.ends_with(".cuh"))
        .map(|(name, text)| {
            (
                CString::new(*text).expect("no NUL in kernel headers"),
                CString::new(*name).expect("no NUL in header names"),
            )
        })
        .collect();
    let header_texts: Vec<*const c_char> = headers.iter().map(|(t, _)| t.as_ptr()).collect();
    let header_names: Vec<*const c_char> = headers.iter().map(|(_, n)| n.as_ptr()).collect();
    let mut program = std::mem::MaybeUninit::uninit();
    // SAFETY: every pointer refers to a live NUL-terminated string; the arrays hold
    // `headers.len()` entries.
    let status = unsafe {
        sys::nvrtcCreateProgram(
            program.as_mut_ptr(),
            c_source.as_ptr(),
            c_name.as_ptr(),
            headers.len() as c_int,
            header_texts.as_ptr(),
            header_names.as_ptr(),
        )
    };
    if status != sys::nvrtcResult::NVRTC_SUCCESS {
        return Err(failed(format!("{status:?}"), String::new()));
    }
    // SAFETY: the program was just created.
    let program = unsafe { program.assume_init() };
    // SAFETY: `program` is valid until destroyed at the end of this block.
    let outcome = unsafe {
        let compiled = result::compile_program(program, options);
        let log = result::get_program_log(program)
            .map(|raw| c_chars_to_string(&raw))
            .unwrap_or_default();
        match compiled {
            Err(e) => Err(failed(format!("{:?}", e.0), log)),
            Ok(()) => cubin(program)
                .map(|cubin| (cubin, log.clone()))
                .map_err(|status| failed(status, log)),
        }
    };
    // SAFETY: destroyed once, after its last use.
    let _ = unsafe { result::destroy_program(program) };
    let (cubin, log) = outcome?;
    let kernels = parse_ptxas_report(&log);
    Ok(Compiled {
        cubin,
        log,
        kernels,
    })
}

/// The cubin of a compiled program.
///
/// # Safety
/// `program` must be a valid, successfully compiled NVRTC program.
unsafe fn cubin(program: cudarc::nvrtc::sys::nvrtcProgram) -> Result<Vec<u8>, String> {
    use cudarc::nvrtc::sys;
    let mut size = 0usize;
    // SAFETY: per the function's contract.
    let status = unsafe { sys::nvrtcGetCUBINSize(program, &mut size) };
    if status != sys::nvrtcResult::NVRTC_SUCCESS {
        return Err(format!("nvrtcGetCUBINSize: {status:?}"));
    }
    if size == 0 {
        return Err(
            "NVRTC produced no cubin (was a virtual compute_XX architecture given?)".into(),
        );
    }
    let mut bytes = vec![0u8; size];
    // SAFETY: `bytes` has room for `size` bytes.
    let status = unsafe { sys::nvrtcGetCUBIN(program, bytes.as_mut_ptr() as *mut c_char) };
    if status != sys::nvrtcResult::NVRTC_SUCCESS {
        return Err(format!("nvrtcGetCUBIN: {status:?}"));
    }
    Ok(bytes)
}

fn c_chars_to_string(raw: &[c_char]) -> String {
    let bytes: Vec<u8> = raw.iter().map(|&c| c as u8).collect();
    CStr::from_bytes_until_nul(&bytes)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned())
}

/// Reads ptxas' verbose report: for each function, `N bytes stack frame, S bytes spill stores,
/// L bytes spill loads` and `Used R registers`.
pub fn parse_ptxas_report(log: &str) -> BTreeMap<String, KernelReport> {
    let mut reports: BTreeMap<String, KernelReport> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in log.lines() {
        if let Some(rest) = line.split("Compiling entry function '").nth(1) {
            current = rest.split('\'').next().map(str::to_string);
        } else if let Some(rest) = line.split("Function properties for ").nth(1) {
            current = Some(rest.trim().trim_matches('\'').to_string());
        }
        let Some(name) = current.clone() else {
            continue;
        };
        let number_before = |marker: &str| -> Option<u32> {
            let head = line.split(marker).next()?;
            head.split(|c: char| !c.is_ascii_digit())
                .rfind(|s| !s.is_empty())?
                .parse()
                .ok()
        };
        if line.contains("bytes spill stores") {
            let report = reports.entry(name.clone()).or_default();
            report.stack_bytes = number_before("bytes stack frame").unwrap_or(0);
            report.spill_store_bytes = number_before("bytes spill stores").unwrap_or(0);
            report.spill_load_bytes = number_before("bytes spill loads").unwrap_or(0);
        }
        if line.contains("Used ") && line.contains(" registers") {
            let registers = line
                .split("Used ")
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            reports.entry(name).or_default().registers = registers;
        }
    }
    reports
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_registers_and_spills_from_a_ptxas_log() {
        let log = "ptxas info    : 0 bytes gmem\n\
            ptxas info    : Compiling entry function 'sfnn_lifetimes' for 'sm_90'\n\
            ptxas info    : Function properties for sfnn_lifetimes\n\
            \x20   16 bytes stack frame, 8 bytes spill stores, 12 bytes spill loads\n\
            ptxas info    : Used 72 registers, used 1 barriers, 16 bytes cumulative stack size\n";
        let reports = parse_ptxas_report(log);
        assert_eq!(
            reports["sfnn_lifetimes"],
            KernelReport {
                registers: 72,
                stack_bytes: 16,
                spill_store_bytes: 8,
                spill_load_bytes: 12,
            }
        );
    }

    #[test]
    fn options_disable_fma_and_flush_denormals() {
        let o = options("sm_80", 4);
        assert!(o.contains(&"--fmad=false".to_string()));
        assert!(o.contains(&"--ftz=true".to_string()));
        assert!(o.contains(&"--gpu-architecture=sm_80".to_string()));
    }
}
