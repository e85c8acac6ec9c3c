//! The one objective: PerceptualLoss with a random VGG16 on small images.

use burn::prelude::*;
use fauve_train::loss::{LossError, PerceptualLoss, PerceptualLossConfig};
use fauve_train::vgg::VggDepth;

mod common;
use common::{random_vgg16, small_loss_config};

fn image(n: usize, device: &Device) -> Tensor<4> {
    Tensor::random(
        [n, 3, 16, 16],
        burn::tensor::Distribution::Uniform(0.0, 255.0),
        device,
    )
}

fn loss(device: &Device, style: Tensor<4>) -> PerceptualLoss {
    let config = small_loss_config();
    let deepest = config.deepest_layer().unwrap();
    assert_eq!(deepest, "relu2_2");
    let vgg = random_vgg16(&deepest, device);
    PerceptualLoss::new(vgg, config, style).unwrap()
}

fn value(t: Tensor<1>) -> f32 {
    t.into_scalar()
}

#[test]
fn total_is_the_sum_of_weighted_parts() {
    let device = Device::flex();
    let l = loss(&device, image(1, &device));
    let parts = l.forward(image(2, &device), image(2, &device));
    let (c, s, tv, total) = (
        value(parts.content),
        value(parts.style),
        value(parts.tv),
        value(parts.total),
    );
    assert!(c > 0.0 && s > 0.0 && tv > 0.0);
    assert!((total - (c + s + tv)).abs() <= 1e-4 * total);
}

#[test]
fn content_image_itself_has_zero_content_loss_and_style_image_zero_style_loss() {
    let device = Device::flex();
    let style = image(1, &device);
    let l = loss(&device, style.clone());
    let content = image(1, &device);
    let parts = l.forward(content.clone(), content);
    assert!(value(parts.content).abs() < 1e-6);
    let parts = l.forward(style.clone(), image(1, &device));
    assert!(
        value(parts.style).abs() < 1e-3 * l.config().style_weight * 1e-10,
        "style loss of the style image"
    );
}

#[test]
fn precomputed_content_target_gives_the_same_loss() {
    let device = Device::flex();
    let l = loss(&device, image(1, &device));
    let (out, content) = (image(1, &device), image(1, &device));
    let a = value(l.forward(out.clone(), content.clone()).total);
    let target = l.content_target(content);
    let b = value(l.forward_with_target(out, &target).total);
    assert!((a - b).abs() <= 1e-5 * a.abs());
}

#[test]
fn gradient_flows_to_the_output_image_only() {
    let device = Device::flex().autodiff();
    let l = loss(&device, image(1, &device));
    let out = image(1, &device).require_grad();
    let content = image(1, &device).require_grad();
    let grads = l.forward(out.clone(), content.clone()).total.backward();
    let g: f32 = out
        .grad(&grads)
        .expect("output gradient")
        .abs()
        .sum()
        .into_scalar();
    assert!(g > 0.0);
    // The content target is detached: no gradient reaches the content image.
    assert!(
        content
            .grad(&grads)
            .map(|g| g.abs().sum().into_scalar::<f32>() == 0.0)
            .unwrap_or(true)
    );
    for conv in l.vgg().convs() {
        assert!(conv.weight.grad(&grads).is_none());
    }
}

#[test]
fn style_grams_are_computed_at_style_size() {
    let device = Device::flex();
    let config = PerceptualLossConfig {
        style_size: Some(8),
        ..small_loss_config()
    };
    let vgg = random_vgg16("relu2_2", &device);
    let l = PerceptualLoss::new(vgg, config, image(1, &device)).unwrap();
    assert_eq!(
        l.style_loss().target_gram("relu1_2").unwrap().dims(),
        [1, 64, 64]
    );
}

#[test]
fn configuration_mistakes_are_errors() {
    let device = Device::flex();
    let vgg = random_vgg16("relu2_2", &device);
    let bad = PerceptualLossConfig {
        style_layer_weights: vec![1.0],
        ..small_loss_config()
    };
    assert!(matches!(
        PerceptualLoss::new(vgg.clone(), bad, image(1, &device)),
        Err(LossError::StyleWeightCount { .. })
    ));
    let gatys = PerceptualLossConfig::gatys();
    assert!(matches!(
        PerceptualLoss::new(vgg.clone(), gatys, image(1, &device)),
        Err(LossError::WrongVgg { .. })
    ));
    // Johnson's full set needs relu4_3, beyond this VGG's prefix.
    let err =
        PerceptualLoss::new(vgg, PerceptualLossConfig::johnson(), image(1, &device)).unwrap_err();
    assert!(err.to_string().contains("relu4_3"), "{err}");
}

#[test]
fn presets_choose_the_papers_layers() {
    let j = PerceptualLossConfig::default();
    assert_eq!(j.vgg, VggDepth::Vgg16);
    assert_eq!(j.deepest_layer().unwrap(), "relu4_3");
    let g = PerceptualLossConfig::gatys();
    assert_eq!(g.vgg, VggDepth::Vgg19);
    assert_eq!(g.content_layers, ["relu4_2"]);
    assert_eq!(g.deepest_layer().unwrap(), "relu5_1");
}

#[test]
fn config_reads_partial_toml_with_defaults() {
    let c: PerceptualLossConfig =
        toml::from_str("vgg = \"vgg19\"\ncontent_weight = 2.0\n").unwrap();
    assert_eq!(c.vgg, VggDepth::Vgg19);
    assert_eq!(c.content_weight, 2.0);
    assert_eq!(c.style_weight, PerceptualLossConfig::default().style_weight);
    assert!(toml::from_str::<PerceptualLossConfig>("contnet_weight = 1.0").is_err());
    let back: PerceptualLossConfig = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
}

#[test]
fn zero_tv_weight_gives_a_zero_tv_part() {
    let device = Device::flex().autodiff();
    let config = PerceptualLossConfig {
        tv_weight: 0.0,
        ..small_loss_config()
    };
    let vgg = random_vgg16("relu2_2", &device);
    let l = PerceptualLoss::new(vgg, config, image(1, &device)).unwrap();
    let out = image(1, &device).require_grad();
    let parts = l.forward(out.clone(), image(1, &device));
    assert_eq!(value(parts.tv.clone()), 0.0);
    let grads = parts.total.backward();
    assert!(out.grad(&grads).is_some());
}

#[test]
fn style_loss_by_layer_names_each_style_layer_and_adds_up_to_the_style_loss() {
    let device = Device::flex();
    let l = loss(&device, image(1, &device));
    let (output, content) = (image(2, &device), image(2, &device));
    let (parts, terms) = l.forward_by_layer(output.clone(), content.clone());
    let layers: Vec<&str> = terms.iter().map(|(layer, _)| layer.as_str()).collect();
    assert_eq!(layers, l.config().style_layers);
    let terms: Vec<f32> = terms.into_iter().map(|(_, t)| value(t)).collect();
    assert!(terms.iter().all(|&t| t > 0.0), "{terms:?}");
    let style = value(parts.style);
    let sum: f32 = terms.iter().sum();
    assert!((sum - style).abs() <= 1e-4 * style, "{sum} against {style}");
    // The same parts as forward gives.
    let plain = l.forward(output, content);
    assert_eq!(value(plain.total), value(parts.total));
}
