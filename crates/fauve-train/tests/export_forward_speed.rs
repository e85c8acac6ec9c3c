//! Timing of one TransformerNet forward pass on burn's CPU backend (flex), the cost the
//! export parity check pays per checked size. Ignored by default (it measures, not asserts
//! behaviour); run with:
//!
//! ```text
//! cargo test -p fauve-train --test export_forward_speed -- --ignored --nocapture
//! ```

use std::time::Instant;

use burn::prelude::*;
use fauve_train::onnx::test_image;
use fauve_train::transformer::{TransformerNet, image_to_tensor, tensor_to_image};

#[test]
#[ignore = "timing; run explicitly with --ignored --nocapture"]
fn burn_flex_forward_time_at_256_and_512() {
    let device = Device::flex();
    let net = TransformerNet::seeded(0, &device);
    for side in [256u32, 512] {
        let input = image_to_tensor(&test_image(side, side), &device);
        // One warm-up run: first-use allocations and thread-pool start are not the model's cost.
        let _ = tensor_to_image(net.forward(input.clone())).unwrap();
        let runs = 3;
        let start = Instant::now();
        for _ in 0..runs {
            let out = tensor_to_image(net.forward(input.clone())).unwrap();
            assert_eq!((out.width, out.height), (side, side));
        }
        let ms = start.elapsed().as_secs_f64() * 1000.0 / runs as f64;
        eprintln!(
            "burn flex forward {side}×{side}: {ms:.0} ms per image (mean of {runs}, {} threads)",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
    }
}
