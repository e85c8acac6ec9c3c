//! `StyleModel`: one ONNX image-to-image network in an ONNX Runtime session.
//!
//! The model's input/output names and shapes are read from the session, never assumed, and
//! checked at load time so that an ONNX file that is not a style network (a classifier, a
//! text model) is refused with a message saying what was expected and what was found.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::value::{TensorElementType, TensorRef, ValueType};

use crate::error::InferError;
use crate::runtime::runtime;
use crate::tensor::ImageTensor;
use crate::tiling::{GraphRole, TiledModel, TiledTimes, TilingOptions, stylize_tiled};

/// Smallest side accepted by a model with dynamic spatial dims. The Johnson network's first
/// layer reflection-pads by 4 (which needs at least 5 pixels) and downsamples twice by 2, so
/// 8 pixels per side is the smallest size that goes through every layer with room to spare.
pub const MIN_SIDE: u32 = 8;

/// Where a session runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Device {
    #[default]
    Cpu,
    /// A CUDA GPU (needs fauve-infer's `cuda` feature and the `onnxruntime-gpu` wheel).
    Cuda { device_id: i32 },
}

/// How to build a session. The defaults match the Python `onnxruntime.InferenceSession`
/// defaults (all graph optimisations, ORT's own thread count), so timings compare.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// Threads used inside one operator; `None` lets ONNX Runtime choose (physical cores).
    pub intra_threads: Option<usize>,
    pub device: Device,
}

/// One dimension of a model input or output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Dim {
    Fixed(u64),
    /// Chosen at run time; carries the ONNX symbolic name (`"height"`) when the model gives one.
    Dynamic(Option<String>),
}

impl Dim {
    pub fn fixed(&self) -> Option<u64> {
        match self {
            Dim::Fixed(n) => Some(*n),
            Dim::Dynamic(_) => None,
        }
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Dynamic(Some(name)) => write!(f, "{name}"),
            Dim::Dynamic(None) => write!(f, "?"),
        }
    }
}

/// A named tensor of the model: its element type and dimensions as the model declares them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TensorSpec {
    pub name: String,
    /// ONNX element type in lower case (`"float32"`), or the kind of value if not a tensor.
    pub element_type: String,
    pub dims: Vec<Dim>,
}

impl TensorSpec {
    /// `[batch, 3, height, width]`-style rendering for messages and `fauve info`.
    pub fn shape_string(&self) -> String {
        let dims: Vec<String> = self.dims.iter().map(ToString::to_string).collect();
        format!("[{}]", dims.join(", "))
    }
}

impl fmt::Display for TensorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.name,
            self.element_type,
            self.shape_string()
        )
    }
}

/// A loaded style network: NCHW float32 RGB 0–255 in, the same out.
pub struct StyleModel {
    path: PathBuf,
    session: Session,
    input: TensorSpec,
    output: TensorSpec,
    metadata: BTreeMap<String, String>,
    /// Kept to build the tiling sessions on first use.
    session_options: SessionOptions,
    /// When [`StyleModel::run`] cuts images into tiles.
    tiling: TilingOptions,
    /// The statistics and tile graphs, built on the first tiled image.
    tiled: Option<TiledModel>,
    /// What the latest `run` did if it tiled.
    last_tiled: Option<TiledTimes>,
    /// Automatic tiling found the model cannot be tiled (and said so once).
    tiling_unavailable: bool,
}

impl fmt::Debug for StyleModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StyleModel")
            .field("path", &self.path)
            .field("input", &self.input)
            .field("output", &self.output)
            .finish_non_exhaustive()
    }
}

