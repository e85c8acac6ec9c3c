//! Pre- and post-processing: RGB8 pixels ⇄ the networks' planar f32 0–255 tensors.

use image::RgbImage;

use crate::tensor::ImageTensor;

/// Interleaved RGB8 → planar f32 on the 0–255 scale (no normalisation: the networks expect
/// raw pixel values).
pub fn rgb_to_tensor(rgb: &RgbImage) -> ImageTensor {
    let plane = rgb.width() as usize * rgb.height() as usize;
    let mut data = vec![0.0f32; 3 * plane];
    let (r, rest) = data.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    for (i, px) in rgb.as_raw().chunks_exact(3).enumerate() {
        r[i] = f32::from(px[0]);
        g[i] = f32::from(px[1]);
        b[i] = f32::from(px[2]);
    }
    ImageTensor::new(rgb.width(), rgb.height(), data)
}

/// Planar f32 → RGB8, clamping to 0–255 and rounding (the raw network output overshoots).
/// NaN becomes 0 rather than poisoning the encoder.
pub fn tensor_to_rgb(tensor: &ImageTensor) -> RgbImage {
    let plane = tensor.width as usize * tensor.height as usize;
    let (r, rest) = tensor.data.split_at(plane);
    let (g, b) = rest.split_at(plane);
    let to_u8 = |v: f32| {
        if v.is_nan() {
            0
        } else {
            v.clamp(0.0, 255.0).round() as u8
        }
    };
    let mut pixels = Vec::with_capacity(3 * plane);
    for i in 0..plane {
        pixels.extend_from_slice(&[to_u8(r[i]), to_u8(g[i]), to_u8(b[i])]);
    }
    RgbImage::from_raw(tensor.width, tensor.height, pixels)
        .expect("3 bytes per pixel by construction")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_exact_and_planar() {
        let rgb = RgbImage::from_fn(5, 3, |x, y| {
            image::Rgb([x as u8, y as u8, (x * y) as u8 + 100])
        });
        let tensor = rgb_to_tensor(&rgb);
        assert_eq!(tensor.shape(), [1, 3, 3, 5]);
        assert_eq!(tensor.data[4], 4.0); // R of (4, 0)
        assert_eq!(tensor.data[15 + 5], 1.0); // G of (0, 1)
        assert_eq!(tensor_to_rgb(&tensor), rgb);
    }

    #[test]
    fn output_is_clamped_and_rounded() {
        let tensor = ImageTensor::new(2, 1, vec![-20.0, 300.0, 127.5, 127.4, f32::NAN, 0.49]);
        let rgb = tensor_to_rgb(&tensor);
        assert_eq!(rgb.get_pixel(0, 0).0, [0, 128, 0]);
        assert_eq!(rgb.get_pixel(1, 0).0, [255, 127, 0]);
    }
}
