//! Reading a genuine `torch.save` checkpoint (tests/fixtures/vgg_conv1_1.pth, written by
//! PyTorch with torchvision's key layout; see make_vgg_conv1_pth.py) and matching PyTorch's
//! own conv1_1 outputs under both preprocessing conventions.

use std::collections::HashMap;
use std::path::PathBuf;

use burn::prelude::*;
use fauve_train::vgg::{Preprocess, Vgg, VggDepth};
use fauve_train::weights::{VggWeightFile, WeightsError, write_safetensors};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vgg_conv1_1.pth")
}

/// A tensor of the fixture as (shape, values), read with the same reader the crate uses.
fn reference(key: &str) -> (Vec<usize>, Vec<f32>) {
    let reader = pytorch_reader::PytorchReader::new(fixture()).unwrap();
    let t = reader
        .get(key)
        .unwrap_or_else(|| panic!("fixture lacks {key}"));
    let bytes = t.read().unwrap();
    let values = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    (t.shape().to_vec(), values)
}

fn tensor4(key: &str, device: &Device) -> Tensor<4> {
    let (shape, values) = reference(key);
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn assert_close(actual: Tensor<4>, expected: Tensor<4>) {
    assert_eq!(actual.dims(), expected.dims());
    let scale: f32 = expected.clone().abs().max().into_scalar();
    let err: f32 = (actual - expected).abs().max().into_scalar();
    assert!(
        err <= 1e-4 * scale.max(1.0),
        "max abs error {err} (scale {scale})"
    );
}

#[test]
fn pth_is_read_with_torchvision_preprocessing_and_matches_pytorch() {
    let device = Device::flex();
    let file = VggWeightFile::open(fixture()).unwrap();
    assert_eq!(file.preprocess(), Preprocess::Torchvision);
    assert!(file.keys().contains(&"features.0.weight".to_string()));
    let vgg = file
        .load_vgg(VggDepth::Vgg16, Some("relu1_1"), &device)
        .unwrap();
    let f = vgg
        .features(tensor4("test.input", &device), &["relu1_1"])
        .unwrap();
    assert_close(
        f.expect("relu1_1").clone(),
        tensor4("test.relu1_1", &device),
    );
}

#[test]
fn caffe_metadata_switches_to_bgr_mean_subtraction() {
    // The same weights as a safetensors file that declares Caffe preprocessing.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conv1_caffe.safetensors");
    let tensors: Vec<_> = ["features.0.weight", "features.0.bias"]
        .iter()
        .map(|k| {
            let (shape, values) = reference(k);
            (k.to_string(), shape, values)
        })
        .collect();
    let metadata = HashMap::from([("preprocess".to_string(), "caffe".to_string())]);
    write_safetensors(&path, &tensors, Some(metadata)).unwrap();

    let device = Device::flex();
    let vgg = Vgg::load(&path, VggDepth::Vgg19, Some("relu1_1"), &device).unwrap();
    assert_eq!(vgg.preprocess(), Preprocess::Caffe);
    let f = vgg
        .features(tensor4("test.input", &device), &["relu1_1"])
        .unwrap();
    assert_close(
        f.expect("relu1_1").clone(),
        tensor4("test.relu1_1_caffe", &device),
    );
}

#[test]
fn a_tensor_missing_from_the_pth_is_named() {
    let err = Vgg::load(fixture(), VggDepth::Vgg16, Some("relu1_2"), &Device::flex()).unwrap_err();
    match &err {
        WeightsError::MissingTensor { key, layer, .. } => {
            assert_eq!(key, "features.2.weight");
            assert_eq!(layer, "conv1_2");
        }
        other => panic!("expected MissingTensor, got {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("vgg_conv1_1.pth") && msg.contains("features.2.weight"),
        "{msg}"
    );
}
