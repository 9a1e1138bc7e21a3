//! The CUDA executor (feature `cuda`): one kernel launch evaluates a whole generation, one thread
//! block per lifetime (`kernels/sfnn.cu`).
//!
//! The CUDA libraries are loaded at run time (cudarc's dynamic loading), so a build with this
//! feature runs on machines without them; [`CudaExecutor::new`] then fails with
//! [`ExecError::Unavailable`]. cudarc panics when a library is missing, so each library's
//! presence is checked before the first call into it, and the first driver calls also run under
//! `catch_unwind`.
//!
//! The kernel is compiled with NVRTC for the device's own architecture the first time a message
//! width is used, once per process.

pub mod nvrtc;
pub mod pack;

use super::{EpisodeMode, EvalOutput, EvalRequest, ExecError, Executor};
use crate::model::GenomeLayout;
use cudarc::driver::{CudaContext, CudaFunction, CudaStream, LaunchConfig, PushKernelArg, sys};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Whether the CUDA driver library can be loaded and initialised (never panics).
pub fn driver_available() -> Result<(), String> {
    static STATE: OnceLock<Result<(), String>> = OnceLock::new();
    STATE
        .get_or_init(|| {
            // SAFETY: only tries to dlopen libcuda by its usual names.
            if !unsafe { sys::is_culib_present() } {
                return Err("no CUDA driver found (libcuda.so could not be loaded)".into());
            }
            match std::panic::catch_unwind(cudarc::driver::result::init) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(format!("the CUDA driver failed to initialise: {e:?}")),
                Err(_) => return Err("the CUDA driver library could not be used".into()),
            }
            // The bindings are CUDA 13.0's; an older driver lacks some of their symbols.
            let mut version = 0;
            // SAFETY: the library is loaded and initialised; the call writes one int.
            let status = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe {
                sys::cuDriverGetVersion(&mut version)
            }))
            .map_err(|_| "the CUDA driver library could not be used".to_string())?;
            if status != sys::CUresult::CUDA_SUCCESS || version < 13000 {
                return Err(format!(
                    "the CUDA driver supports CUDA {}.{}; this build needs 13.0 or newer \
                     (driver 580+)",
                    version / 1000,
                    version % 1000 / 10
                ));
            }
            Ok(())
        })
        .clone()
}

/// Facts about the device the bench needs for its peak-FLOP/s figure.
#[derive(Debug, Clone)]
pub struct DeviceInfo {
    pub name: String,
    pub compute_capability: (i32, i32),
    pub memory_bytes: usize,
    pub multiprocessors: u32,
    pub clock_khz: u32,
    pub max_shared_per_block: usize,
}

impl DeviceInfo {
    /// fp32 peak: SMs × clock (the driver's maximum, i.e. boost) × 128 FP32 lanes per SM × 2
    /// (an FMA counts as two). 128 lanes per SM holds for Ampere GA10x, Ada and Hopper; the A100
    /// (sm_80) has 64. None when the driver reports no clock.
    pub fn fp32_peak_gflops(&self) -> Option<f64> {
        let lanes = if self.compute_capability == (8, 0) {
            64.0
        } else {
            128.0
        };
        (self.clock_khz > 0).then(|| {
            f64::from(self.multiprocessors) * f64::from(self.clock_khz) * 1e3 * lanes * 2.0 / 1e9
        })
    }
}

pub struct CudaExecutor {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    info: DeviceInfo,
    /// Kernels per message width, loaded into this context.
    functions: Mutex<HashMap<usize, Kernels>>,
}

/// The kernel's two entry points (kernels/sfnn.cu): synapse states in shared memory, or in the
/// global scratch area ([`pack::Placement`]).
#[derive(Clone)]
struct Kernels {
    shared: CudaFunction,
    global: CudaFunction,
}

/// Cubins per (architecture, message width), compiled once per process.
fn cubin_for(arch: &str, msg_dims: usize) -> Result<Arc<Vec<u8>>, ExecError> {
    type Cache = Mutex<HashMap<(String, usize), Arc<Vec<u8>>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (arch.to_string(), msg_dims);
    if let Some(cubin) = cache.lock().expect("cubin cache").get(&key) {
        return Ok(cubin.clone());
    }
    let compiled = nvrtc::compile_embedded("sfnn.cu", arch, msg_dims)
        .map_err(|e| ExecError::Unavailable(format!("compiling the CUDA kernel: {e}")))?;
    let cubin = Arc::new(compiled.cubin);
    cache
        .lock()
        .expect("cubin cache")
        .insert(key, cubin.clone());
    Ok(cubin)
}

fn driver_error(what: &str) -> impl Fn(cudarc::driver::DriverError) -> ExecError + '_ {
    move |e| ExecError::Unavailable(format!("{what}: {e:?}"))
}

