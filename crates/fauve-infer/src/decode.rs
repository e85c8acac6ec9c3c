//! Reading an image file into the RGB8 pixels a network takes, safely.
//!
//! - The pixel budget is checked from the header, before any pixel buffer is allocated, so a
//!   small file claiming 100000×100000 is refused instead of exhausting memory.
//! - EXIF orientation is applied, so a portrait phone photo stays portrait.
//! - Grayscale, palette, 16-bit and CMYK inputs all become RGB8; an alpha channel is kept
//!   aside so it can be re-attached to the output.

use std::io::Cursor;
use std::path::Path;

use image::imageops::FilterType;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageReader, Limits, RgbImage};

use crate::error::InferError;

/// Default pixel budget: 64 megapixels (an 8K×8K image), far above any photo a style network
/// is useful on, far below what would exhaust a laptop's memory in f32 planes (≈ 0.8 GB).
pub const DEFAULT_MAX_PIXELS: u64 = 64_000_000;

#[derive(Debug, Clone, Copy)]
pub struct DecodeOptions {
    /// Refuse images whose header claims more pixels than this.
    pub max_pixels: u64,
    /// Downscale (aspect kept) so that the longest side is at most this.
    pub max_size: Option<u32>,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_pixels: DEFAULT_MAX_PIXELS,
            max_size: None,
        }
    }
}

/// A decoded image: upright RGB8, with its alpha channel (if it had one) kept aside.
#[derive(Debug, Clone)]
pub struct DecodedImage {
    pub rgb: RgbImage,
    pub alpha: Option<GrayImage>,
}

/// Reads and decodes `path` (see [`decode_bytes`]).
pub fn decode_file(path: &Path, options: &DecodeOptions) -> Result<DecodedImage, InferError> {
    let bytes = std::fs::read(path).map_err(|source| InferError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    decode_bytes(&bytes, path, options)
}

/// Decodes an encoded image held in memory; `path` only names it in errors.
pub fn decode_bytes(
    bytes: &[u8],
    path: &Path,
    options: &DecodeOptions,
) -> Result<DecodedImage, InferError> {
    let decode_error = |reason: String| InferError::Decode {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.is_empty() {
        return Err(decode_error("the file is empty".into()));
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| decode_error(e.to_string()))?;
    let Some(format) = reader.format() else {
        return Err(decode_error(
            "unrecognised image format (not PNG, JPEG, WebP, ...)".into(),
        ));
    };
    let mut reader = reader;
    reader.limits(limits_for(options.max_pixels));
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| decode_error(format!("invalid {format:?} header: {e}")))?;

    // Only the header has been read so far: refuse oversize images before allocating pixels.
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > options.max_pixels {
        return Err(InferError::TooManyPixels {
            path: path.to_path_buf(),
            width,
            height,
            max_pixels: options.max_pixels,
        });
    }
    if width == 0 || height == 0 {
        return Err(decode_error(format!(
            "the header claims an empty {width}×{height} image"
        )));
    }
    // A broken EXIF block must not cost the whole image: fall back to "as stored".
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder)
        .map_err(|e| decode_error(format!("corrupt or truncated {format:?} data: {e}")))?;
    image.apply_orientation(orientation);

    if let Some(max_size) = options.max_size {
        image = bound_longest_side(image, max_size);
    }
    let alpha = image.color().has_alpha().then(|| alpha_channel(&image));
    Ok(DecodedImage {
        rgb: image.to_rgb8(),
        alpha,
    })
}

/// Limits for `image`'s decoders. The width/height limits make decoders that check them fail
/// early too; the allocation limit leaves room for a 16-bit RGBA image at the full budget.
fn limits_for(max_pixels: u64) -> Limits {
    let side = u32::try_from(max_pixels).unwrap_or(u32::MAX);
    let mut limits = Limits::default();
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    limits.max_alloc = Some(max_pixels.saturating_mul(8).max(512 * 1024 * 1024));
    limits
}

/// Shrinks `image` so its longest side is `max_size`, keeping the aspect ratio; never enlarges.
pub fn bound_longest_side(image: DynamicImage, max_size: u32) -> DynamicImage {
    let (w, h) = (image.width(), image.height());
    let longest = w.max(h);
    if longest <= max_size || max_size == 0 {
        return image;
    }
    let scale = max_size as f64 / longest as f64;
    let new_w = ((w as f64 * scale).round() as u32).max(1);
    let new_h = ((h as f64 * scale).round() as u32).max(1);
    // Catmull-Rom: sharp like Lanczos for downscaling photos, but cheaper.
    image.resize_exact(new_w, new_h, FilterType::CatmullRom)
}

fn alpha_channel(image: &DynamicImage) -> GrayImage {
    let rgba = image.to_rgba8();
    GrayImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        image::Luma([rgba.get_pixel(x, y)[3]])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgba, RgbaImage};

    fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn empty_and_garbage_bytes_are_refused_with_the_path() {
        let path = Path::new("photo.jpg");
        let err = decode_bytes(b"", path, &DecodeOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("photo.jpg") && err.contains("empty"), "{err}");
        let err = decode_bytes(b"hello, I am text", path, &DecodeOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("photo.jpg") && err.contains("unrecognised"),
            "{err}"
        );
    }

    #[test]
    fn pixel_budget_is_checked() {
        let png = encode(&DynamicImage::new_rgb8(40, 30), ImageFormat::Png);
        let options = DecodeOptions {
            max_pixels: 1000,
            max_size: None,
        };
        let err = decode_bytes(&png, Path::new("a.png"), &options).unwrap_err();
        assert!(
            matches!(
                err,
                InferError::TooManyPixels {
                    width: 40,
                    height: 30,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn alpha_is_kept_aside_and_max_size_keeps_aspect() {
        let mut rgba = RgbaImage::from_pixel(200, 100, Rgba([10, 20, 30, 128]));
        rgba.put_pixel(0, 0, Rgba([0, 0, 0, 0]));
        let png = encode(&DynamicImage::ImageRgba8(rgba), ImageFormat::Png);
        let decoded = decode_bytes(&png, Path::new("a.png"), &DecodeOptions::default()).unwrap();
        let alpha = decoded.alpha.unwrap();
        assert_eq!(alpha.get_pixel(0, 0)[0], 0);
        assert_eq!(alpha.get_pixel(5, 5)[0], 128);
        assert_eq!(decoded.rgb.get_pixel(5, 5).0, [10, 20, 30]);

        let options = DecodeOptions {
            max_size: Some(50),
            ..DecodeOptions::default()
        };
        let small = decode_bytes(&png, Path::new("a.png"), &options).unwrap();
        assert_eq!(small.rgb.dimensions(), (50, 25));
        assert_eq!(small.alpha.unwrap().dimensions(), (50, 25));
    }

    #[test]
    fn sixteen_bit_grayscale_becomes_rgb8() {
        let gray =
            image::ImageBuffer::<image::Luma<u16>, _>::from_pixel(9, 7, image::Luma([65535u16]));
        let png = encode(&DynamicImage::ImageLuma16(gray), ImageFormat::Png);
        let decoded = decode_bytes(&png, Path::new("g.png"), &DecodeOptions::default()).unwrap();
        assert_eq!(decoded.rgb.dimensions(), (9, 7));
        assert_eq!(decoded.rgb.get_pixel(3, 3).0, [255, 255, 255]);
        assert!(decoded.alpha.is_none());
    }
}
