use burn::prelude::*;

/// Total variation regulariser, the squared ("L2") variant: the mean of the squared
/// differences between horizontally adjacent pixels plus the mean of the squared differences
/// between vertically adjacent ones, over batch and channels.
///
/// Means rather than sums so that the value does not grow with image or batch size; squared
/// rather than absolute as in Johnson et al.'s implementation (smooth gradients near zero).
/// Units are those of `image`: [`PerceptualLoss`](super::PerceptualLoss) passes 0–1 pixels.
pub fn total_variation(image: Tensor<4>) -> Tensor<1> {
    let [_, _, h, w] = image.dims();
    let dx = image.clone().narrow(3, 1, w - 1) - image.clone().narrow(3, 0, w - 1);
    let dy = image.clone().narrow(2, 1, h - 1) - image.narrow(2, 0, h - 1);
    dx.square().mean() + dy.square().mean()
}
