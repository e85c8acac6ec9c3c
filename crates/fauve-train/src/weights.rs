//! Reading VGG weights into [`Vgg`]: torchvision's own checkpoints (`vgg16-397923af.pth`,
//! `vgg19-dcbb9e9d.pth`, a torch zip/pickle file) and safetensors files with the same keys
//! (`features.{N}.weight|bias`, OIHW).
//!
//! The file decides the preprocessing: a `.pth` is torchvision's; a safetensors file is too
//! unless its `__metadata__` says `preprocess = caffe` (see [`Preprocess`]).
//!
//! Only the convolutions up to the deepest layer the caller needs are read, so a content loss
//! at `relu2_2` never touches the 500 MB of deeper weights and tests can use small files.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use burn::prelude::*;

use crate::vgg::{ConvSpec, ConvWeights, Preprocess, Vgg, VggDepth, VggError};

/// Everything that can go wrong turning a file into a [`Vgg`]; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    // The wrapped errors are named `error`, not `source`: the message already quotes them, and
    // a `source` would print twice in the CLI's `{:#}` chain.
    #[error("cannot read VGG weights {}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{} is not a readable PyTorch checkpoint: {message}", path.display())]
    Pytorch { path: PathBuf, message: String },
    #[error("{} is not a readable safetensors file: {message}", path.display())]
    Safetensors { path: PathBuf, message: String },
    #[error(
        "{}: tensor `{key}` ({layer} of {depth}) is missing; the file holds {available}",
        path.display()
    )]
    MissingTensor {
        path: PathBuf,
        key: String,
        layer: String,
        depth: VggDepth,
        available: String,
    },
    #[error(
        "{}: tensor `{key}` ({layer} of {depth}) has shape {found:?}, expected {expected:?}",
        path.display()
    )]
    ShapeMismatch {
        path: PathBuf,
        key: String,
        layer: String,
        depth: VggDepth,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("{}: tensor `{key}` holds {dtype}, expected floating point", path.display())]
    UnsupportedDtype {
        path: PathBuf,
        key: String,
        dtype: String,
    },
    #[error(
        "{}: unknown `preprocess = {value}` in the safetensors metadata (expected `caffe` or \
         `torchvision`)",
        path.display()
    )]
    UnknownPreprocess { path: PathBuf, value: String },
    #[error("{}: {error}", path.display())]
    Layer { path: PathBuf, error: VggError },
}

/// An opened weight file: its tensors by key, read on demand, and its preprocessing.
pub struct VggWeightFile {
    path: PathBuf,
    preprocess: Preprocess,
    format: Format,
}

enum Format {
    Pytorch(pytorch_reader::PytorchReader),
    /// The whole file: safetensors views borrow from it, so it is parsed again per lookup
    /// (a header parse, cheap next to the data).
    Safetensors(Vec<u8>),
}

/// A tensor as stored: shape and values converted to f32.
struct RawTensor {
    shape: Vec<usize>,
    values: Vec<f32>,
}

