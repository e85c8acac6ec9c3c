//! The ONNX protobuf messages, shared with fauve-infer (which reads and rewrites models for
//! tiling): see `fauve_infer::onnx_proto`. Re-exported here so the exporter keeps its paths.

pub use fauve_infer::onnx_proto::*;
