//! Encoding a stylised image by output extension, and writing it atomically.
//!
//! Atomic: the bytes go to a temporary file in the destination directory, which is then
//! renamed over the destination. A failure (disk full, encoder error, Ctrl-C) never leaves a
//! partial or half-written image behind, and an existing file is replaced in one step.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{GrayImage, ImageEncoder, RgbImage, RgbaImage};

use crate::error::InferError;

/// JPEG quality for outputs: high enough that compression artefacts don't mask the style.
pub const JPEG_QUALITY: u8 = 92;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    Png,
    Jpeg,
    /// Lossless WebP (the only WebP encoder `image` has).
    WebP,
}

impl OutputFormat {
    /// The format named by `path`'s extension (case-insensitive), or a clear error.
    pub fn from_path(path: &Path) -> Result<OutputFormat, InferError> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        OutputFormat::from_extension(&extension).ok_or_else(|| {
            InferError::UnsupportedOutputFormat {
                path: path.to_path_buf(),
                extension,
            }
        })
    }

    pub fn from_extension(extension: &str) -> Option<OutputFormat> {
        match extension.to_ascii_lowercase().as_str() {
            "png" => Some(OutputFormat::Png),
            "jpg" | "jpeg" => Some(OutputFormat::Jpeg),
            "webp" => Some(OutputFormat::WebP),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Png => "png",
            OutputFormat::Jpeg => "jpg",
            OutputFormat::WebP => "webp",
        }
    }

    pub fn supports_alpha(self) -> bool {
        matches!(self, OutputFormat::Png | OutputFormat::WebP)
    }
}

/// Encodes `rgb` (plus `alpha` where the format can carry it; JPEG drops it) to bytes.
pub fn encode_to_vec(
    rgb: &RgbImage,
    alpha: Option<&GrayImage>,
    format: OutputFormat,
) -> image::ImageResult<Vec<u8>> {
    let mut bytes = Vec::new();
    let rgba;
    let (pixels, width, height, color): (&[u8], u32, u32, image::ExtendedColorType) =
        match alpha.filter(|a| format.supports_alpha() && a.dimensions() == rgb.dimensions()) {
            Some(alpha) => {
                rgba = RgbaImage::from_fn(rgb.width(), rgb.height(), |x, y| {
                    let [r, g, b] = rgb.get_pixel(x, y).0;
                    image::Rgba([r, g, b, alpha.get_pixel(x, y)[0]])
                });
                (
                    rgba.as_raw(),
                    rgb.width(),
                    rgb.height(),
                    image::ExtendedColorType::Rgba8,
                )
            }
            None => (
                rgb.as_raw(),
                rgb.width(),
                rgb.height(),
                image::ExtendedColorType::Rgb8,
            ),
        };
    let sink = Cursor::new(&mut bytes);
    match format {
        OutputFormat::Png => PngEncoder::new(sink).write_image(pixels, width, height, color)?,
        OutputFormat::Jpeg => JpegEncoder::new_with_quality(sink, JPEG_QUALITY)
            .write_image(pixels, width, height, color)?,
        OutputFormat::WebP => {
            WebPEncoder::new_lossless(sink).write_image(pixels, width, height, color)?
        }
    }
    Ok(bytes)
}

/// Encodes by `path`'s extension and writes atomically.
pub fn write_image(
    path: &Path,
    rgb: &RgbImage,
    alpha: Option<&GrayImage>,
) -> Result<(), InferError> {
    let format = OutputFormat::from_path(path)?;
    let bytes = encode_to_vec(rgb, alpha, format).map_err(|e| InferError::Write {
        path: path.to_path_buf(),
        reason: format!("encoding failed: {e}"),
    })?;
    write_atomically(path, &bytes)
}

/// Writes `bytes` to `path` via a temporary file in the same directory and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), InferError> {
    let write_error = |reason: String| InferError::Write {
        path: path.to_path_buf(),
        reason,
    };
    if path.is_dir() {
        return Err(write_error("it is a directory".into()));
    }
    let dir = destination_dir(path);
    let mut temp = tempfile::Builder::new()
        .prefix(".fauve-")
        .suffix(".partial")
        .tempfile_in(&dir)
        .map_err(|e| write_error(format!("cannot create a file in {}: {e}", dir.display())))?;
    temp.write_all(bytes)
        .and_then(|()| temp.flush())
        .map_err(|e| write_error(e.to_string()))?;
    // tempfile creates files 0600; an image should be readable like any other output.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(0o644));
    }
    // On error the temporary file is dropped, hence deleted: nothing partial is left.
    temp.persist(path)
        .map_err(|e| write_error(e.error.to_string()))?;
    Ok(())
}

fn destination_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_extensions() {
        assert_eq!(
            OutputFormat::from_path(Path::new("a/b.PNG")).unwrap(),
            OutputFormat::Png
        );
        assert_eq!(
            OutputFormat::from_path(Path::new("b.jpeg")).unwrap(),
            OutputFormat::Jpeg
        );
        assert_eq!(
            OutputFormat::from_path(Path::new("b.webp")).unwrap(),
            OutputFormat::WebP
        );
        let err = OutputFormat::from_path(Path::new("b.gif"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("b.gif") && err.contains("unsupported"),
            "{err}"
        );
        assert!(OutputFormat::from_path(Path::new("noext")).is_err());
    }

    #[test]
    fn alpha_survives_png_and_webp_but_not_jpeg() {
        let rgb = RgbImage::from_pixel(6, 4, image::Rgb([200, 100, 50]));
        let alpha = GrayImage::from_pixel(6, 4, image::Luma([77]));
        for format in [OutputFormat::Png, OutputFormat::WebP] {
            let image =
                image::load_from_memory(&encode_to_vec(&rgb, Some(&alpha), format).unwrap())
                    .unwrap();
            assert_eq!(image.to_rgba8().get_pixel(2, 2)[3], 77, "{format:?}");
        }
        let jpeg = image::load_from_memory(
            &encode_to_vec(&rgb, Some(&alpha), OutputFormat::Jpeg).unwrap(),
        )
        .unwrap();
        assert!(!jpeg.color().has_alpha());
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.png");
        std::fs::write(&path, b"old").unwrap();
        let rgb = RgbImage::from_pixel(3, 3, image::Rgb([1, 2, 3]));
        write_image(&path, &rgb, None).unwrap();
        let written = image::open(&path).unwrap();
        assert_eq!((written.width(), written.height()), (3, 3));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn unwritable_destination_names_the_path() {
        let err = write_atomically(Path::new("/nonexistent-dir/x/out.png"), b"x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent-dir/x/out.png"), "{err}");
    }
}
