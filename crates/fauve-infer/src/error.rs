//! The one error type of fauve-infer. Every variant that concerns a file names it, and says
//! why in words a user can act on; the CLI prints them as they are.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// ONNX Runtime itself could not be found or started (the message says how to install it).
    #[error("ONNX Runtime unavailable: {0}")]
    Runtime(String),

    #[error("unknown style {name:?}: available styles: {available} (searched {searched})")]
    UnknownStyle {
        name: String,
        available: String,
        searched: String,
    },

    /// The requested execution device cannot be used (no CUDA build, no GPU runtime).
    #[error("device {device}: {reason}")]
    Device { device: String, reason: String },

    #[error("model {}: file not found", path.display())]
    ModelNotFound { path: PathBuf },

    /// The file exists but ONNX Runtime refused it (truncated, not ONNX, unsupported ops...).
    #[error("model {}: cannot be loaded as ONNX: {reason}", path.display())]
    ModelLoad { path: PathBuf, reason: String },

    /// A valid ONNX model that is not an image-to-image network.
    #[error("model {}: not a style network: {reason}", path.display())]
    NotAStyleModel { path: PathBuf, reason: String },

    #[error("model {}: inference failed: {reason}", path.display())]
    Inference { path: PathBuf, reason: String },

    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{}: not a readable image: {reason}", path.display())]
    Decode { path: PathBuf, reason: String },

    #[error(
        "{}: image is {width}×{height} = {} pixels, over the limit of {max_pixels} pixels \
         (raise it with --max-pixels)",
        path.display(), *width as u64 * *height as u64
    )]
    TooManyPixels {
        path: PathBuf,
        width: u32,
        height: u32,
        max_pixels: u64,
    },

    #[error("{}: image is {width}×{height}, too small: the network needs at least {min}×{min} pixels", path.display())]
    TooSmall {
        path: PathBuf,
        width: u32,
        height: u32,
        min: u32,
    },

    #[error("{}: unsupported output format {extension:?} (use .png, .jpg, .jpeg or .webp)", path.display())]
    UnsupportedOutputFormat { path: PathBuf, extension: String },

    /// A video input that ffprobe/ffmpeg cannot read, or ffmpeg itself missing or failing.
    #[error("{}: {reason}", path.display())]
    Video { path: PathBuf, reason: String },

    #[error("{}: cannot write: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
}