impl StyleModel {
    /// Loads and validates an ONNX style network.
    pub fn load(path: &Path, options: &SessionOptions) -> Result<StyleModel, InferError> {
        let (session, inputs, outputs, metadata) = open_session(path, options)?;
        let not_style = |reason: String| InferError::NotAStyleModel {
            path: path.to_path_buf(),
            reason,
        };
        let input = single_image_tensor("input", &inputs).map_err(not_style)?;
        let output = single_image_tensor("output", &outputs).map_err(not_style)?;
        tracing::debug!(model = %path.display(), %input, %output, "model loaded");
        Ok(StyleModel {
            path: path.to_path_buf(),
            session,
            input,
            output,
            metadata,
            session_options: options.clone(),
            tiling: TilingOptions::default(),
            tiled: None,
            last_tiled: None,
            tiling_unavailable: false,
        })
    }

    /// Whether images can be tiled: the model's height and width are dynamic. (A fixed-size
    /// model runs at its own size whatever the photo's, so it never needs tiling.)
    pub fn supports_tiling(&self) -> bool {
        self.fixed_size() == (None, None)
    }

    /// Sets when [`StyleModel::run`] tiles (default: automatically above
    /// [`crate::DEFAULT_TILE_ABOVE_PIXELS`]); refuses an invalid combination.
    pub fn set_tiling(&mut self, tiling: TilingOptions) -> Result<(), InferError> {
        tiling.validate().map_err(|reason| InferError::Inference {
            path: self.path.clone(),
            reason,
        })?;
        if tiling.tile.is_some_and(|t| t > 0) && !self.supports_tiling() {
            tracing::warn!(
                model = %self.path.display(),
                "the model's input size is fixed ({}): it runs at that size, --tile is ignored",
                self.input.shape_string()
            );
        }
        self.tiling = tiling;
        Ok(())
    }

    pub fn tiling(&self) -> &TilingOptions {
        &self.tiling
    }

    /// Tile side, tile count and pass times of the latest [`StyleModel::run`], if it tiled.
    pub fn last_tiled(&self) -> Option<TiledTimes> {
        self.last_tiled
    }

