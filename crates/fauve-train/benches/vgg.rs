//! Loss-network speed: VGG16 up to relu4_3, forward plus the gradient with respect to the
//! input, batch 4 at 256² — the VGG's share of one Johnson training step.
//!
//! `cargo bench -p fauve-train --bench vgg` (burn-flex, random weights: speed does not depend
//! on the values). Options through the environment: `FAUVE_BENCH_BATCH` (4),
//! `FAUVE_BENCH_SIZE` (256), `FAUVE_BENCH_RUNS` (5), `FAUVE_BENCH_LAYER` (relu4_3),
//! `FAUVE_BENCH_VGG` (16 or 19).
//! With `--features cuda`, `FAUVE_BENCH_DEVICE=cuda` measures the GPU instead.

use std::time::Instant;

use burn::prelude::*;
use fauve_train::vgg::{Preprocess, Vgg, VggDepth};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn device() -> Device {
    match std::env::var("FAUVE_BENCH_DEVICE").as_deref() {
        #[cfg(feature = "cuda")]
        Ok("cuda") => Device::cuda(0),
        _ => Device::flex(),
    }
}

fn main() {
    let batch: usize = env_or("FAUVE_BENCH_BATCH", 4);
    let size: usize = env_or("FAUVE_BENCH_SIZE", 256);
    let runs: usize = env_or("FAUVE_BENCH_RUNS", 5);
    let layer: String = env_or("FAUVE_BENCH_LAYER", "relu4_3".to_string());
    let depth = if env_or("FAUVE_BENCH_VGG", 16) == 19 { VggDepth::Vgg19 } else { VggDepth::Vgg16 };
    let device = device().autodiff();

    let vgg = Vgg::random(depth, Some(&layer), Preprocess::Torchvision, &device).expect("layer");
    let image = Tensor::<4>::random(
        [batch, 3, size, size],
        burn::tensor::Distribution::Uniform(0.0, 255.0),
        &device,
    );
    let step = || {
        let x = image.clone().require_grad();
        let f = vgg.features(x.clone(), &[layer.as_str()]).unwrap();
        let grads = f.expect(&layer).clone().sum().backward();
        let g = x.grad(&grads).unwrap();
        // Reading a value back waits for the work to finish.
        let _: f32 = g.sum().into_scalar();
    };

    let warm = Instant::now();
    step();
    println!("{depth} to {layer}, batch {batch} at {size}², forward + input gradient");
    println!("  warm-up   {:.3} s", warm.elapsed().as_secs_f64());
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            step();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = times[times.len() / 2];
    println!("  runs      {}", times.iter().map(|t| format!("{t:.3}")).collect::<Vec<_>>().join(" "));
    println!("  median    {median:.3} s  ({:.2} images/s)", batch as f64 / median);
}
