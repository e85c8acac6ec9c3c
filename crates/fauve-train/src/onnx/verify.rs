//! Parity check: run an exported file in ONNX Runtime and the network in burn on the same
//! deterministic images, and compare pixel by pixel (0–255 scale).

use std::path::Path;

use anyhow::{Context, Result};
use fauve_infer::ImageTensor;
use fauve_infer::model::{SessionOptions, StyleModel};

use crate::transformer::TransformerNet;

/// Largest per-value difference tolerated by default: half a grey level, so that after
/// rounding to 8 bits both runtimes give the same image within one level.
pub const DEFAULT_TOLERANCE: f32 = 0.5;

/// The export failed its parity check (kept typed so callers and tests can tell it apart
/// from I/O or runtime errors).
#[derive(Debug, thiserror::Error)]
pub enum ParityError {
    #[error(
        "ONNX Runtime and burn disagree on a {width}×{height} image: max |difference| {max_abs_diff} > tolerance {tolerance} (0–255 scale)"
    )]
    TooDifferent {
        width: u32,
        height: u32,
        max_abs_diff: f32,
        tolerance: f32,
    },
    #[error("ONNX Runtime returned {got_width}×{got_height} for a {width}×{height} input")]
    WrongSize {
        width: u32,
        height: u32,
        got_width: u32,
        got_height: u32,
    },
    #[error("{runtime} produced a non-finite value on a {width}×{height} image")]
    NotFinite {
        runtime: &'static str,
        width: u32,
        height: u32,
    },
}

/// A deterministic RGB test image on 0–255: smooth gradients plus a fine checker, so that
/// both the flat and the high-frequency paths of the network are exercised.
pub fn test_image(width: u32, height: u32) -> ImageTensor {
    let (w, h) = (width as usize, height as usize);
    let mut data = Vec::with_capacity(3 * w * h);
    for c in 0..3 {
        for y in 0..h {
            for x in 0..w {
                let (xf, yf, cf) = (x as f32, y as f32, c as f32);
                let smooth = 127.5 + 90.0 * (0.21 * xf + 0.13 * yf + 2.1 * cf).sin();
                let checker = if (x + y + c) % 2 == 0 { 25.0 } else { -25.0 };
                data.push((smooth + checker).clamp(0.0, 255.0));
            }
        }
    }
    ImageTensor::new(width, height, data)
}

/// Runs the ONNX file at `onnx_path` and `reference` on [`test_image`]s of each `(width,
/// height)`; returns the largest absolute difference seen, or a [`ParityError`] (inside the
/// `anyhow::Error`) when it exceeds `tolerance`, a size differs or a value is not finite.
pub fn check_parity(
    onnx_path: &Path,
    reference: &TransformerNet,
    sizes: &[(u32, u32)],
    tolerance: f32,
) -> Result<f32> {
    let mut model = StyleModel::load(onnx_path, &SessionOptions::default()).with_context(|| {
        format!(
            "loading the exported model {} in ONNX Runtime",
            onnx_path.display()
        )
    })?;
    let mut worst = 0.0f32;
    for &(width, height) in sizes {
        let image = test_image(width, height);
        let ort_out = model
            .run(&image)
            .with_context(|| format!("running the exported model on a {width}×{height} image"))?;
        if (ort_out.width, ort_out.height) != (width, height) {
            return Err(ParityError::WrongSize {
                width,
                height,
                got_width: ort_out.width,
                got_height: ort_out.height,
            }
            .into());
        }
        let burn_out = reference
            .stylize(&image)
            .context("running the burn network")?;
        for (runtime, out) in [("ONNX Runtime", &ort_out), ("burn", &burn_out)] {
            if out.data.iter().any(|v| !v.is_finite()) {
                return Err(ParityError::NotFinite {
                    runtime,
                    width,
                    height,
                }
                .into());
            }
        }
        let diff = ort_out.max_abs_diff(&burn_out);
        tracing::debug!(width, height, max_abs_diff = diff, "parity");
        if diff > tolerance {
            return Err(ParityError::TooDifferent {
                width,
                height,
                max_abs_diff: diff,
                tolerance,
            }
            .into());
        }
        worst = worst.max(diff);
    }
    Ok(worst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_image_is_deterministic_and_in_range() {
        let a = test_image(67, 45);
        assert_eq!(a, test_image(67, 45));
        assert!(a.data.iter().all(|v| (0.0..=255.0).contains(v)));
        let (lo, hi) = a
            .data
            .iter()
            .fold((255.0f32, 0.0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        assert!(
            hi - lo > 200.0,
            "the test image should span most of the range"
        );
    }
}
