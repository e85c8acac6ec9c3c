//! fauve-infer: run exported style networks with ONNX Runtime. Deliberately free of burn so
//! that stylising needs nothing but this crate, `ort` and `image`.
//!
//! - [`runtime`]: finding libonnxruntime (env, next to the exe, pip's wheel) once per process;
//! - [`model`]: [`StyleModel`], a validated image-to-image ONNX session;
//! - [`tensor`]: [`ImageTensor`], planar RGB f32 0–255, the networks' convention;
//! - [`decode`] / [`encode`]: image files in (pixel budget, EXIF, alpha) and out (atomic);
//! - [`styles`]: `--style NAME` → `models/NAME.onnx`;
//! - [`convert`]: RGB8 ⇄ tensor; [`pipeline`]: one image end to end, with stage timings;
//! - [`batch`]: many images as a pipeline (read ∥ network ∥ write), in order;
//! - [`device`]: `--device cuda`, falling back to the CPU with the reason when unavailable;
//! - [`video`]: videos through ffmpeg (probe, decode pipe, the same pipeline, encode, audio);
//! - [`postprocess`]: `--preserve-color` and `--strength`, the photo blended back in;
//! - [`tiling`]: large images in overlapping tiles, instance norms with whole-image
//!   statistics ([`onnx_proto`]: the ONNX messages used to rewrite the graph).

pub mod batch;
pub mod convert;
pub mod decode;
pub mod device;
pub mod encode;
pub mod error;
pub mod model;
pub mod onnx_proto;
pub mod pipeline;
pub mod postprocess;
pub mod runtime;
pub mod styles;
pub mod tensor;
#[cfg(test)]
mod test_models;
pub mod tiling;
pub mod video;

pub use batch::{Job, stylize_files};
pub use decode::{DEFAULT_MAX_PIXELS, DecodeOptions, DecodedImage};
pub use encode::OutputFormat;
pub use error::InferError;
pub use model::{Device, Dim, MIN_SIDE, ModelInfo, SessionOptions, StyleModel, TensorSpec};
pub use pipeline::{StageTimes, StylizeOptions, Stylized, stylize_bytes, stylize_file};
pub use postprocess::{BlendOptions, InvalidStrength};
pub use tensor::ImageTensor;
pub use tiling::{
    DEFAULT_OVERLAP, DEFAULT_TILE, DEFAULT_TILE_ABOVE_PIXELS, TiledTimes, TilingOptions,
};
