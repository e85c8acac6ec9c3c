//! safetensors VGG files generated at test time: full-shape tensors for a prefix of VGG16.

use std::collections::HashMap;
use std::path::Path;

use burn::prelude::*;
use fauve_train::vgg::{Preprocess, Vgg, VggDepth};
use fauve_train::weights::{WeightsError, synthetic_vgg_tensors, write_safetensors};

/// torchvision-keyed tensors for the first `convs` convolutions of `depth`, deterministic values.
fn vgg_tensors(depth: VggDepth, convs: usize) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    synthetic_vgg_tensors(depth, convs, 0.01)
}

fn write(path: &Path, tensors: &[(String, Vec<usize>, Vec<f32>)], preprocess: Option<&str>) {
    let metadata = preprocess.map(|p| HashMap::from([("preprocess".to_string(), p.to_string())]));
    write_safetensors(path, tensors, metadata).unwrap();
}

#[test]
fn loads_a_prefix_up_to_the_deepest_layer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vgg16_prefix.safetensors");
    write(&path, &vgg_tensors(VggDepth::Vgg16, 4), None);
    let device = Device::flex();
    let vgg = Vgg::load(&path, VggDepth::Vgg16, Some("relu2_2"), &device).unwrap();
    assert_eq!(vgg.loaded_convs(), 4);
    assert_eq!(vgg.preprocess(), Preprocess::Torchvision);
    let x = Tensor::<4>::full([1, 3, 8, 8], 128.0, &device);
    let f = vgg.features(x, &["relu2_2"]).unwrap();
    assert_eq!(f.expect("relu2_2").dims(), [1, 128, 4, 4]);
    // The stored values arrive unchanged (conv1_2 is not touched by preprocessing folding).
    let stored = &vgg_tensors(VggDepth::Vgg16, 2)[2].2;
    let loaded = vgg.convs()[1].weight.to_data().try_to_vec::<f32>().unwrap();
    assert_eq!(&loaded, stored);
}

#[test]
fn asking_deeper_than_the_file_names_the_missing_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vgg16_prefix.safetensors");
    write(&path, &vgg_tensors(VggDepth::Vgg16, 4), None);
    let err = Vgg::load(&path, VggDepth::Vgg16, Some("relu3_1"), &Device::flex()).unwrap_err();
    assert!(
        matches!(&err, WeightsError::MissingTensor { key, .. } if key == "features.10.weight"),
        "{err}"
    );
    assert!(err.to_string().contains("vgg16_prefix.safetensors"));
}

#[test]
fn a_wrong_shape_names_file_tensor_expected_and_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad_shape.safetensors");
    let mut tensors = vgg_tensors(VggDepth::Vgg16, 2);
    tensors[2] = (
        "features.2.weight".into(),
        vec![64, 32, 3, 3],
        vec![0.0; 64 * 32 * 9],
    );
    write(&path, &tensors, None);
    let err = Vgg::load(&path, VggDepth::Vgg16, Some("relu1_2"), &Device::flex()).unwrap_err();
    match &err {
        WeightsError::ShapeMismatch {
            key,
            expected,
            found,
            ..
        } => {
            assert_eq!(key, "features.2.weight");
            assert_eq!(expected, &[64, 64, 3, 3]);
            assert_eq!(found, &[64, 32, 3, 3]);
        }
        other => panic!("expected ShapeMismatch, got {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("bad_shape.safetensors")
            && msg.contains("[64, 32, 3, 3]")
            && msg.contains("[64, 64, 3, 3]"),
        "{msg}"
    );
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let err = Vgg::load(
        "/nonexistent/vgg19.safetensors",
        VggDepth::Vgg19,
        None,
        &Device::flex(),
    )
    .unwrap_err();
    assert!(matches!(err, WeightsError::Io { .. }));
    assert!(err.to_string().contains("/nonexistent/vgg19.safetensors"));
}

#[test]
fn garbage_is_rejected_with_the_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.safetensors");
    std::fs::write(&path, b"this is not a weight file at all").unwrap();
    let err = Vgg::load(&path, VggDepth::Vgg16, None, &Device::flex()).unwrap_err();
    assert!(matches!(err, WeightsError::Safetensors { .. }), "{err}");
    assert!(err.to_string().contains("garbage.safetensors"));
}

#[test]
fn an_unknown_preprocess_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.safetensors");
    write(&path, &vgg_tensors(VggDepth::Vgg16, 1), Some("matlab"));
    let err = Vgg::load(&path, VggDepth::Vgg16, Some("relu1_1"), &Device::flex()).unwrap_err();
    assert!(
        matches!(err, WeightsError::UnknownPreprocess { .. }),
        "{err}"
    );
}

#[test]
fn caffe_and_torchvision_files_take_the_same_rgb_0_255_input() {
    // Folding the preprocessing into conv1_1 must equal applying it to the image.
    let dir = tempfile::tempdir().unwrap();
    let tensors = vgg_tensors(VggDepth::Vgg16, 1);
    let device = Device::flex();
    let x = Tensor::<4>::random(
        [1, 3, 5, 5],
        burn::tensor::Distribution::Uniform(0.0, 255.0),
        &device,
    );
    let (w_shape, w) = (&tensors[0].1, &tensors[0].2);
    let weight = Tensor::<4>::from_data(TensorData::new(w.clone(), w_shape.clone()), &device);
    let bias = Tensor::<1>::from_data(TensorData::new(tensors[1].2.clone(), [64]), &device);
    let conv = |input: Tensor<4>| {
        burn::tensor::activation::relu(burn::tensor::module::conv2d(
            input,
            weight.clone(),
            Some(bias.clone()),
            burn::tensor::ops::ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
        ))
    };

    for (name, preprocess) in [("tv", None), ("caffe", Some("caffe"))] {
        let path = dir.path().join(format!("{name}.safetensors"));
        write(&path, &tensors, preprocess);
        let vgg = Vgg::load(&path, VggDepth::Vgg16, Some("relu1_1"), &device).unwrap();
        let got = vgg
            .features(x.clone(), &["relu1_1"])
            .unwrap()
            .expect("relu1_1")
            .clone();
        let pre = match preprocess {
            None => {
                let mean =
                    Tensor::<1>::from_floats([0.485, 0.456, 0.406], &device).reshape([1, 3, 1, 1]);
                let std =
                    Tensor::<1>::from_floats([0.229, 0.224, 0.225], &device).reshape([1, 3, 1, 1]);
                (x.clone() / 255.0 - mean) / std
            }
            Some(_) => {
                let mean = Tensor::<1>::from_floats([103.939, 116.779, 123.68], &device)
                    .reshape([1, 3, 1, 1]);
                x.clone().flip([1]) - mean
            }
        };
        let want = conv(pre);
        let err: f32 = (got - want.clone()).abs().max().into_scalar();
        let scale: f32 = want.abs().max().into_scalar();
        assert!(
            err <= 1e-4 * scale.max(1.0),
            "{name}: error {err}, scale {scale}"
        );
    }
}
