//! The input conventions VGG weight files were trained with.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// ImageNet statistics of torchvision's models, RGB order, for inputs in 0–1.
const TORCHVISION_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const TORCHVISION_STD: [f32; 3] = [0.229, 0.224, 0.225];
/// The original Caffe VGG's mean pixel, given here in RGB order (Caffe feeds BGR: 103.939,
/// 116.779, 123.68).
const CAFFE_MEAN_RGB: [f32; 3] = [123.68, 116.779, 103.939];

/// How a weight file expects its input. The network itself always takes RGB 0–255; the
/// conversion is applied inside the VGG.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Preprocess {
    /// torchvision's: RGB, divided by 255, minus the ImageNet mean, divided by its std.
    #[default]
    Torchvision,
    /// The original Caffe release's: BGR, 0–255, minus the mean pixel.
    Caffe,
}

impl Preprocess {
    /// Parses a safetensors `__metadata__` `preprocess` value.
    pub fn from_metadata(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "caffe" => Some(Preprocess::Caffe),
            "torchvision" | "pytorch" | "torch" => Some(Preprocess::Torchvision),
            _ => None,
        }
    }

    /// The value subtracted from each RGB channel of a 0–255 image.
    fn mean_rgb_255(self) -> [f32; 3] {
        match self {
            Preprocess::Torchvision => TORCHVISION_MEAN.map(|m| m * 255.0),
            Preprocess::Caffe => CAFFE_MEAN_RGB,
        }
    }

    /// Subtracts the mean from an RGB 0–255 `[N, 3, H, W]` image. The rest of the conversion
    /// (scale, channel order) is folded into the first convolution's weights, which is exact:
    /// both are per input channel and linear, and the convolution's zero padding stays zero.
    pub fn center(self, image: Tensor<4>) -> Tensor<4> {
        let mean =
            Tensor::<1>::from_floats(self.mean_rgb_255(), &image.device()).reshape([1, 3, 1, 1]);
        image - mean
    }

    /// Rewrites `conv1_1`'s weight (OIHW, input channels in the file's order) so it applies to
    /// a centred RGB 0–255 image: divides torchvision's by 255·std, reverses Caffe's BGR.
    pub fn fold_into_first_conv(self, weight: Tensor<4>) -> Tensor<4> {
        match self {
            Preprocess::Torchvision => {
                let scale = TORCHVISION_STD.map(|s| 1.0 / (255.0 * s));
                let scale = Tensor::<1>::from_floats(scale, &weight.device()).reshape([1, 3, 1, 1]);
                weight * scale
            }
            Preprocess::Caffe => weight.flip([1]),
        }
    }

    /// Roughly how much larger this convention's features are than torchvision's for the same
    /// image: the ratio of the two input scales (Caffe's 0–255 against torchvision's
    /// 1/(255·std), std ≈ 0.2253 on average), since ReLU networks scale about linearly with
    /// their input. The losses divide features by it so that the same loss weights mean about
    /// the same thing with either kind of file.
    pub fn feature_scale(self) -> f32 {
        match self {
            Preprocess::Torchvision => 1.0,
            Preprocess::Caffe => {
                let mean_std = TORCHVISION_STD.iter().sum::<f32>() / 3.0;
                255.0 * mean_std
            }
        }
    }
}