impl VggWeightFile {
    /// Opens `path`, telling a torch checkpoint (zip, or the legacy pickle) from safetensors
    /// by its first bytes rather than its extension.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, WeightsError> {
        let path = path.as_ref().to_path_buf();
        let io_err = |error| WeightsError::Io {
            path: path.clone(),
            error,
        };
        let mut magic = [0u8; 4];
        std::fs::File::open(&path)
            .and_then(|mut f| f.read_exact(&mut magic))
            .map_err(io_err)?;
        let is_torch = magic.starts_with(b"PK\x03\x04") || magic[0] == 0x80;
        if is_torch {
            let reader =
                pytorch_reader::PytorchReader::new(&path).map_err(|e| WeightsError::Pytorch {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            return Ok(Self {
                path,
                preprocess: Preprocess::Torchvision,
                format: Format::Pytorch(reader),
            });
        }
        let bytes = std::fs::read(&path).map_err(io_err)?;
        let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| {
            WeightsError::Safetensors {
                path: path.clone(),
                message: e.to_string(),
            }
        })?;
        let preprocess = match metadata
            .metadata()
            .as_ref()
            .and_then(|m| m.get("preprocess"))
        {
            None => Preprocess::Torchvision,
            Some(value) => {
                Preprocess::from_metadata(value).ok_or_else(|| WeightsError::UnknownPreprocess {
                    path: path.clone(),
                    value: value.clone(),
                })?
            }
        };
        Ok(Self {
            path,
            preprocess,
            format: Format::Safetensors(bytes),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The input convention the file's weights were trained with.
    pub fn preprocess(&self) -> Preprocess {
        self.preprocess
    }

    /// Every tensor key in the file, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys = match &self.format {
            Format::Pytorch(r) => r.keys(),
            Format::Safetensors(bytes) => safetensors::SafeTensors::deserialize(bytes)
                .map(|st| st.names().into_iter().map(String::from).collect())
                .unwrap_or_default(),
        };
        keys.sort();
        keys
    }

    /// Builds a `depth` VGG holding the convolutions up to `deepest` (all when `None`) on
    /// `device`, checking each tensor's presence and shape.
    pub fn load_vgg(
        &self,
        depth: VggDepth,
        deepest: Option<&str>,
        device: &Device,
    ) -> Result<Vgg, WeightsError> {
        let count = match deepest {
            Some(name) => depth
                .convs_needed_for(name)
                .map_err(|error| WeightsError::Layer {
                    path: self.path.clone(),
                    error,
                })?,
            None => depth.convs().len(),
        };
        let mut convs = Vec::with_capacity(count);
        for spec in depth.convs().into_iter().take(count) {
            let weight = self.read_checked(depth, &spec, "weight", &spec.weight_shape())?;
            let bias = self.read_checked(depth, &spec, "bias", &[spec.out_channels])?;
            convs.push(ConvWeights {
                weight: Tensor::from_data(TensorData::new(weight, spec.weight_shape()), device),
                bias: Tensor::from_data(TensorData::new(bias, [spec.out_channels]), device),
            });
        }
        Ok(Vgg::from_convs(depth, self.preprocess, convs))
    }

    fn read_checked(
        &self,
        depth: VggDepth,
        spec: &ConvSpec,
        suffix: &str,
        expected: &[usize],
    ) -> Result<Vec<f32>, WeightsError> {
        let key = format!("features.{}.{suffix}", spec.features_index);
        let Some(raw) = self.read(&key)? else {
            let keys = self.keys();
            let available = if keys.is_empty() {
                "no tensors".to_string()
            } else if keys.len() <= 8 {
                keys.join(", ")
            } else {
                format!("{} tensors: {}, …", keys.len(), keys[..8].join(", "))
            };
            return Err(WeightsError::MissingTensor {
                path: self.path.clone(),
                key,
                layer: spec.name.clone(),
                depth,
                available,
            });
        };
        if raw.shape != expected {
            return Err(WeightsError::ShapeMismatch {
                path: self.path.clone(),
                key,
                layer: spec.name.clone(),
                depth,
                expected: expected.to_vec(),
                found: raw.shape,
            });
        }
        Ok(raw.values)
    }

    /// Reads `key`, or a key ending in `.{key}` (a state dict nested in a checkpoint, e.g.
    /// `state_dict.features.0.weight`). `Ok(None)` when absent.
    fn read(&self, key: &str) -> Result<Option<RawTensor>, WeightsError> {
        match &self.format {
            Format::Pytorch(reader) => {
                let suffix = format!(".{key}");
                let tensor = reader.get(key).or_else(|| {
                    reader
                        .tensors()
                        .iter()
                        .find(|(k, _)| k.ends_with(&suffix))
                        .map(|(_, t)| t)
                });
                let Some(tensor) = tensor else {
                    return Ok(None);
                };
                let bytes = tensor.read().map_err(|e| WeightsError::Pytorch {
                    path: self.path.clone(),
                    message: e.to_string(),
                })?;
                use pytorch_reader::DType as D;
                let dtype = match tensor.dtype() {
                    D::F32 => FloatBytes::F32,
                    D::F64 => FloatBytes::F64,
                    D::F16 => FloatBytes::F16,
                    D::BF16 => FloatBytes::BF16,
                    other => return Err(self.unsupported(key, format!("{other:?}"))),
                };
                Ok(Some(RawTensor {
                    shape: tensor.shape().to_vec(),
                    values: dtype.to_f32(&bytes),
                }))
            }
            Format::Safetensors(bytes) => {
                let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| {
                    WeightsError::Safetensors {
                        path: self.path.clone(),
                        message: e.to_string(),
                    }
                })?;
                let names = st.names();
                let suffix = format!(".{key}");
                let Some(name) = names
                    .iter()
                    .find(|n| **n == key)
                    .or_else(|| names.iter().find(|n| n.ends_with(&suffix)))
                else {
                    return Ok(None);
                };
                let view = st.tensor(name).map_err(|e| WeightsError::Safetensors {
                    path: self.path.clone(),
                    message: e.to_string(),
                })?;
                use safetensors::Dtype as D;
                let dtype = match view.dtype() {
                    D::F32 => FloatBytes::F32,
                    D::F64 => FloatBytes::F64,
                    D::F16 => FloatBytes::F16,
                    D::BF16 => FloatBytes::BF16,
                    other => return Err(self.unsupported(key, format!("{other:?}"))),
                };
                Ok(Some(RawTensor {
                    shape: view.shape().to_vec(),
                    values: dtype.to_f32(view.data()),
                }))
            }
        }
    }

