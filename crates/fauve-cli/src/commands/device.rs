//! `--device cpu|cuda` for the burn side (training, export, optimisation).

use anyhow::Result;
use fauve_train::transformer::Device;

#[derive(clap::Args, Clone, Debug)]
pub struct DeviceArg {
    /// Where burn computes: `cpu` (burn-flex) or `cuda` (needs a build with `--features cuda`).
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "cuda"])]
    device: String,
}

impl DeviceArg {
    /// burn-flex on this machine's cores.
    pub fn is_cpu(&self) -> bool {
        self.device == "cpu"
    }

    pub fn burn_device(&self) -> Result<Device> {
        match self.device.as_str() {
            #[cfg(feature = "cuda")]
            "cuda" => fauve_train::device::cuda(0),
            #[cfg(not(feature = "cuda"))]
            "cuda" => anyhow::bail!(
                "--device cuda: this fauve was built without CUDA; rebuild with `cargo build --release --features cuda`"
            ),
            _ => Ok(Device::flex()),
        }
    }
}
