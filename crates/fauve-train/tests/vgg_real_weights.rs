//! Sanity check on the real ImageNet VGG19 (Caffe convention) from ../shared/weights, against
//! PyTorch's F.conv2d/relu/max_pool2d on the same file and image (reference values below were
//! printed by PyTorch 2.15). Skipped, saying so, where the file is absent: the project's tests
//! must not need ../shared.

use std::path::PathBuf;

use burn::prelude::*;
use fauve_train::vgg::{Preprocess, Vgg, VggDepth};

fn shared_vgg19() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/weights/vgg19-imagenet-caffe.safetensors");
    path.exists().then_some(path)
}

#[test]
fn real_vgg19_matches_pytorch_on_a_pattern_image() {
    let Some(path) = shared_vgg19() else {
        eprintln!("SKIPPED: ../shared/weights/vgg19-imagenet-caffe.safetensors not found");
        return;
    };
    let device = Device::flex();
    let vgg = Vgg::load(&path, VggDepth::Vgg19, None, &device).unwrap();
    assert_eq!(vgg.preprocess(), Preprocess::Caffe);
    assert_eq!(vgg.loaded_convs(), 16);

    // image[c, y, x] = (37c + 11y + 5x) mod 256, RGB 0–255, 48×48.
    let (h, w) = (48, 48);
    let values: Vec<f32> = (0..3)
        .flat_map(|c| {
            (0..h).flat_map(move |y| (0..w).map(move |x| ((37 * c + 11 * y + 5 * x) % 256) as f32))
        })
        .collect();
    let image = Tensor::<4>::from_data(TensorData::new(values, [1, 3, h, w]), &device);

    // (layer, mean, mean of squares) from PyTorch.
    let reference = [
        ("relu1_1", 33.5589, 3931.68),
        ("relu2_1", 213.58, 180660.0),
        ("relu3_1", 417.318, 646652.0),
        ("relu4_1", 1669.97, 9.02736e6),
        ("relu4_2", 1081.43, 5.39289e6),
        ("relu5_1", 193.395, 204190.0),
    ];
    let layers: Vec<&str> = reference.iter().map(|r| r.0).collect();
    let f = vgg.features(image, &layers).unwrap();
    for (layer, mean, sq) in reference {
        let t = f.expect(layer).clone();
        let got_mean: f32 = t.clone().mean().into_scalar();
        let got_sq: f32 = t.square().mean().into_scalar();
        assert!(
            (got_mean - mean).abs() <= 1e-3 * mean,
            "{layer} mean {got_mean} vs PyTorch {mean}"
        );
        assert!(
            (got_sq - sq).abs() <= 2e-3 * sq,
            "{layer} mean square {got_sq} vs PyTorch {sq}"
        );
    }
}
