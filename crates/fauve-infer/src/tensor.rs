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
        Self { width, height, data }
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