    /// Builds the tiling sessions if needed; `false` when automatic tiling must fall back to
    /// one run because this model cannot be tiled (warned once). Explicit `--tile` fails.
    fn tiled_or_fallback(&mut self) -> Result<bool, InferError> {
        if self.tiling_unavailable {
            return Ok(false);
        }
        let built = self.tiled().map(|_| ());
        match built {
            Ok(()) => Ok(true),
            Err(e) if self.tiling.tile.is_none() => {
                tracing::warn!("{e}; running whole images instead");
                self.tiling_unavailable = true;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// The model rewritten for tiling (see [`crate::tiling`]), built on first use.
    pub fn tiled(&mut self) -> Result<&mut TiledModel, InferError> {
        if self.tiled.is_none() {
            let cannot_tile = |reason: String| InferError::Inference {
                path: self.path.clone(),
                reason: format!("cannot be tiled: {reason}"),
            };
            if !self.supports_tiling() {
                return Err(cannot_tile(format!(
                    "its input size is fixed ({})",
                    self.input.shape_string()
                )));
            }
            let bytes = std::fs::read(&self.path).map_err(|source| InferError::Read {
                path: self.path.clone(),
                source,
            })?;
            let runtime = runtime()?;
            let options = self.session_options.clone();
            let tiled = TiledModel::build(
                &bytes,
                &self.input.name,
                &self.output.name,
                |graph, role| {
                    let builder =
                        Session::builder(&runtime.environment).map_err(|e| e.to_string())?;
                    let mut builder = configure(builder, &options).map_err(|e| e.to_string())?;
                    if role == GraphRole::Statistics && options.device == Device::Cpu {
                        // One run on the largest image of all (up to the pixel budget): give
                        // its memory back afterwards instead of keeping it in an arena.
                        builder = builder
                            .with_memory_pattern(false)
                            .and_then(|b| {
                                b.with_execution_providers([ort::ep::CPU::default()
                                    .with_arena_allocator(false)
                                    .build()])
                            })
                            .map_err(|e| e.to_string())?;
                    }
                    builder.commit_from_memory(graph).map_err(|e| e.to_string())
                },
            )
            .map_err(cannot_tile)?;
            tracing::debug!(model = %self.path.display(), norms = tiled.norm_count(), "tiling sessions built");
            self.tiled = Some(tiled);
        }
        Ok(self.tiled.as_mut().expect("built above"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn input_spec(&self) -> &TensorSpec {
        &self.input
    }

    pub fn output_spec(&self) -> &TensorSpec {
        &self.output
    }

    /// The model's custom `metadata_props` plus, under `onnx.*` keys, the producer, graph
    /// name, description, domain and version when the model sets them.
    pub fn metadata(&self) -> BTreeMap<String, String> {
        self.metadata.clone()
    }

    /// The fixed `(width, height)` the model requires, if its spatial dims are fixed.
    /// A model with one fixed and one dynamic spatial dim reports the fixed one only.
    pub fn fixed_size(&self) -> (Option<u32>, Option<u32>) {
        let dim = |i: usize| self.input.dims[i].fixed().map(|n| n as u32);
        (dim(3), dim(2))
    }

    /// Refuses images too small for the network. Fixed-size models accept any size, since the
    /// image is resized to the model's size anyway.
    pub fn check_input_size(
        &self,
        image_path: &Path,
        width: u32,
        height: u32,
    ) -> Result<(), InferError> {
        let (fixed_w, fixed_h) = self.fixed_size();
        let too_small =
            (fixed_w.is_none() && width < MIN_SIDE) || (fixed_h.is_none() && height < MIN_SIDE);
        if too_small {
            return Err(InferError::TooSmall {
                path: image_path.to_path_buf(),
                width,
                height,
                min: MIN_SIDE,
            });
        }
        Ok(())
    }

    /// Runs the network on one image. The output is the raw network output (not clamped),
    /// at the input's size: a fixed-size model gets the image resized to its size and its
    /// output resized back. A model with dynamic size runs large images (or all, as
    /// [`StyleModel::set_tiling`] says) in tiles, normalised with whole-image statistics.
    pub fn run(&mut self, input: &ImageTensor) -> Result<ImageTensor, InferError> {
        self.last_tiled = None;
        if self.supports_tiling()
            && let Some(tile) = self.tiling.tile_for(input.width, input.height)
            && self.tiled_or_fallback()?
        {
            let tiling = self.tiling;
            let path = self.path.clone();
            let tiled = self.tiled.as_mut().expect("built by tiled_or_fallback");
            let (output, times) = stylize_tiled(tiled, input, tile, &tiling).map_err(|reason| {
                InferError::Inference {
                    path,
                    reason: format!("tiled run failed: {reason}"),
                }
            })?;
            tracing::info!(
                "tiled {}×{}: {} tiles of {} px (overlap {}), statistics pass {:.0} ms, tiles {:.0} ms",
                input.width,
                input.height,
                times.tile_count,
                tile,
                times.overlap,
                times.statistics_ms,
                times.tiles_ms
            );
            self.last_tiled = Some(times);
            return Ok(output);
        }
        let (fixed_w, fixed_h) = self.fixed_size();
        let run_w = fixed_w.unwrap_or(input.width);
        let run_h = fixed_h.unwrap_or(input.height);
        let resized;
        let network_input = if (run_w, run_h) != (input.width, input.height) {
            resized = input.resized(run_w, run_h);
            &resized
        } else {
            input
        };

        let output = self.run_exact(network_input)?;
        Ok(
            if (output.width, output.height) != (input.width, input.height) {
                output.resized(input.width, input.height)
            } else {
                output
            },
        )
    }

    /// One `session.run` on an image already at a size the model accepts.
    fn run_exact(&mut self, input: &ImageTensor) -> Result<ImageTensor, InferError> {
        let inference_error = |reason: String| InferError::Inference {
            path: self.path.clone(),
            reason,
        };
        let shape = input.shape().map(|d| d as i64);
        let value = TensorRef::from_array_view((shape, input.data.as_slice()))
            .map_err(|e| inference_error(e.to_string()))?;
        let outputs = self
            .session
            .run(ort::inputs![self.input.name.as_str() => value])
            .map_err(|e| InferError::Inference {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        let output = outputs
            .get(&self.output.name)
            .ok_or_else(|| InferError::Inference {
                path: self.path.clone(),
                reason: format!(
                    "the session returned no output named {:?}",
                    self.output.name
                ),
            })?;
        let (shape, data) =
            output
                .try_extract_tensor::<f32>()
                .map_err(|e| InferError::Inference {
                    path: self.path.clone(),
                    reason: e.to_string(),
                })?;
        match **shape {
            [1, 3, h, w] if h > 0 && w > 0 => {
                Ok(ImageTensor::new(w as u32, h as u32, data.to_vec()))
            }
            _ => Err(InferError::Inference {
                path: self.path.clone(),
                reason: format!("expected an output of shape [1, 3, height, width], got {shape}"),
            }),
        }
    }
}

/// What `fauve info` shows: any ONNX model's interface, whether or not it is a style network.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
    pub metadata: BTreeMap<String, String>,
    /// `None` if fauve can run it; otherwise why not.
    pub not_a_style_network: Option<String>,
}

impl ModelInfo {
    pub fn inspect(path: &Path) -> Result<ModelInfo, InferError> {
        let (_session, inputs, outputs, metadata) = open_session(path, &SessionOptions::default())?;
        let not_a_style_network = single_image_tensor("input", &inputs)
            .and_then(|_| single_image_tensor("output", &outputs))
            .err();
        Ok(ModelInfo {
            path: path.to_path_buf(),
            inputs,
            outputs,
            metadata,
            not_a_style_network,
        })
    }
}

type OpenedSession = (
    Session,
    Vec<TensorSpec>,
    Vec<TensorSpec>,
    BTreeMap<String, String>,
);

/// Creates the session and reads its interface and metadata, without judging them.
fn open_session(path: &Path, options: &SessionOptions) -> Result<OpenedSession, InferError> {
    if !path.is_file() {
        return Err(InferError::ModelNotFound {
            path: path.to_path_buf(),
        });
    }
    let runtime = runtime()?;
    let load_error = |reason: String| InferError::ModelLoad {
        path: path.to_path_buf(),
        reason,
    };
    let builder = Session::builder(&runtime.environment).map_err(|e| load_error(e.to_string()))?;
    let mut builder = configure(builder, options)?;
    let session = builder
        .commit_from_file(path)
        .map_err(|e| load_error(e.to_string()))?;
    let inputs = session.inputs().iter().map(outlet_spec).collect();
    let outputs = session.outputs().iter().map(outlet_spec).collect();
    let metadata = read_metadata(&session);
    Ok((session, inputs, outputs, metadata))
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda { device_id } => write!(f, "cuda:{device_id}"),
        }
    }
}

impl std::str::FromStr for Device {
    type Err = String;

    /// `cpu`, `cuda` (device 0) or `cuda:N`.
    fn from_str(s: &str) -> Result<Device, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda { device_id: 0 }),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse::<i32>().ok())
                .filter(|n| *n >= 0)
                .map(|device_id| Device::Cuda { device_id })
                .ok_or_else(|| format!("unknown device {s:?} (use cpu, cuda or cuda:N)")),
        }
    }
}

/// Applies our options to a fresh builder.
fn configure(
    builder: SessionBuilder,
    options: &SessionOptions,
) -> Result<SessionBuilder, InferError> {
    let runtime_error = |e: ort::Error<SessionBuilder>| InferError::Runtime(e.to_string());
    // ORT_ENABLE_ALL is also Python's default; set it explicitly so a change of ort's default
    // cannot make us slower than `onnxruntime.InferenceSession`.
    let mut builder = builder
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(runtime_error)?;
    if let Some(threads) = options.intra_threads {
        builder = builder.with_intra_threads(threads).map_err(runtime_error)?;
    }
    match options.device {
        Device::Cpu => Ok(builder),
        Device::Cuda { device_id } => with_cuda(builder, device_id),
    }
}

#[cfg(feature = "cuda")]
fn with_cuda(builder: SessionBuilder, device_id: i32) -> Result<SessionBuilder, InferError> {
    let cuda = ort::ep::CUDA::default()
        .with_device_id(device_id)
        .build()
        .error_on_failure();
    builder.with_execution_providers([cuda]).map_err(|e| InferError::Device {
        device: Device::Cuda { device_id }.to_string(),
        reason: format!("{e}; install `python3 -m pip install onnxruntime-gpu==1.32.0` and its CUDA libraries"),
    })
}

#[cfg(not(feature = "cuda"))]
fn with_cuda(_builder: SessionBuilder, device_id: i32) -> Result<SessionBuilder, InferError> {
    Err(InferError::Device {
        device: Device::Cuda { device_id }.to_string(),
        reason: "this build has no CUDA support (rebuild with the `cuda` feature)".into(),
    })
}

fn outlet_spec(outlet: &ort::value::Outlet) -> TensorSpec {
    match outlet.dtype() {
        ValueType::Tensor {
            ty,
            shape,
            dimension_symbols,
        } => TensorSpec {
            name: outlet.name().to_string(),
            element_type: element_type_name(*ty),
            dims: shape
                .iter()
                .enumerate()
                .map(|(i, &d)| {
                    if d >= 0 {
                        Dim::Fixed(d as u64)
                    } else {
                        Dim::Dynamic(dimension_symbols.get(i).filter(|s| !s.is_empty()).cloned())
                    }
                })
                .collect(),
        },
        other => TensorSpec {
            name: outlet.name().to_string(),
            element_type: format!("{other}"),
            dims: Vec::new(),
        },
    }
}

fn element_type_name(ty: TensorElementType) -> String {
    format!("{ty:?}").to_lowercase()
}

/// Checks that `specs` is exactly one float32 `[1|?, 3|?, H, W]` tensor and returns it.
/// `role` is "input" or "output", used in the message.
fn single_image_tensor(role: &str, specs: &[TensorSpec]) -> Result<TensorSpec, String> {
    const EXPECTED: &str = "float32 [batch, 3, height, width]";
    let [spec] = specs else {
        let found: Vec<String> = specs.iter().map(ToString::to_string).collect();
        return Err(format!(
            "expected exactly one {role} of {EXPECTED}, found {}: {}",
            specs.len(),
            if found.is_empty() {
                "none".to_string()
            } else {
                found.join("; ")
            }
        ));
    };
    let mismatch = || format!("expected the {role} to be {EXPECTED}, found {spec}");
    if spec.element_type != "float32" || spec.dims.len() != 4 {
        return Err(mismatch());
    }
    let allows = |dim: &Dim, n: u64| dim.fixed().is_none_or(|d| d == n);
    if !allows(&spec.dims[0], 1) || !allows(&spec.dims[1], 3) {
        return Err(mismatch());
    }
    if spec.dims[2..].iter().any(|d| d.fixed() == Some(0)) {
        return Err(mismatch());
    }
    Ok(spec.clone())
}

fn read_metadata(session: &Session) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let Ok(meta) = session.metadata() else {
        return map;
    };
    for key in meta.custom_keys().unwrap_or_default() {
        if let Some(value) = meta.custom(&key) {
            map.insert(key, value);
        }
    }
    let standard = [
        ("onnx.producer", meta.producer()),
        ("onnx.graph_name", meta.name()),
        ("onnx.description", meta.description()),
        ("onnx.graph_description", meta.graph_description()),
        ("onnx.domain", meta.domain()),
        // ORT reports an unset model_version as i64::MAX.
        (
            "onnx.model_version",
            meta.version()
                .filter(|v| (0..i64::MAX).contains(v))
                .map(|v| v.to_string()),
        ),
    ];
    for (key, value) in standard {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            map.insert(key.to_string(), value);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(ty: &str, dims: Vec<Dim>) -> TensorSpec {
        TensorSpec {
            name: "x".into(),
            element_type: ty.into(),
            dims,
        }
    }

    fn dynamic(name: &str) -> Dim {
        Dim::Dynamic(Some(name.into()))
    }

    #[test]
    fn accepts_dynamic_and_fixed_image_tensors() {
        let dynamic_spec = spec(
            "float32",
            vec![dynamic("batch"), Dim::Fixed(3), dynamic("h"), dynamic("w")],
        );
        assert!(single_image_tensor("input", &[dynamic_spec]).is_ok());
        let fixed = spec(
            "float32",
            vec![
                Dim::Fixed(1),
                Dim::Fixed(3),
                Dim::Fixed(224),
                Dim::Fixed(224),
            ],
        );
        assert!(single_image_tensor("input", &[fixed]).is_ok());
    }

    #[test]
    fn refuses_a_classifier_output_saying_what_it_found() {
        let logits = spec("float32", vec![Dim::Fixed(1), Dim::Fixed(1000)]);
        let err = single_image_tensor("output", &[logits]).unwrap_err();
        assert!(err.contains("float32 [batch, 3, height, width]"), "{err}");
        assert!(err.contains("[1, 1000]"), "{err}");
    }

    #[test]
    fn refuses_wrong_channels_type_and_count() {
        let gray = spec(
            "float32",
            vec![Dim::Fixed(1), Dim::Fixed(1), dynamic("h"), dynamic("w")],
        );
        assert!(single_image_tensor("input", &[gray]).is_err());
        let bytes = spec(
            "uint8",
            vec![Dim::Fixed(1), Dim::Fixed(3), dynamic("h"), dynamic("w")],
        );
        assert!(single_image_tensor("input", &[bytes]).is_err());
        let ok = spec(
            "float32",
            vec![Dim::Fixed(1), Dim::Fixed(3), dynamic("h"), dynamic("w")],
        );
        let err = single_image_tensor("input", &[ok.clone(), ok]).unwrap_err();
        assert!(err.contains("found 2"), "{err}");
        assert!(
            single_image_tensor("input", &[])
                .unwrap_err()
                .contains("none")
        );
    }

    #[test]
    fn devices_parse_and_print() {
        assert_eq!("cpu".parse::<Device>().unwrap(), Device::Cpu);
        assert_eq!(
            "CUDA".parse::<Device>().unwrap(),
            Device::Cuda { device_id: 0 }
        );
        assert_eq!("cuda:1".parse::<Device>().unwrap().to_string(), "cuda:1");
        assert!("gpu".parse::<Device>().is_err());
        assert!("cuda:-1".parse::<Device>().is_err());
    }

    #[test]
    fn dims_render_with_their_symbolic_names() {
        let s = spec(
            "float32",
            vec![
                dynamic("batch"),
                Dim::Fixed(3),
                Dim::Dynamic(None),
                dynamic("width"),
            ],
        );
        assert_eq!(s.shape_string(), "[batch, 3, ?, width]");
    }
}

/// These need ONNX Runtime (`python3 -m pip install onnxruntime==1.32.0`), like the CLI does.
#[cfg(test)]
mod runtime_tests {
    use super::*;
    use crate::test_models::{Axis, image_axes, single_op_model, write};

