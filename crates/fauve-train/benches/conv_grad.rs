//! TransformerNet's convolutions at 256², batch 4: forward, input gradient and weight
//! gradient of each, timed alone (the weight gradient is what the VGG never needs).

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

mod common;
use common::{cpu_seconds, device, env_or};

fn main() {
    fauve_train::vgg::retain_freed_memory();
    let batch: usize = env_or("FAUVE_BENCH_BATCH", 4);
    let size: usize = env_or("FAUVE_BENCH_SIZE", 256);
    let device = device().autodiff();
    // (name, c_in, c_out, kernel, stride, input side before padding)
    let s = size;
    let layers = [
        ("conv1 9×9", 3, 32, 9, 1, s),
        ("conv2 s2", 32, 64, 3, 2, s),
        ("conv3 s2", 64, 128, 3, 2, s / 2),
        ("res ×10", 128, 128, 3, 1, s / 4),
        ("deconv1", 128, 64, 3, 1, s / 2),
        ("deconv2", 64, 32, 3, 1, s),
        ("deconv3 9×9", 32, 3, 9, 1, s),
    ];
    println!("layer          forward   x-grad   w-grad  (s, wall; cpu-s in brackets)");
    let (mut tf, mut tx, mut tw) = (0.0, 0.0, 0.0);
    for (name, ci, co, k, stride, side) in layers {
        let p = k / 2;
        let x0 = Tensor::<4>::random(
            [batch, ci, side + 2 * p, side + 2 * p],
            burn::tensor::Distribution::Default,
            &device,
        );
        let w0 = Tensor::<4>::random([co, ci, k, k], burn::tensor::Distribution::Default, &device);
        let opts = || ConvOptions::new([stride, stride], [0, 0], [1, 1], 1);
        let time = |f: &dyn Fn()| {
            f();
            let (t, c) = (Instant::now(), cpu_seconds());
            for _ in 0..2 {
                f();
            }
            (t.elapsed().as_secs_f64() / 2.0, (cpu_seconds() - c) / 2.0)
        };
        let fwd = time(&|| {
            let y = conv2d(x0.clone(), w0.clone(), None, opts());
            let _: f32 = y.sum().into_scalar();
        });
        let xg = time(&|| {
            let x = x0.clone().require_grad();
            let y = conv2d(x.clone(), w0.clone(), None, opts());
            let g = y.sum().backward();
            let _: f32 = x.grad(&g).unwrap().sum().into_scalar();
        });
        let wg = time(&|| {
            let w = w0.clone().require_grad();
            let y = conv2d(x0.clone(), w.clone(), None, opts());
            let g = y.sum().backward();
            let _: f32 = w.grad(&g).unwrap().sum().into_scalar();
        });
        let reps = if name.starts_with("res") { 10.0 } else { 1.0 };
        let (x, w) = ((xg.0 - fwd.0).max(0.0), (wg.0 - fwd.0).max(0.0));
        tf += reps * fwd.0;
        tx += reps * x;
        tw += reps * w;
        println!(
            "{name:<13} {:>7.3}  {:>7.3}  {:>7.3}   ({:.2} / {:.2} / {:.2})",
            fwd.0,
            x,
            w,
            fwd.1,
            (xg.1 - fwd.1).max(0.0),
            (wg.1 - fwd.1).max(0.0)
        );
    }
    println!("whole net     {tf:>7.3}  {tx:>7.3}  {tw:>7.3}   (res blocks counted 10×)");
}
