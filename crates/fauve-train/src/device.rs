//! Opening a GPU device with an error, not a panic, when it cannot be used.

#[cfg(feature = "cuda")]
pub use cuda::cuda;

#[cfg(feature = "cuda")]
mod cuda {
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
}