    fn options() -> SessionOptions {
        SessionOptions {
            intra_threads: Some(1),
            ..Default::default()
        }
    }

    fn ramp(width: u32, height: u32) -> ImageTensor {
        let data = (0..3 * width * height)
            .map(|i| (i % 251) as f32 + 0.25)
            .collect();
        ImageTensor::new(width, height, data)
    }

    #[test]
    fn runs_a_dynamic_model_and_reads_its_interface_and_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = single_op_model(
            "Identity",
            &image_axes(),
            &image_axes(),
            &[("fauve.style", "candy")],
        );
        let path = write(dir.path(), "identity.onnx", &bytes);
        let mut model = StyleModel::load(&path, &options()).unwrap();
        assert_eq!(
            model.input_spec().shape_string(),
            "[batch, 3, height, width]"
        );
        assert_eq!(model.output_spec().name, "output");
        assert_eq!(model.fixed_size(), (None, None));
        let metadata = model.metadata();
        assert_eq!(
            metadata.get("fauve.style").map(String::as_str),
            Some("candy")
        );
        assert_eq!(
            metadata.get("onnx.producer").map(String::as_str),
            Some("fauve-infer-tests")
        );
        // Raw output: values above 255 are not clamped here.
        let mut input = ramp(13, 9);
        input.data[0] = 300.0;
        assert_eq!(model.run(&input).unwrap(), input);
        assert!(model.check_input_size(Path::new("x.png"), 7, 20).is_err());
        assert!(model.check_input_size(Path::new("x.png"), 8, 8).is_ok());
    }

