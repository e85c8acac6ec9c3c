//! One image through the whole chain: decode → tensor → network → blend with the photo
//! (colour, strength) → RGB8 (+alpha) → file.
//! Shared by `fauve stylize` and `fauve bench` so that what is benchmarked is what is run.

use std::path::Path;
use std::time::Instant;

use crate::convert::{rgb_to_tensor, tensor_to_rgb};
use crate::decode::{DecodeOptions, DecodedImage, decode_bytes, decode_file};
use crate::encode::{OutputFormat, encode_to_vec, write_atomically};
use crate::error::InferError;
use crate::model::StyleModel;
use crate::postprocess::BlendOptions;

/// Everything that shapes one stylisation besides the model: how inputs are decoded and how
/// the network's output is combined with the photo.
#[derive(Debug, Clone, Copy, Default)]
pub struct StylizeOptions {
    pub decode: DecodeOptions,
    pub blend: BlendOptions,
}

/// Milliseconds spent in each stage of one image.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct StageTimes {
    /// Reading the file, decoding, orientation/resize, conversion to a tensor.
    pub decode_ms: f64,
    /// The ONNX Runtime session alone (plus resizing for fixed-size models).
    pub run_ms: f64,
    /// Blending with the photo (colour, strength), clamping to RGB8, re-attaching alpha,
    /// encoding and (for files) the atomic write.
    pub encode_ms: f64,
}

impl StageTimes {
    pub fn total_ms(&self) -> f64 {
        self.decode_ms + self.run_ms + self.encode_ms
    }
}

/// What stylising one image produced.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Stylized {
    pub width: u32,
    pub height: u32,
    pub times: StageTimes,
}

/// Stylises `input` into `output` (format from its extension). Nothing is written unless
/// every stage succeeded.
pub fn stylize_file(
    model: &mut StyleModel,
    input: &Path,
    output: &Path,
    options: &StylizeOptions,
) -> Result<Stylized, InferError> {
    // Checked first so a bad `-o` costs no decoding or inference.
    let format = OutputFormat::from_path(output)?;
    let started = Instant::now();
    let decoded = decode_file(input, &options.decode)?;
    let (bytes, stylized) = stylize_decoded(model, input, decoded, format, options.blend, started)?;
    let write_started = Instant::now();
    write_atomically(output, &bytes)?;
    let mut stylized = stylized;
    stylized.times.encode_ms += ms_since(write_started);
    Ok(stylized)
}

/// Stylises an encoded image held in memory into encoded bytes; `name` labels errors.
/// This is the end-to-end path `fauve bench` measures (no file system involved).
pub fn stylize_bytes(
    model: &mut StyleModel,
    name: &Path,
    encoded: &[u8],
    format: OutputFormat,
    options: &StylizeOptions,
) -> Result<(Vec<u8>, Stylized), InferError> {
    let started = Instant::now();
    let decoded = decode_bytes(encoded, name, &options.decode)?;
    stylize_decoded(model, name, decoded, format, options.blend, started)
}

fn stylize_decoded(
    model: &mut StyleModel,
    name: &Path,
    decoded: DecodedImage,
    format: OutputFormat,
    blend: BlendOptions,
    started: Instant,
) -> Result<(Vec<u8>, Stylized), InferError> {
    let (width, height) = decoded.rgb.dimensions();
    model.check_input_size(name, width, height)?;
    if blend.skips_network() {
        // Strength 0 is the photo itself: re-encode the decoded pixels untouched, so that a
        // lossless output is bit-identical to the (decoded, oriented, resized) input.
        let decode_ms = ms_since(started);
        let encode_started = Instant::now();
        let bytes = encode(&decoded.rgb, decoded.alpha.as_ref(), format, name)?;
        let times = StageTimes {
            decode_ms,
            run_ms: 0.0,
            encode_ms: ms_since(encode_started),
        };
        return Ok((
            bytes,
            Stylized {
                width,
                height,
                times,
            },
        ));
    }
    let photo = rgb_to_tensor(&decoded.rgb);
    drop(decoded.rgb);
    let decode_ms = ms_since(started);

    let run_started = Instant::now();
    let mut output = model.run(&photo)?;
    let run_ms = ms_since(run_started);

    let encode_started = Instant::now();
    blend.apply(&mut output, &photo);
    drop(photo);
    let rgb = tensor_to_rgb(&output);
    let bytes = encode(&rgb, decoded.alpha.as_ref(), format, name)?;
    let encode_ms = ms_since(encode_started);
    Ok((
        bytes,
        Stylized {
            width,
            height,
            times: StageTimes {
                decode_ms,
                run_ms,
                encode_ms,
            },
        },
    ))
}

fn encode(
    rgb: &image::RgbImage,
    alpha: Option<&image::GrayImage>,
    format: OutputFormat,
    name: &Path,
) -> Result<Vec<u8>, InferError> {
    encode_to_vec(rgb, alpha, format).map_err(|e| InferError::Write {
        path: name.to_path_buf(),
        reason: format!("encoding {format:?} failed: {e}"),
    })
}

fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}
