//! Opening a GPU device with an error, not a panic, when it cannot be used.

#[cfg(feature = "cuda")]
pub use cuda::{cuda, kernel_cache_dir};

#[cfg(feature = "cuda")]
mod cuda {
    use std::path::PathBuf;
    use std::sync::{Arc, Mutex};

    use anyhow::{Result, bail};
    use burn::prelude::*;

    /// CUDA device `index`, checked by running one tiny op on it.
    ///
    /// burn-cuda reports a missing driver, GPU or NVRTC by panicking on its device thread
    /// (then on ours, when the reply never comes). The probe catches that here, once, and
    /// turns the first panic message into an error; the panic hook is silenced meanwhile so
    /// the user sees one line instead of two backtraces.
    pub fn cuda(index: usize) -> Result<Device> {
        keep_kernels_between_runs();
        let device = Device::cuda(index);
        let first_message = Arc::new(Mutex::new(None::<String>));
        let previous_hook = std::panic::take_hook();
        {
            let first_message = first_message.clone();
            std::panic::set_hook(Box::new(move |info| {
                let mut slot = first_message.lock().unwrap_or_else(|e| e.into_inner());
                slot.get_or_insert_with(|| {
                    info.payload_as_str().unwrap_or("(no message)").to_owned()
                });
            }));
        }
        let probe = std::panic::catch_unwind(|| Tensor::<1>::ones([1], &device).into_data());
        std::panic::set_hook(previous_hook);
        if probe.is_err() {
            let message = first_message
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            bail!(
                "--device cuda: CUDA device {index} cannot be used: {}",
                message.unwrap_or_else(|| "unknown error".to_owned())
            );
        }
        Ok(device)
    }

    /// Points cubecl's on-disk store of autotune results and compiled kernels at
    /// [`kernel_cache_dir`], and turns the compiled-kernel half on (cubecl leaves it off).
    ///
    /// Autotuning a training step took 12 minutes on an H100 (session 7), nearly all of it
    /// NVRTC compiling candidate kernels while the GPU idled, and it was redone by every new
    /// process. With both halves on disk a later run only looks them up. cubecl's own default
    /// is `target/environment` under the outermost Cargo.toml above the working directory,
    /// which moves with wherever fauve happens to be started.
    ///
    /// A cubecl.toml and the `CUBECL_*` variables are read first, so they still apply; must run
    /// before cubecl reads its configuration (the first device), else it changes nothing.
    fn keep_kernels_between_runs() {
        use cubecl_runtime::config::{CubeClRuntimeConfig, RuntimeConfig, cache::CacheConfig};

        let Some(dir) = kernel_cache_dir() else {
            return;
        };
        let mut config = CubeClRuntimeConfig::from_current_dir().override_from_env();
        config.compilation.cache = true;
        config.environment.path = CacheConfig::Directory(dir.clone());
        if CubeClRuntimeConfig::try_set(config) {
            tracing::info!(dir = %dir.display(), "tuned and compiled GPU kernels are kept in");
        }
    }

    /// `FAUVE_KERNEL_CACHE`, else `$XDG_CACHE_HOME/fauve/kernels`, else
    /// `~/.cache/fauve/kernels`; `None` (cubecl's default) when no variable names a place.
    pub fn kernel_cache_dir() -> Option<PathBuf> {
        let var = |name| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        var("FAUVE_KERNEL_CACHE")
            .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("fauve").join("kernels")))
            .or_else(|| var("HOME").map(|d| d.join(".cache").join("fauve").join("kernels")))
    }
}
