//! The one image representation every fauve network reads and writes.

/// One RGB image as three float32 planes (`[3][height][width]`), values on the 0–255 scale.
///
/// This is the convention of the fast-neural-style networks (ours and the ONNX model zoo's):
/// the network takes 0–255 RGB and returns 0–255 RGB, unclamped. Keeping one type for it means
/// the burn side (training, export parity) and the ONNX Runtime side agree by construction.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageTensor {
    pub width: u32,
    pub height: u32,
    /// Planar RGB: all of R, then all of G, then all of B, each row-major.
    pub data: Vec<f32>,
}

impl ImageTensor {
    /// Wraps planar data, checking that it holds exactly `3 × height × width` values.
    pub fn new(width: u32, height: u32, data: Vec<f32>) -> Self {
        assert_eq!(
            data.len(),
            3 * width as usize * height as usize,
            "ImageTensor data must be 3×{height}×{width}"
        );
        Self {
            width,
            height,
            data,
        }
    }

    /// The NCHW shape of this image as a batch of one.
    pub fn shape(&self) -> [usize; 4] {
        [1, 3, self.height as usize, self.width as usize]
    }

    /// Largest absolute difference to another image of the same size (parity checks).
    pub fn max_abs_diff(&self, other: &ImageTensor) -> f32 {
        assert_eq!((self.width, self.height), (other.width, other.height));
        self.data
            .iter()
            .zip(&other.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max)
    }
}

impl ImageTensor {
    /// Bilinear resize of every plane (half-pixel centres, like `Resize` in ONNX with
    /// `half_pixel`). Used to fit fixed-size models, so it favours simplicity over speed.
    pub fn resized(&self, width: u32, height: u32) -> ImageTensor {
        assert!(width > 0 && height > 0, "cannot resize to an empty image");
        let (src_w, src_h) = (self.width as usize, self.height as usize);
        let (dst_w, dst_h) = (width as usize, height as usize);
        let axis = |dst: usize, src: usize| -> Vec<(usize, usize, f32)> {
            let scale = src as f32 / dst as f32;
            (0..dst)
                .map(|i| {
                    let x = ((i as f32 + 0.5) * scale - 0.5).clamp(0.0, (src - 1) as f32);
                    let lo = x.floor() as usize;
                    let hi = (lo + 1).min(src - 1);
                    (lo, hi, x - lo as f32)
                })
                .collect()
        };
        let xs = axis(dst_w, src_w);
        let ys = axis(dst_h, src_h);
        let mut data = Vec::with_capacity(3 * dst_w * dst_h);
        for plane in self.data.chunks_exact(src_w * src_h) {
            for &(y0, y1, fy) in &ys {
                let (row0, row1) = (&plane[y0 * src_w..][..src_w], &plane[y1 * src_w..][..src_w]);
                for &(x0, x1, fx) in &xs {
                    let top = row0[x0] + (row0[x1] - row0[x0]) * fx;
                    let bottom = row1[x0] + (row1[x1] - row1[x0]) * fx;
                    data.push(top + (bottom - top) * fy);
                }
            }
        }
        ImageTensor::new(width, height, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_to_same_size_is_identity() {
        let data: Vec<f32> = (0..3 * 4 * 5).map(|v| v as f32).collect();
        let t = ImageTensor::new(5, 4, data);
        assert_eq!(t.resized(5, 4), t);
    }

    #[test]
    fn resize_keeps_constant_planes_constant() {
        let mut data = vec![10.0; 6 * 7];
        data.extend(vec![20.0; 6 * 7]);
        data.extend(vec![30.0; 6 * 7]);
        let t = ImageTensor::new(7, 6, data).resized(3, 11);
        assert_eq!((t.width, t.height), (3, 11));
        assert!(t.data[..33].iter().all(|&v| (v - 10.0).abs() < 1e-4));
        assert!(t.data[66..].iter().all(|&v| (v - 30.0).abs() < 1e-4));
    }
}
