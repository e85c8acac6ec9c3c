//! Loss-network speed: VGG16 up to relu4_3, forward plus the gradient with respect to the
//! input, batch 4 at 256² — the VGG's share of one Johnson training step.
//!
//! `cargo bench -p fauve-train --bench vgg` (burn-flex, random weights: speed does not depend
//! on the values). Options through the environment: `FAUVE_BENCH_BATCH` (4),
//! `FAUVE_BENCH_SIZE` (256), `FAUVE_BENCH_RUNS` (5), `FAUVE_BENCH_LAYER` (relu4_3),
//! `FAUVE_BENCH_VGG` (16 or 19).
//! `FAUVE_BENCH_MODE=layers` times each convolution's forward and input-gradient alone.
//! With `--features cuda`, `FAUVE_BENCH_DEVICE=cuda` measures the GPU instead.
//!
//! # Findings (2-core AMD EPYC, AVX-512, shared with other builds)
//! - Profile: ~62% of the step is gemm (`gemm_f32` avx512 x4x6 microkernel + packing), ~20%
//!   burn-flex's im2col / NHWC conversion / col2im, ~5% page faults and zeroing of fresh
//!   pages, the rest element-wise ops (ReLU, pooling, their backward).
//! - The input gradient of each conv (`conv_transpose2d`) costs no more than its forward
//!   conv2d (1.20 s vs 1.44 s summed over the 10 convolutions), so re-expressing it as a
//!   forward convolution with flipped weights would not help.
//! - In CPU-seconds per step burn-flex is within ~5% of PyTorch 2.15 (4.50 vs 4.31, measured
//!   back to back), so the wall-clock gap comes from how well the two cores are kept busy.
//! - glibc returning big freed blocks to the kernel costs ~170k page faults per step;
//!   [`retain_freed_memory`](fauve_train::vgg::retain_freed_memory) removes 75% of them and
//!   7–11% of the CPU time.
//! - Dev/test profile builds are ~3× slower than release (14.2 s vs 5.0 s wall under the same
//!   load): time and train in release.
//! - burn's `cpu` backend (CubeCL + LLVM) cannot be built here: its build downloads an LLVM
//!   bundle from GitHub, which these machines cannot reach.

use std::time::Instant;

use burn::prelude::*;
use fauve_train::vgg::{Preprocess, Vgg, VggDepth};

mod common;
use common::{cpu_seconds, device, env_or};

fn per_layer(batch: usize, size: usize, depth: VggDepth, layer: &str, device: &Device) {
    use burn::tensor::module::{conv_transpose2d, conv2d};
    use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
    let sync = |t: Tensor<4>| {
        let _: f32 = t.sum().into_scalar();
    };
    let time = |f: &dyn Fn() -> Tensor<4>| {
        sync(f());
        let t = Instant::now();
        for _ in 0..2 {
            sync(f());
        }
        t.elapsed().as_secs_f64() / 2.0
    };
    let needed = depth.convs_needed_for(layer).unwrap();
    let (mut total_fwd, mut total_bwd) = (0.0, 0.0);
    let mut side = size;
    println!("  layer     shape            forward   x-grad (s)");
    for spec in depth.convs().into_iter().take(needed) {
        if spec.name.ends_with("_1") && spec.name != "conv1_1" {
            side /= 2; // a pool sits before each block's first convolution
        }
        let x = Tensor::<4>::random(
            [batch, spec.in_channels, side, side],
            burn::tensor::Distribution::Default,
            device,
        );
        let g = Tensor::<4>::random(
            [batch, spec.out_channels, side, side],
            burn::tensor::Distribution::Default,
            device,
        );
        let w = Tensor::<4>::random(
            spec.weight_shape(),
            burn::tensor::Distribution::Default,
            device,
        );
        let fwd = time(&|| {
            conv2d(
                x.clone(),
                w.clone(),
                None,
                ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
            )
        });
        let bwd = time(&|| {
            conv_transpose2d(
                g.clone(),
                w.clone(),
                None,
                ConvTransposeOptions::new([1, 1], [1, 1], [0, 0], [1, 1], 1),
            )
        });
        total_fwd += fwd;
        total_bwd += bwd;
        println!(
            "  {:8}  {:>3}→{:<3} {:>3}²    {fwd:.3}     {bwd:.3}",
            spec.name, spec.in_channels, spec.out_channels, side
        );
    }
    println!("  total                      {total_fwd:.3}     {total_bwd:.3}");
}

fn main() {
    // As `fauve train` should: see `retain_freed_memory`. FAUVE_BENCH_MALLOC=default to compare.
    if std::env::var("FAUVE_BENCH_MALLOC").as_deref() != Ok("default") {
        let ok = fauve_train::vgg::retain_freed_memory();
        println!("malloc tuned for large tensors: {ok}");
    }
    let batch: usize = env_or("FAUVE_BENCH_BATCH", 4);
    let size: usize = env_or("FAUVE_BENCH_SIZE", 256);
    let runs: usize = env_or("FAUVE_BENCH_RUNS", 5);
    let layer: String = env_or("FAUVE_BENCH_LAYER", "relu4_3".to_string());
    let depth = if env_or("FAUVE_BENCH_VGG", 16) == 19 {
        VggDepth::Vgg19
    } else {
        VggDepth::Vgg16
    };
    if std::env::var("FAUVE_BENCH_MODE").as_deref() == Ok("layers") {
        println!("{depth} to {layer}, batch {batch} at {size}², per convolution");
        per_layer(batch, size, depth, &layer, &device());
        return;
    }
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
    let cpu_start = cpu_seconds();
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            step();
            t.elapsed().as_secs_f64()
        })
        .collect();
    let cpu_per_run = (cpu_seconds() - cpu_start) / runs as f64;
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = times[times.len() / 2];
    println!(
        "  runs      {}",
        times
            .iter()
            .map(|t| format!("{t:.3}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "  median    {median:.3} s  ({:.2} images/s)",
        batch as f64 / median
    );
    println!("  cpu time  {cpu_per_run:.3} s per run (all threads)");
}
