use burn::prelude::*;
pub fn probe(device: &Device) -> Tensor<2> { Tensor::zeros([2, 2], device) }
