use burn::prelude::*;

use super::mse;
use crate::vgg::Features;

/// Feature reconstruction loss: MSE between the output's and the content image's features at
/// each content layer, summed over layers.
#[derive(Debug, Clone)]
pub struct ContentLoss {
    layers: Vec<String>,
}

impl ContentLoss {
    pub fn new(layers: Vec<String>) -> Self {
        Self { layers }
    }

    pub fn layers(&self) -> &[String] {
        &self.layers
    }

    /// `output` and `target` must both hold every content layer, at the same shape (the
    /// target is normally detached: see [`Features::detach`]).
    pub fn forward(&self, output: &Features, target: &Features) -> Tensor<1> {
        self.layers
            .iter()
            .map(|l| mse(output.expect(l).clone(), target.expect(l).clone()))
            .reduce(|a, b| a + b)
            .expect("ContentLoss has at least one layer")
    }
}
