//! Seconds per L-BFGS function evaluation in `fauve optimize`: one VGG19 forward to relu5_1
//! and the backward to the pixels, with the Gatys preset (content relu4_2, style relu1_1 …
//! relu5_1), at 256 px longest side (256×171), plus the host copies the optimiser does.
//! Reference: PyTorch, the same evaluation on this machine, 0.43 s.
//!
//! `cargo bench -p fauve-train --bench lbfgs_eval`. Uses
//! `../shared/weights/vgg19-imagenet-caffe.safetensors` (or `FAUVE_BENCH_WEIGHTS`); without
//! it, says so and times random weights instead (the cost does not depend on the values).
//! `FAUVE_BENCH_RUNS` (7) timed evaluations after 2 warm-up ones; `FAUVE_BENCH_WIDTH` /
//! `FAUVE_BENCH_HEIGHT` (256 × 171). With `--features cuda`, `FAUVE_BENCH_DEVICE=cuda`.

use std::path::PathBuf;
use std::time::Instant;

use fauve_infer::ImageTensor;
use fauve_train::lbfgs::Objective;
use fauve_train::loss::{PerceptualLoss, PerceptualLossConfig};
use fauve_train::optimize::{PixelObjective, uniform_noise};
use fauve_train::transformer::image_to_tensor;
use fauve_train::vgg::{Preprocess, Vgg};

mod common;
use common::{cpu_seconds, device, env_or};

fn main() {
    let (width, height) = (
        env_or("FAUVE_BENCH_WIDTH", 256u32),
        env_or("FAUVE_BENCH_HEIGHT", 171u32),
    );
    let runs = env_or("FAUVE_BENCH_RUNS", 7usize).max(1);
    let device = device();
    let autodiff = device.clone().autodiff();
    let config = PerceptualLossConfig::gatys();
    let deepest = config.deepest_layer().unwrap();

    let weights = std::env::var("FAUVE_BENCH_WEIGHTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/weights/vgg19-imagenet-caffe.safetensors")
        });
    let vgg = match weights.exists() {
        true => Vgg::load(&weights, config.vgg, Some(&deepest), &autodiff)
            .expect("loading the VGG19 weights"),
        false => {
            println!(
                "{} not found: timing RANDOM VGG19 weights (same cost)",
                weights.display()
            );
            Vgg::random(config.vgg, Some(&deepest), Preprocess::Caffe, &autodiff).unwrap()
        }
    };
    let n = 3 * (width * height) as usize;
    let style = ImageTensor::new(width, height, uniform_noise(n, 1));
    let content = ImageTensor::new(width, height, uniform_noise(n, 2));
    let loss = PerceptualLoss::new(vgg, config, image_to_tensor(&style, &autodiff)).unwrap();
    let mut objective = PixelObjective::new(&loss, &content, &device);
    let x = uniform_noise(n, 3);

    for _ in 0..2 {
        objective.evaluate(&x);
    }
    let cpu_before = cpu_seconds();
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let (_, grad) = objective.evaluate(&x);
            assert_eq!(grad.len(), n);
            t.elapsed().as_secs_f64()
        })
        .collect();
    let cpu_per_evaluation = (cpu_seconds() - cpu_before) / runs as f64;
    times.sort_by(f64::total_cmp);
    println!(
        "L-BFGS evaluation, gatys preset (VGG19 to relu5_1), {width}×{height}, {device:?}: median {:.3} s, min {:.3} s, max {:.3} s over {runs} runs; {cpu_per_evaluation:.3} CPU-s each on {} threads (PyTorch reference: 0.43 s)",
        times[runs / 2],
        times[0],
        times[runs - 1],
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
}
