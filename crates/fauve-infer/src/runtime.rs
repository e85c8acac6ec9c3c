//! locating libonnxruntime