    #[test]
    fn a_fixed_size_model_gets_resized_inputs_and_returns_the_input_size() {
        let dir = tempfile::tempdir().unwrap();
        let fixed = || {
            vec![
                Axis::Fixed(1),
                Axis::Fixed(3),
                Axis::Fixed(16),
                Axis::Fixed(12),
            ]
        };
        let path = write(
            dir.path(),
            "fixed.onnx",
            &single_op_model("Identity", &fixed(), &fixed(), &[]),
        );
        let mut model = StyleModel::load(&path, &options()).unwrap();
        assert_eq!(model.fixed_size(), (Some(12), Some(16)));
        let constant = ImageTensor::new(10, 7, vec![42.0; 3 * 10 * 7]);
        let output = model.run(&constant).unwrap();
        assert_eq!((output.width, output.height), (10, 7));
        assert!(output.max_abs_diff(&constant) < 1e-3);
        // Fixed-size models take any size: it is resized anyway.
        assert!(model.check_input_size(Path::new("x.png"), 1, 1).is_ok());
    }

    #[test]
    fn a_classifier_is_refused_saying_what_was_expected_and_found() {
        let dir = tempfile::tempdir().unwrap();
        let input = [
            Axis::Fixed(1),
            Axis::Fixed(3),
            Axis::Fixed(4),
            Axis::Fixed(4),
        ];
        let bytes = single_op_model("Flatten", &input, &[Axis::Fixed(1), Axis::Fixed(48)], &[]);
        let path = write(dir.path(), "classifier.onnx", &bytes);
        let err = StyleModel::load(&path, &options()).unwrap_err().to_string();
        assert!(
            err.contains("classifier.onnx") && err.contains("not a style network"),
            "{err}"
        );
        assert!(
            err.contains("[batch, 3, height, width]") && err.contains("[1, 48]"),
            "{err}"
        );
        // `fauve info` can still describe it.
        let info = ModelInfo::inspect(&path).unwrap();
        assert!(info.not_a_style_network.is_some());
        assert_eq!(info.outputs[0].dims, vec![Dim::Fixed(1), Dim::Fixed(48)]);
    }

    #[test]
    fn missing_truncated_and_garbage_files_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = StyleModel::load(&dir.path().join("nope.onnx"), &options()).unwrap_err();
        assert!(matches!(err, InferError::ModelNotFound { .. }), "{err}");
        assert!(err.to_string().contains("nope.onnx"));

        let bytes = single_op_model("Identity", &image_axes(), &image_axes(), &[]);
        let truncated = write(dir.path(), "truncated.onnx", &bytes[..bytes.len() / 2]);
        let garbage = write(
            dir.path(),
            "garbage.onnx",
            b"\xff\xfe this is not protobuf \x00\x01",
        );
        let empty = write(dir.path(), "empty.onnx", b"");
        for path in [truncated, garbage, empty] {
            let err = StyleModel::load(&path, &options()).unwrap_err();
            assert!(
                matches!(err, InferError::ModelLoad { .. }),
                "{}: {err}",
                path.display()
            );
            assert!(
                err.to_string()
                    .contains(path.file_name().unwrap().to_str().unwrap()),
                "{err}"
            );
        }
    }
}
