//! Gatys optimisation on a random VGG16 prefix and tiny images: it lowers the loss with
//! either optimiser and start, reports every iteration, and scoring is deterministic.

use fauve_infer::ImageTensor;
use fauve_train::loss::PerceptualLoss;
use fauve_train::optimize::{Init, Method, OptimizeOptions, optimize, score};
use fauve_train::transformer::{Device, image_to_tensor};

mod common;
use common::{random_vgg16, small_loss_config};

fn picture(width: u32, height: u32, phase: u32) -> ImageTensor {
    let plane = (width * height) as usize;
    let mut data = vec![0.0; 3 * plane];
    for y in 0..height {
        for x in 0..width {
            let i = (y * width + x) as usize;
            data[i] = ((x * 13 + phase * 40) % 256) as f32;
            data[plane + i] = ((y * 9 + x * 3) % 256) as f32;
            data[2 * plane + i] = if (x / 4 + y / 4 + phase).is_multiple_of(2) {
                220.0
            } else {
                30.0
            };
        }
    }
    ImageTensor::new(width, height, data)
}

fn small_loss(device: &Device) -> PerceptualLoss {
    let style = image_to_tensor(&picture(24, 20, 1), device);
    PerceptualLoss::new(random_vgg16("relu2_2", device), small_loss_config(), style).unwrap()
}

#[test]
fn lbfgs_lowers_the_loss_and_reports_every_iteration() {
    let device = Device::flex();
    let loss = small_loss(&device.clone().autodiff());
    let content = picture(20, 16, 0);
    let options = OptimizeOptions {
        iterations: 8,
        ..OptimizeOptions::default()
    };
    let mut seen = Vec::new();
    let result = optimize(&loss, &content, &device, &options, |r, image| {
        assert_eq!((image.width, image.height), (20, 16));
        seen.push(r.iteration);
    })
    .unwrap();
    assert_eq!(seen, (0..=8).collect::<Vec<_>>());
    assert_eq!(result.history.len(), 9);
    let (first, last) = (result.history[0].losses.total, result.last().losses.total);
    assert!(last < 0.5 * first, "loss {first} → {last}");
    // Backtracking never accepts a rise.
    for pair in result.history.windows(2) {
        assert!(pair[1].losses.total <= pair[0].losses.total);
        assert!(pair[1].evaluations > pair[0].evaluations);
        assert!(pair[1].elapsed_secs >= pair[0].elapsed_secs);
    }
    assert_eq!(result.evaluations, result.last().evaluations);
    // The reported loss is the loss of the returned image.
    let rescored = score(&loss, &result.image, &content, &device).unwrap();
    assert!(
        (rescored.total - last).abs() <= 1e-4 * last.abs(),
        "{rescored} vs {last}"
    );
}

#[test]
fn adam_from_noise_lowers_the_loss() {
    let device = Device::flex();
    let loss = small_loss(&device.clone().autodiff());
    let content = picture(20, 16, 0);
    let options = OptimizeOptions {
        method: Method::Adam,
        init: Init::Noise,
        iterations: 15,
        seed: 3,
        ..OptimizeOptions::default()
    };
    let result = optimize(&loss, &content, &device, &options, |_, _| {}).unwrap();
    assert_eq!(result.history.len(), 16);
    assert_eq!(result.evaluations, 16);
    assert!(result.last().losses.total < result.history[0].losses.total);
}

#[test]
fn noise_start_depends_on_the_seed_only() {
    let device = Device::flex();
    let loss = small_loss(&device.clone().autodiff());
    let content = picture(20, 16, 0);
    let start = |seed| {
        let options = OptimizeOptions {
            method: Method::Adam,
            init: Init::Noise,
            iterations: 1,
            seed,
            ..OptimizeOptions::default()
        };
        let mut first = None;
        optimize(&loss, &content, &device, &options, |r, image| {
            if r.iteration == 0 {
                first = Some(image.clone());
            }
        })
        .unwrap();
        first.unwrap()
    };
    assert_eq!(start(7), start(7));
    assert_ne!(start(7), start(8));
    assert!(start(7).data.iter().all(|v| (0.0..255.0).contains(v)));
}

#[test]
fn scoring_the_same_image_twice_gives_identical_numbers() {
    let device = Device::flex();
    let loss = small_loss(&device.clone().autodiff());
    let content = picture(20, 16, 0);
    let output = picture(20, 16, 2);
    let a = score(&loss, &output, &content, &device).unwrap();
    let b = score(&loss, &output, &content, &device).unwrap();
    assert_eq!(a, b);
    assert!(a.content > 0.0 && a.style > 0.0 && a.tv > 0.0);
    assert!((a.total - (a.content + a.style + a.tv)).abs() <= 1e-5 * a.total);
    // The content image itself has no content loss.
    assert_eq!(
        score(&loss, &content, &content, &device).unwrap().content,
        0.0
    );
    assert!(score(&loss, &picture(10, 10, 0), &content, &device).is_err());
}

/// A content target brighter than any 8-bit image pulls the pixels past 255. What is
/// optimised, reported and returned is the clamped image, so the reported loss is what the
/// saved file scores (unclamped, the last report and the clamped file disagreed).
#[test]
fn pixels_stay_in_range_and_the_report_scores_the_clamped_image() {
    let device = Device::flex();
    let loss = small_loss(&device.clone().autodiff());
    let mut bright = picture(20, 16, 0);
    bright.data.iter_mut().for_each(|v| *v = *v * 3.0 + 100.0);
    for method in [Method::Lbfgs, Method::Adam] {
        let options = OptimizeOptions {
            method,
            init: Init::Noise,
            iterations: 12,
            seed: 5,
            ..OptimizeOptions::default()
        };
        let mut frames_in_range = true;
        let result = optimize(&loss, &bright, &device, &options, |_, image| {
            frames_in_range &= image.data.iter().all(|v| (0.0..=255.0).contains(v));
        })
        .unwrap();
        assert!(frames_in_range, "{method:?}: a frame left 0–255");
        assert!(
            result.image.data.iter().all(|v| (0.0..=255.0).contains(v)),
            "{method:?}: the result left 0–255"
        );
        // The optimum wants bright pixels: many sit on the upper bound.
        let saturated = result.image.data.iter().filter(|v| **v == 255.0).count();
        assert!(saturated > 0, "{method:?}: no pixel reached 255");
        let last = result.last().losses.total;
        assert!(last < result.history[0].losses.total, "{method:?}");
        let rescored = score(&loss, &result.image, &bright, &device).unwrap();
        assert!(
            (rescored.total - last).abs() <= 1e-4 * last.abs(),
            "{method:?}: {rescored} vs {last}"
        );
    }
}