impl CudaExecutor {
    /// The executor on GPU `ordinal`, or `Unavailable` with the reason (no driver, no device,
    /// no NVRTC, a device too old for NVRTC 13).
    pub fn new(ordinal: usize) -> Result<Self, ExecError> {
        driver_available().map_err(ExecError::Unavailable)?;
        // cudarc panics on a missing symbol; make that an error too.
        std::panic::catch_unwind(|| Self::open(ordinal)).unwrap_or_else(|_| {
            Err(ExecError::Unavailable(
                "the CUDA driver panicked while opening the device".into(),
            ))
        })
    }

    fn open(ordinal: usize) -> Result<Self, ExecError> {
        nvrtc::nvrtc_version().map_err(|e| ExecError::Unavailable(e.to_string()))?;
        let ctx = CudaContext::new(ordinal).map_err(driver_error("no usable CUDA device"))?;
        let attribute = |a| ctx.attribute(a).map_err(driver_error("device attribute"));
        use sys::CUdevice_attribute::*;
        let info = DeviceInfo {
            name: ctx.name().map_err(driver_error("device name"))?,
            compute_capability: ctx
                .compute_capability()
                .map_err(driver_error("compute capability"))?,
            memory_bytes: ctx.total_mem().map_err(driver_error("device memory"))?,
            multiprocessors: attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)? as u32,
            clock_khz: attribute(CU_DEVICE_ATTRIBUTE_CLOCK_RATE)? as u32,
            max_shared_per_block: attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)?
                as usize,
        };
        if info.compute_capability.0 < 7 || info.compute_capability == (7, 0) {
            return Err(ExecError::Unavailable(format!(
                "{} (sm_{}{}) is older than NVRTC 13 supports (sm_75 and newer)",
                info.name, info.compute_capability.0, info.compute_capability.1
            )));
        }
        let stream = ctx.default_stream();
        let executor = CudaExecutor {
            ctx,
            stream,
            info,
            functions: Mutex::new(HashMap::new()),
        };
        // Compile and load the reference width now, so a broken toolchain shows up here.
        executor.kernels(crate::model::ModelConfig::default().msg_dims)?;
        Ok(executor)
    }

    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn arch(&self) -> String {
        let (major, minor) = self.info.compute_capability;
        format!("sm_{major}{minor}")
    }

    fn kernels(&self, msg_dims: usize) -> Result<Kernels, ExecError> {
        let mut functions = self.functions.lock().expect("kernel table");
        if let Some(k) = functions.get(&msg_dims) {
            return Ok(k.clone());
        }
        let cubin = cubin_for(&self.arch(), msg_dims)?;
        let module = self
            .ctx
            .load_module(cudarc::nvrtc::Ptx::from_binary(cubin.as_ref().clone()))
            .map_err(driver_error("loading the kernel"))?;
        let load = |name| {
            module
                .load_function(name)
                .map_err(driver_error("finding the kernel"))
        };
        let kernels = Kernels {
            shared: load("sfnn_lifetimes")?,
            global: load("sfnn_lifetimes_global")?,
        };
        functions.insert(msg_dims, kernels.clone());
        Ok(kernels)
    }
}