    fn unsupported(&self, key: &str, dtype: String) -> WeightsError {
        WeightsError::UnsupportedDtype {
            path: self.path.clone(),
            key: key.to_string(),
            dtype,
        }
    }
}

/// Little-endian float encodings both formats use.
#[derive(Clone, Copy)]
enum FloatBytes {
    F32,
    F64,
    F16,
    BF16,
}

impl FloatBytes {
    fn to_f32(self, bytes: &[u8]) -> Vec<f32> {
        match self {
            FloatBytes::F32 => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect(),
            FloatBytes::F64 => bytes
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32)
                .collect(),
            FloatBytes::F16 => bytes
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            FloatBytes::BF16 => bytes
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
        }
    }
}

impl Vgg {
    /// Loads a `depth` VGG from a torchvision `.pth` or a safetensors file, holding the
    /// convolutions up to `deepest` (all when `None`), with the file's preprocessing.
    pub fn load(
        path: impl AsRef<Path>,
        depth: VggDepth,
        deepest: Option<&str>,
        device: &Device,
    ) -> Result<Vgg, WeightsError> {
        VggWeightFile::open(path)?.load_vgg(depth, deepest, device)
    }
}

/// Deterministic stand-in weights for the first `convs` convolutions of `depth`, with
/// torchvision's keys (write them with [`write_safetensors`]): kernels of a fixed
/// pseudo-random pattern at He-uniform scale, so activations neither vanish nor explode
/// through a few layers, and a constant `bias`. For tests that need a loss network without
/// the 500 MB ImageNet file; its features mean nothing.
pub fn synthetic_vgg_tensors(
    depth: VggDepth,
    convs: usize,
    bias: f32,
) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let mut tensors = Vec::new();
    for spec in depth.convs().into_iter().take(convs) {
        let shape = spec.weight_shape().to_vec();
        let n: usize = shape.iter().product();
        let scale = (6.0 / (spec.in_channels * 9) as f32).sqrt();
        let kernel = (0..n)
            .map(|i| ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) * scale)
            .collect();
        let key = |what: &str| format!("features.{}.{what}", spec.features_index);
        tensors.push((key("weight"), shape, kernel));
        tensors.push((
            key("bias"),
            vec![spec.out_channels],
            vec![bias; spec.out_channels],
        ));
    }
    tensors
}

/// Writes `vgg`-shaped tensors to a safetensors file with torchvision's keys: for tests,
/// benchmarks and converting a `.pth` once. `metadata` goes to `__metadata__` (e.g.
/// `preprocess = caffe`).
pub fn write_safetensors(
    path: impl AsRef<Path>,
    tensors: &[(String, Vec<usize>, Vec<f32>)],
    metadata: Option<HashMap<String, String>>,
) -> Result<(), WeightsError> {
    let path = path.as_ref();
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), data)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), data)
                .map(|v| (name.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| WeightsError::Safetensors {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    safetensors::serialize_to_file(views, metadata, path).map_err(|e| WeightsError::Safetensors {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}
