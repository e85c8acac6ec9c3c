//! Forward pass of the VGG: shapes, the prefix rule, and where gradients go.

use burn::prelude::*;
use fauve_train::vgg::{Preprocess, Vgg, VggDepth, VggError};

mod common;
use common::random_vgg16;

fn image(n: usize, h: usize, w: usize, device: &Device) -> Tensor<4> {
    Tensor::random(
        [n, 3, h, w],
        burn::tensor::Distribution::Uniform(0.0, 255.0),
        device,
    )
}

#[test]
fn returns_the_requested_layers_with_their_shapes() {
    let device = Device::flex();
    let vgg = random_vgg16("relu2_2", &device);
    assert_eq!(vgg.loaded_convs(), 4);
    let f = vgg
        .features(image(2, 16, 12, &device), &["relu2_2", "relu1_2", "pool1"])
        .unwrap();
    assert_eq!(f.expect("relu1_2").dims(), [2, 64, 16, 12]);
    assert_eq!(f.expect("pool1").dims(), [2, 64, 8, 6]);
    assert_eq!(f.expect("relu2_2").dims(), [2, 128, 8, 6]);
    assert!(f.get("relu1_1").is_none());
    // ReLU outputs are non-negative.
    let min: f32 = f.expect("relu2_2").clone().min().into_scalar();
    assert!(min >= 0.0);
}

#[test]
fn odd_sizes_are_floored_by_pooling_as_torchvision() {
    let device = Device::flex();
    let vgg = random_vgg16("relu2_1", &device);
    let f = vgg.features(image(1, 9, 7, &device), &["relu2_1"]).unwrap();
    assert_eq!(f.expect("relu2_1").dims(), [1, 128, 4, 3]);
}

#[test]
fn a_layer_beyond_the_loaded_prefix_is_an_error() {
    let device = Device::flex();
    let vgg = random_vgg16("relu1_2", &device);
    let err = vgg
        .features(image(1, 8, 8, &device), &["relu2_1"])
        .unwrap_err();
    assert!(
        matches!(
            err,
            VggError::NotLoaded {
                needed: 3,
                loaded: 2,
                ..
            }
        ),
        "{err}"
    );
    let err = vgg
        .features(image(1, 8, 8, &device), &["relu9_9"])
        .unwrap_err();
    assert!(matches!(err, VggError::UnknownLayer { .. }), "{err}");
}

#[test]
fn gradients_reach_the_input_and_not_the_weights() {
    let device = Device::flex().autodiff();
    let vgg = random_vgg16("relu2_1", &device);
    let x = image(1, 8, 8, &device).require_grad();
    let f = vgg.features(x.clone(), &["relu2_1"]).unwrap();
    let grads = f.expect("relu2_1").clone().sum().backward();
    let gx = x.grad(&grads).expect("input has a gradient");
    let norm: f32 = gx.abs().sum().into_scalar();
    assert!(norm > 0.0, "input gradient is zero");
    for conv in vgg.convs() {
        assert!(!conv.weight.is_require_grad());
        assert!(conv.weight.grad(&grads).is_none());
        assert!(conv.bias.grad(&grads).is_none());
    }
}

#[test]
fn weights_built_off_the_graph_serve_an_autodiff_input() {
    // Loaded on the plain device, used with an autodiff image: the weights are lifted as
    // constants.
    let vgg = Vgg::random(
        VggDepth::Vgg19,
        Some("relu1_2"),
        Preprocess::Caffe,
        &Device::flex(),
    )
    .unwrap();
    let x = image(1, 6, 6, &Device::flex().autodiff()).require_grad();
    let f = vgg.features(x.clone(), &["relu1_2"]).unwrap();
    let grads = f.expect("relu1_2").clone().sum().backward();
    assert!(x.grad(&grads).is_some());
}