impl Executor for CudaExecutor {
    fn name(&self) -> &'static str {
        "cuda"
    }

    fn device(&self) -> String {
        let (major, minor) = self.info.compute_capability;
        format!(
            "{} (sm_{major}{minor}, {:.0} GiB)",
            self.info.name,
            self.info.memory_bytes as f64 / f64::from(1u32 << 30)
        )
    }

    fn peak_gflops(&self) -> Option<f64> {
        self.info.fp32_peak_gflops()
    }

    fn evaluate(&self, request: &EvalRequest) -> Result<EvalOutput, ExecError> {
        let cpu_start = super::cpu_time::thread_seconds();
        let packed = pack::pack(request)?;
        let model = request.model;
        let d = model.msg_dims;
        let params = GenomeLayout::new(model).len();
        let episodes = request.protocol.episodes;
        let lifetimes = packed.lifetimes;
        if lifetimes == 0 {
            return Ok(EvalOutput {
                returns: Vec::new(),
                env_steps: 0,
                digests: Vec::new(),
                cpu_seconds: 0.0,
            });
        }
        let kernels = self.kernels(d)?;

        // Synapse states and the input gates' post parts in shared memory when they fit, else
        // in a global scratch area.
        let sizes = pack::BlockSizes {
            params,
            nodes: model.nodes,
            d,
            types: model.node_types,
            max_edges: packed.max_edges,
        };
        let limit = self.info.max_shared_per_block;
        let Some(placement) = sizes.placement(limit) else {
            let least = sizes.shared_bytes(pack::Placement::StatesAndPostGlobal);
            return Err(ExecError::InvalidRequest(format!(
                "the network needs {least} bytes of shared memory per block; the device has {limit}"
            )));
        };
        let shared = sizes.shared_bytes(placement);
        let function = match placement {
            pack::Placement::Shared => kernels.shared,
            _ => kernels.global,
        };
        if shared > 48 * 1024 {
            function
                .set_attribute(
                    sys::CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                    shared as i32,
                )
                .map_err(driver_error("shared memory size"))?;
        }
        let scratch_len = lifetimes
            .checked_mul(sizes.scratch_floats(placement))
            .ok_or_else(|| ExecError::InvalidRequest("scratch area too large".into()))?
            .max(1);

        let s = &self.stream;
        let upload = driver_error("copying inputs to the GPU");
        let genomes = s.clone_htod(request.genomes).map_err(&upload)?;
        let env_ids = s.clone_htod(&packed.env_ids).map_err(&upload)?;
        let block_lifetimes = s.clone_htod(&packed.block_lifetimes).map_err(&upload)?;
        let node_types = s.clone_htod(&packed.node_types).map_err(&upload)?;
        let edge_offsets = s.clone_htod(&packed.edge_offsets).map_err(&upload)?;
        let nonempty_u16 = |v: &Vec<u16>| if v.is_empty() { vec![0] } else { v.clone() };
        let edge_pre = s
            .clone_htod(&nonempty_u16(&packed.edge_pre))
            .map_err(&upload)?;
        let edge_post = s
            .clone_htod(&nonempty_u16(&packed.edge_post))
            .map_err(&upload)?;
        let in_offsets = s.clone_htod(&packed.in_offsets).map_err(&upload)?;
        let in_edges = s
            .clone_htod(&nonempty_u16(&packed.in_edges))
            .map_err(&upload)?;
        let init = if packed.synapse_init.is_empty() {
            vec![0.0]
        } else {
            packed.synapse_init.clone()
        };
        let synapse_init = s.clone_htod(&init).map_err(&upload)?;
        let reset_offsets = s.clone_htod(&packed.reset_offsets).map_err(&upload)?;
        let resets = s.clone_htod(&packed.resets).map_err(&upload)?;
        let alloc = driver_error("allocating GPU memory");
        let scratch = s.alloc_zeros::<f32>(scratch_len).map_err(&alloc)?;
        let returns = s.alloc_zeros::<f64>(lifetimes * episodes).map_err(&alloc)?;
        let steps = s.alloc_zeros::<u64>(lifetimes).map_err(&alloc)?;
        let digests = s.alloc_zeros::<u64>(lifetimes).map_err(&alloc)?;

        let (param_count, types, nodes) =
            (params as i32, model.node_types as i32, model.nodes as i32);
        let (count, per_member, episodes_arg) = (
            lifetimes as i32,
            packed.lifetimes_per_member as i32,
            episodes as i32,
        );
        let stop_on_done = i32::from(request.protocol.mode == EpisodeMode::StopOnDone);
        let in_global = placement as i32;
        let capacity = packed.max_edges as u32;
        let mut launch = s.launch_builder(&function);
        launch
            .arg(&genomes)
            .arg(&param_count)
            .arg(&types)
            .arg(&nodes)
            .arg(&count)
            .arg(&per_member)
            .arg(&episodes_arg)
            .arg(&stop_on_done)
            .arg(&env_ids)
            .arg(&block_lifetimes)
            .arg(&node_types)
            .arg(&edge_offsets)
            .arg(&edge_pre)
            .arg(&edge_post)
            .arg(&in_offsets)
            .arg(&in_edges)
            .arg(&synapse_init)
            .arg(&reset_offsets)
            .arg(&resets)
            .arg(&scratch)
            .arg(&in_global)
            .arg(&capacity)
            .arg(&returns)
            .arg(&steps)
            .arg(&digests);
        let config = LaunchConfig {
            grid_dim: (lifetimes as u32, 1, 1),
            block_dim: (pack::THREADS, 1, 1),
            shared_mem_bytes: shared as u32,
        };
        // SAFETY: the arguments match the kernel's signature in order and type, and `pack`
        // checked every index the kernel follows (node and edge ids, offsets, pool sizes).
        unsafe { launch.launch(config) }.map_err(driver_error("launching the kernel"))?;
        let download = driver_error("running the kernel");
        let returns = s.clone_dtoh(&returns).map_err(&download)?;
        let steps = s.clone_dtoh(&steps).map_err(&download)?;
        let digests = s.clone_dtoh(&digests).map_err(&download)?;
        // Copies to pageable memory complete before they return, but do not rely on it.
        s.synchronize().map_err(&download)?;
        Ok(EvalOutput {
            returns,
            env_steps: steps.iter().sum(),
            digests,
            cpu_seconds: super::cpu_time::thread_seconds() - cpu_start,
        })
    }
}
