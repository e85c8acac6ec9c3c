pub mod onnx;
pub mod transformer;
