//! After the network: colour preservation and strength blending, on 0–255 planar tensors.
//!
//! Order, as the pipeline applies it:
//! 1. the network's output is clamped to 0–255, so that everything below starts from the image
//!    a plain stylisation would write (its overshoot would otherwise leak into the blend);
//! 2. `--preserve-color`: luminance from the stylised image, chroma from the photo;
//! 3. `--strength`: a per-pixel linear blend from the photo (0) to the result of 2 (1).
//!
//! Colour preservation comes first so that a partial strength fades between the photo and the
//! colour-preserved stylisation, rather than re-introducing the style's colours.

use std::fmt;

use crate::tensor::ImageTensor;

/// How the network's output is combined with the photo.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BlendOptions {
    strength: f32,
    preserve_color: bool,
}

impl Default for BlendOptions {
    /// Full stylisation, style colours kept: what the network alone produces.
    fn default() -> Self {
        BlendOptions {
            strength: 1.0,
            preserve_color: false,
        }
    }
}

/// A strength outside 0..=1 (or not a number).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InvalidStrength(pub f32);

impl fmt::Display for InvalidStrength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "strength must be between 0 and 1 (0 = the photo, 1 = full style), got {}",
            self.0
        )
    }
}

impl std::error::Error for InvalidStrength {}

impl BlendOptions {
    /// `strength` in 0..=1; anything else (NaN included) is refused.
    pub fn new(strength: f32, preserve_color: bool) -> Result<Self, InvalidStrength> {
        if !(0.0..=1.0).contains(&strength) {
            return Err(InvalidStrength(strength));
        }
        Ok(BlendOptions {
            strength,
            preserve_color,
        })
    }

    pub fn strength(&self) -> f32 {
        self.strength
    }

    pub fn preserve_color(&self) -> bool {
        self.preserve_color
    }

    /// Strength 0 asks for the photo itself: the network need not run at all.
    pub fn skips_network(&self) -> bool {
        self.strength == 0.0
    }

    /// Turns the network's raw output into the image to write (still f32; the final rounding
    /// to RGB8 is `tensor_to_rgb`'s).
    pub fn apply(&self, stylized: &mut ImageTensor, photo: &ImageTensor) {
        clamp_to_pixel_range(stylized);
        if self.preserve_color {
            preserve_color(stylized, photo);
        }
        if self.strength < 1.0 {
            blend_strength(stylized, photo, self.strength);
        }
    }
}

/// Clamps every value to 0–255 (NaN stays NaN; `tensor_to_rgb` turns it into 0).
pub fn clamp_to_pixel_range(image: &mut ImageTensor) {
    for v in &mut image.data {
        *v = v.clamp(0.0, 255.0);
    }
}

/// `stylized ← photo + strength · (stylized − photo)`, per value.
pub fn blend_strength(stylized: &mut ImageTensor, photo: &ImageTensor, strength: f32) {
    assert_same_size(stylized, photo);
    for (s, &p) in stylized.data.iter_mut().zip(&photo.data) {
        *s = p + strength * (*s - p);
    }
}

/// Keeps the stylised image's luminance (Y) and takes the chroma (Cb, Cr) from the photo
/// (Gatys et al. 2016, "Preserving Color in Neural Artistic Style Transfer"), in BT.601
/// full-range YCbCr, the JPEG convention. The result is clamped to 0–255, which can move
/// very saturated pixels slightly off the photo's chroma.
pub fn preserve_color(stylized: &mut ImageTensor, photo: &ImageTensor) {
    assert_same_size(stylized, photo);
    let plane = stylized.width as usize * stylized.height as usize;
    let (photo_r, rest) = photo.data.split_at(plane);
    let (photo_g, photo_b) = rest.split_at(plane);
    let (r, rest) = stylized.data.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    for i in 0..plane {
        let [y, _, _] = rgb_to_ycbcr([r[i], g[i], b[i]]);
        let [_, cb, cr] = rgb_to_ycbcr([photo_r[i], photo_g[i], photo_b[i]]);
        let [nr, ng, nb] = ycbcr_to_rgb([y, cb, cr]);
        r[i] = nr.clamp(0.0, 255.0);
        g[i] = ng.clamp(0.0, 255.0);
        b[i] = nb.clamp(0.0, 255.0);
    }
}

/// RGB 0–255 → BT.601 full-range YCbCr (Y 0–255, Cb/Cr centred on 128), as in JPEG/JFIF.
pub fn rgb_to_ycbcr([r, g, b]: [f32; 3]) -> [f32; 3] {
    [
        0.299 * r + 0.587 * g + 0.114 * b,
        128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b,
        128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b,
    ]
}

/// The inverse of [`rgb_to_ycbcr`] (unclamped).
pub fn ycbcr_to_rgb([y, cb, cr]: [f32; 3]) -> [f32; 3] {
    let (cb, cr) = (cb - 128.0, cr - 128.0);
    [
        y + 1.402 * cr,
        y - 0.344_136 * cb - 0.714_136 * cr,
        y + 1.772 * cb,
    ]
}

