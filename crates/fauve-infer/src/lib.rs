//! fauve-infer: run exported style networks with ONNX Runtime. Deliberately free of burn so
//! that stylising needs nothing but this crate, `ort` and `image`.

pub mod runtime;
pub mod tensor;

pub use tensor::ImageTensor;
