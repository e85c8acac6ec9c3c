//! Small building blocks shared by fauve-train's tests.

#![allow(dead_code)] // each test file uses a subset

use burn::prelude::*;
use fauve_train::loss::PerceptualLossConfig;
use fauve_train::vgg::{Preprocess, Vgg, VggDepth};

/// A VGG16 with random weights up to `deepest` (torchvision preprocessing).
pub fn random_vgg16(deepest: &str, device: &Device) -> Vgg {
    Vgg::random(
        VggDepth::Vgg16,
        Some(deepest),
        Preprocess::Torchvision,
        device,
    )
    .unwrap()
}

/// Johnson et al.'s loss but only up to relu2_2, so the test VGG stays small; with TV.
pub fn small_loss_config() -> PerceptualLossConfig {
    PerceptualLossConfig {
        content_layers: vec!["relu2_2".into()],
        style_layers: vec!["relu1_2".into(), "relu2_2".into()],
        tv_weight: 10.0,
        ..PerceptualLossConfig::johnson()
    }
}