fn assert_same_size(a: &ImageTensor, b: &ImageTensor) {
    assert_eq!(
        (a.width, a.height),
        (b.width, b.height),
        "stylised output and photo must have the same size"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-pixel image.
    fn pixel(rgb: [f32; 3]) -> ImageTensor {
        ImageTensor::new(1, 1, rgb.to_vec())
    }

    fn assert_close(actual: [f32; 3], expected: [f32; 3], tolerance: f32) {
        for (a, e) in actual.iter().zip(expected) {
            assert!((a - e).abs() <= tolerance, "{actual:?} vs {expected:?}");
        }
    }

    #[test]
    fn strength_zero_half_and_one() {
        let photo = pixel([100.0, 0.0, 255.0]);
        let styled = [200.0, 50.0, 55.0];
        for (strength, expected) in [
            (0.0, [100.0, 0.0, 255.0]),
            (0.5, [150.0, 25.0, 155.0]),
            (1.0, [200.0, 50.0, 55.0]),
        ] {
            let mut out = pixel(styled);
            blend_strength(&mut out, &photo, strength);
            assert_eq!(out.data, expected, "strength {strength}");
        }
    }

    #[test]
    fn ycbcr_matches_hand_computed_values_and_round_trips() {
        // Pure red: Y = 0.299·255, Cb = 128 − 0.168736·255, Cr = 128 + 0.5·255.
        assert_close(
            rgb_to_ycbcr([255.0, 0.0, 0.0]),
            [76.245, 84.972, 255.5],
            1e-3,
        );
        // Greys have no chroma.
        assert_close(rgb_to_ycbcr([90.0; 3]), [90.0, 128.0, 128.0], 1e-3);
        let rgb = [12.0, 200.0, 77.0];
        assert_close(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb, 1e-3);
    }

    #[test]
    fn preserve_color_takes_stylised_luminance_and_photo_chroma() {
        let photo_rgb = [180.0, 120.0, 60.0];
        let styled_rgb = [40.0, 90.0, 200.0];
        let mut out = pixel(styled_rgb);
        preserve_color(&mut out, &pixel(photo_rgb));
        let out = rgb_to_ycbcr([out.data[0], out.data[1], out.data[2]]);
        let photo = rgb_to_ycbcr(photo_rgb);
        let styled = rgb_to_ycbcr(styled_rgb);
        assert_close(out, [styled[0], photo[1], photo[2]], 1e-3);
    }

    #[test]
    fn a_grey_stylisation_keeps_the_photos_hue() {
        // Orange photo, mid-grey stylisation: the photo's colour at the grey's luminance,
        // i.e. every channel shifted by the same amount (Y difference), hue unchanged.
        let photo = pixel([200.0, 120.0, 40.0]);
        let mut out = pixel([100.0; 3]);
        preserve_color(&mut out, &photo);
        let photo_y = 0.299 * 200.0 + 0.587 * 120.0 + 0.114 * 40.0; // 134.8
        let shift = 100.0 - photo_y;
        assert_close(
            [out.data[0], out.data[1], out.data[2]],
            [200.0 + shift, 120.0 + shift, 40.0 + shift],
            1e-3,
        );
        // Still ordered R > G > B: orange, not grey.
        assert!(out.data[0] > out.data[1] && out.data[1] > out.data[2]);
    }

    #[test]
    fn out_of_range_results_are_clamped() {
        // Saturated blue photo, very bright stylisation: B would exceed 255.
        let mut out = pixel([255.0; 3]);
        preserve_color(&mut out, &pixel([0.0, 0.0, 255.0]));
        assert!(out.data.iter().all(|v| (0.0..=255.0).contains(v)));
    }

    #[test]
    fn apply_clamps_the_network_overshoot_first_and_blends_last() {
        let photo = pixel([100.0, 100.0, 100.0]);
        let mut out = pixel([300.0, -50.0, 100.0]);
        BlendOptions::new(0.5, false)
            .unwrap()
            .apply(&mut out, &photo);
        // Clamped to [255, 0, 100] before the blend.
        assert_eq!(out.data, [177.5, 50.0, 100.0]);

        // Grey photo + preserve colour: the result is grey at the stylisation's luminance,
        // then half-way back to the photo.
        let mut out = pixel([200.0, 100.0, 0.0]);
        BlendOptions::new(0.5, true)
            .unwrap()
            .apply(&mut out, &photo);
        let styled_y = 0.299 * 200.0 + 0.587 * 100.0;
        let expected = 100.0 + 0.5 * (styled_y - 100.0);
        assert_close([out.data[0], out.data[1], out.data[2]], [expected; 3], 1e-3);
    }

    #[test]
    fn strength_outside_zero_to_one_is_refused() {
        for bad in [-0.1, 1.5, f32::NAN, f32::INFINITY] {
            let err = BlendOptions::new(bad, false).unwrap_err();
            assert!(err.to_string().contains("between 0 and 1"), "{err}");
        }
        assert!(BlendOptions::new(0.0, true).unwrap().skips_network());
        assert!(!BlendOptions::default().skips_network());
        assert_eq!(
            BlendOptions::new(1.0, false).unwrap(),
            BlendOptions::default()
        );
    }
}
