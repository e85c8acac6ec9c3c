use burn::prelude::*;

use super::{gram_matrix, mse};
use crate::vgg::Features;

/// Style reconstruction loss: MSE between the Gram matrices of the output's features and the
/// style image's, weighted per layer and summed.
///
/// The style image's Grams are computed once, at construction, from a batch of one, and
/// broadcast over whatever batch size `forward` sees.
#[derive(Debug, Clone)]
pub struct StyleLoss {
    /// (layer, weight, style Gram `[1, C, C]`, detached).
    targets: Vec<(String, f32, Tensor<3>)>,
}

impl StyleLoss {
    /// `style` must hold every layer of `layers` for one image (its first batch item is used).
    pub fn new(style: &Features, layers: &[(String, f32)]) -> Self {
        let targets = layers
            .iter()
            .map(|(name, weight)| {
                let f = style.expect(name).clone().detach();
                let [_, c, h, w] = f.dims();
                let gram = gram_matrix(f.narrow(0, 0, 1).reshape([1, c, h, w]));
                (name.clone(), *weight, gram)
            })
            .collect();
        Self { targets }
    }

    pub fn layers(&self) -> impl Iterator<Item = &str> {
        self.targets.iter().map(|(n, _, _)| n.as_str())
    }

    /// The precomputed style Gram of `layer` (`[1, C, C]`).
    pub fn target_gram(&self, layer: &str) -> Option<&Tensor<3>> {
        self.targets
            .iter()
            .find(|(n, _, _)| n == layer)
            .map(|(_, _, g)| g)
    }

    pub fn forward(&self, output: &Features) -> Tensor<1> {
        self.per_layer(output)
            .into_iter()
            .reduce(|a, b| a + b)
            .expect("StyleLoss has at least one layer")
    }

    /// Each layer's term of [`forward`](Self::forward), weighted, in the order of
    /// [`layers`](Self::layers): which scales of the painting an output misses.
    pub fn per_layer(&self, output: &Features) -> Vec<Tensor<1>> {
        self.targets
            .iter()
            .map(|(name, weight, target)| {
                let gram = gram_matrix(output.expect(name).clone());
                let [n, c, _] = gram.dims();
                mse(gram, target.clone().expand([n, c, c])).mul_scalar(*weight)
            })
            .collect()
    }
}
