//! fauve-infer: run exported style networks with ONNX Runtime. Deliberately free of burn so
//! that stylising needs nothing but this crate, `ort` and `image`.
//!
//! - [`runtime`]: finding libonnxruntime (env, next to the exe, pip's wheel) once per process;
//! - [`model`]: [`StyleModel`], a validated image-to-image ONNX session;
//! - [`tensor`]: [`ImageTensor`], planar RGB f32 0–255, the networks' convention.

pub mod error;
pub mod model;
pub mod runtime;
pub mod tensor;

pub use error::InferError;
pub use model::{Device, Dim, SessionOptions, StyleModel, TensorSpec};
pub use tensor::ImageTensor;
