//! Training throughput: one Johnson et al. step (TransformerNet forward, VGG perceptual loss,
//! backward, Adam) at 256², batch 4, VGG16 to relu4_3 — images per second and peak memory.
//!
//! `cargo bench -p fauve-train --bench train_step`. Random VGG weights (speed does not depend
//! on the values; no ImageNet VGG16 is reachable on fauve's machines). Environment:
//! `FAUVE_BENCH_SIZE` (256), `FAUVE_BENCH_BATCH` (4), `FAUVE_BENCH_STEPS` (5, after 1
//! warm-up), `FAUVE_BENCH_VGG` (16 or 19: 19 uses the shipped styles' layers, relu1_1…relu4_1),
//! `FAUVE_BENCH_SHARDS` (batch shards computed side by side, as `fauve train --shards`;
//! default as `fauve train`: one per core on the CPU, 1 on CUDA).
//! With `--features cuda`, `FAUVE_BENCH_DEVICE=cuda` measures the GPU.
//! Peak memory is the process's resident high-water mark (VmHWM), CPU only.

use std::time::Instant;

use burn::optim::AdamConfig;
use burn::prelude::*;
use fauve_train::loss::{PerceptualLoss, PerceptualLossConfig};
use fauve_train::step::StepRunner;
use fauve_train::transformer::TransformerNet;
use fauve_train::vgg::{Preprocess, Vgg, VggDepth};

mod common;
use common::{device, env_or, peak_resident_mib};

fn main() {
    let size: usize = env_or("FAUVE_BENCH_SIZE", 256);
    let batch: usize = env_or("FAUVE_BENCH_BATCH", 4);
    let steps: usize = env_or("FAUVE_BENCH_STEPS", 5);
    let vgg: u32 = env_or("FAUVE_BENCH_VGG", 16);
    let on_cuda = std::env::var("FAUVE_BENCH_DEVICE").as_deref() == Ok("cuda");
    let shards: usize = env_or(
        "FAUVE_BENCH_SHARDS",
        if on_cuda {
            1
        } else {
            StepRunner::default_cpu_shards(batch)
        },
    );
    // As `fauve train` does (see `retain_freed_memory`).
    fauve_train::vgg::retain_freed_memory();
    let device = device().autodiff();

    let mut config = PerceptualLossConfig::johnson();
    if vgg == 19 {
        config.vgg = VggDepth::Vgg19;
        config.style_layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1"]
            .map(String::from)
            .to_vec();
    }
    let deepest = config.deepest_layer().unwrap();
    let vgg_net =
        Vgg::random(config.vgg, Some(&deepest), Preprocess::Torchvision, &device).unwrap();
    let style = Tensor::<4>::random(
        [1, 3, size, size],
        burn::tensor::Distribution::Uniform(0.0, 255.0),
        &device,
    );
    let loss = PerceptualLoss::new(vgg_net, config.clone(), style).unwrap();
    let mut network = TransformerNet::seeded(1, &device);
    let mut optimizer = AdamConfig::new().init();
    let photos = Tensor::<4>::random(
        [batch, 3, size, size],
        burn::tensor::Distribution::Uniform(0.0, 255.0),
        &device,
    );

    let runner = StepRunner::new(shards).unwrap();
    println!(
        "train step: {size}², batch {batch}, {:?} to {deepest}, {steps} timed steps after 1 warm-up, {} threads, {} shard(s)",
        config.vgg,
        rayon::current_num_threads(),
        runner.shards(batch)
    );
    let mut seconds = Vec::new();
    for i in 0..=steps {
        let t = Instant::now();
        let (_, grads) = runner.run(&network, &loss, photos.clone()).unwrap();
        network = optimizer.step(1e-3, network, grads);
        // Reading a weight back waits for the step to finish on any backend.
        let _: f32 = network.conv1.conv2d.weight.val().sum().into_scalar();
        let s = t.elapsed().as_secs_f64();
        if i > 0 {
            seconds.push(s);
        }
        println!(
            "  step {i}: {s:.2} s{}",
            if i == 0 { " (warm-up)" } else { "" }
        );
    }
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    println!(
        "median {median:.2} s/step = {:.3} images/s (min {:.2} s, max {:.2} s); peak resident memory {:.0} MiB",
        batch as f64 / median,
        seconds[0],
        seconds[seconds.len() - 1],
        peak_resident_mib()
    );
    println!("reference, PyTorch 2.15 on the same 2-core CPU: 0.75 images/s");
}
