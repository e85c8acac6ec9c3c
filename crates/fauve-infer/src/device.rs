//! `--device cuda` with a fallback: when the requested device cannot be used (a build without
//! the `cuda` feature, no `onnxruntime-gpu`, no CUDA libraries), the model is loaded on the
//! CPU instead and the reason is returned for the caller to show.

use std::path::Path;

use crate::error::InferError;
use crate::model::{Device, SessionOptions, StyleModel};

/// A model and, when it fell back to the CPU, why.
pub struct Loaded {
    pub model: StyleModel,
    /// The device the session runs on.
    pub device: Device,
    /// `Some(message)` when `options.device` could not be used: a sentence naming the device
    /// asked for, the reason and that the run goes on on the CPU.
    pub fallback: Option<String>,
}

/// Loads `path` on `options.device`, or on the CPU if that device is unavailable.
/// Other errors (missing or invalid model, no ONNX Runtime) are returned as they are.
pub fn load_with_fallback(path: &Path, options: &SessionOptions) -> Result<Loaded, InferError> {
    match StyleModel::load(path, options) {
        Ok(model) => Ok(Loaded {
            model,
            device: options.device,
            fallback: None,
        }),
        Err(InferError::Device { device, reason }) if options.device != Device::Cpu => {
            let cpu = SessionOptions {
                device: Device::Cpu,
                ..options.clone()
            };
            let model = StyleModel::load(path, &cpu)?;
            Ok(Loaded {
                model,
                device: Device::Cpu,
                fallback: Some(format!(
                    "--device {device} is not available: {reason}; running on the CPU instead"
                )),
            })
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_models::{image_axes, single_op_model, write};

    #[test]
    fn an_unavailable_cuda_falls_back_to_the_cpu_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "identity.onnx",
            &single_op_model("Identity", &image_axes(), &image_axes(), &[]),
        );
        let options = SessionOptions {
            device: Device::Cuda { device_id: 0 },
            ..SessionOptions::default()
        };
        let loaded = load_with_fallback(&path, &options).unwrap();
        if cfg!(feature = "cuda") && loaded.fallback.is_none() {
            return; // a machine with a working GPU runtime: nothing fell back
        }
        assert_eq!(loaded.device, Device::Cpu);
        let message = loaded.fallback.unwrap();
        assert!(
            message.starts_with("--device cuda:0 is not available: "),
            "{message}"
        );
        assert!(message.ends_with("running on the CPU instead"), "{message}");
        if !cfg!(feature = "cuda") {
            assert!(message.contains("no CUDA support"), "{message}");
        }
    }

    #[test]
    fn other_errors_are_not_hidden_by_the_fallback() {
        let options = SessionOptions {
            device: Device::Cuda { device_id: 0 },
            ..SessionOptions::default()
        };
        let missing = Path::new("/nonexistent-fauve/model.onnx");
        assert!(matches!(
            load_with_fallback(missing, &options),
            Err(InferError::ModelNotFound { .. })
        ));
    }
}
