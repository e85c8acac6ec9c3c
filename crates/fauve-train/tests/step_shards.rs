//! A batch split into shards gives the whole batch's loss and gradients.

use burn::module::{ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use fauve_train::loss::PerceptualLoss;
use fauve_train::metrics::LossValues;
use fauve_train::step::StepRunner;
use fauve_train::transformer::TransformerNet;

mod common;
use common::{random_vgg16, small_loss_config};

fn image(n: usize, side: usize, device: &Device) -> Tensor<4> {
    Tensor::random(
        [n, 3, side, side],
        burn::tensor::Distribution::Uniform(0.0, 255.0),
        device,
    )
}

fn small_loss(device: &Device) -> PerceptualLoss {
    PerceptualLoss::new(
        random_vgg16("relu2_2", device),
        small_loss_config(),
        image(1, 24, device),
    )
    .unwrap()
}

/// Every parameter's largest gradient (whole batch) and largest difference from the shards'.
struct CompareGradients<'a> {
    whole: &'a GradientsParams,
    sharded: &'a GradientsParams,
    /// (largest |gradient|, largest |difference|) per parameter.
    found: Vec<(f32, f32)>,
}

impl ModuleVisitor for CompareGradients<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let whole = self
            .whole
            .get::<D>(param.id)
            .expect("the whole batch's gradient");
        let sharded = self
            .sharded
            .get::<D>(param.id)
            .expect("the shards' gradient");
        let scale: f32 = whole.clone().abs().max().into_scalar();
        let diff: f32 = (whole - sharded).abs().max().into_scalar();
        self.found.push((scale, diff));
    }
}

#[test]
fn shards_give_the_whole_batchs_loss_and_gradients() {
    let device = Device::flex().autodiff();
    let loss = small_loss(&device);
    let network = TransformerNet::seeded(3, &device);
    // Three photos in two shards: unequal shares (2 and 1), which the weighting must handle.
    // The third is much darker, so its loss differs from the others' and a wrong weight shows.
    let photos = Tensor::cat(vec![image(2, 24, &device), image(1, 24, &device) * 0.1], 0);

    let whole_runner = StepRunner::new(1).unwrap();
    assert_eq!(whole_runner.shards(3), 1);
    let (whole_losses, whole) = whole_runner.run(&network, &loss, photos.clone()).unwrap();
    let whole_values = LossValues::from_stacked(whole_losses);
    let sharded_runner = StepRunner::new(2).unwrap();
    assert_eq!(sharded_runner.shards(3), 2);
    let (sharded_losses, sharded) = sharded_runner.run(&network, &loss, photos).unwrap();
    let sharded_values = LossValues::from_stacked(sharded_losses);

    for (w, s) in whole_values
        .as_array()
        .into_iter()
        .zip(sharded_values.as_array())
    {
        assert!(
            (w - s).abs() <= 1e-4 * w.abs().max(1.0),
            "losses differ: {whole_values} vs {sharded_values}"
        );
    }
    let mut compare = CompareGradients {
        whole: &whole,
        sharded: &sharded,
        found: Vec::new(),
    };
    network.visit(&mut compare);
    assert_eq!(
        compare.found.len(),
        whole.len(),
        "every parameter has a gradient"
    );
    // Biases right before an instance norm have a zero gradient up to rounding, so each
    // parameter is judged against at least a thousandth of the largest gradient of all.
    let largest = compare
        .found
        .iter()
        .map(|&(scale, _)| scale)
        .fold(0.0, f32::max);
    assert!(largest > 0.0);
    for (i, &(scale, diff)) in compare.found.iter().enumerate() {
        let relative = diff / scale.max(1e-3 * largest);
        assert!(
            relative < 1e-3,
            "parameter {i}: gradients differ by {relative:.2e} of their largest value"
        );
    }
}

#[test]
fn there_are_never_more_shards_than_images() {
    let runner = StepRunner::new(4).unwrap();
    assert_eq!(runner.shards(2), 2);
    assert_eq!(runner.shards(1), 1);
    assert_eq!(runner.shards(8), 4);
    assert!(StepRunner::default_cpu_shards(4) >= 1 && StepRunner::default_cpu_shards(4) <= 4);
    assert_eq!(StepRunner::default_cpu_shards(1), 1);
}
