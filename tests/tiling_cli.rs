//! `fauve stylize --tile`: tiled runs through the real binary, with the shipped trained model.

use std::path::{Path, PathBuf};
use std::process::Output;

use image::{Rgb, RgbImage};

mod common;
use common::{fauve, shipped_model};

fn model() -> PathBuf {
    shipped_model("starry_night")
}

/// An odd-sized picture with structure: gradients, a disc and stripes.
fn picture(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        let disc = (fx - 0.6).powi(2) + (fy - 0.4).powi(2) < 0.05;
        let stripe = (x / 9 + y / 13) % 2 == 0 && fx < 0.3;
        Rgb([
            if disc { 230 } else { (255.0 * fx) as u8 },
            if stripe { 20 } else { (255.0 * fy) as u8 },
            (128.0 + 100.0 * (fx * 7.0).sin() * (fy * 5.0).cos()) as u8,
        ])
    })
}

fn stylize(input: &Path, output: &Path, extra: &[&str]) -> Output {
    fauve()
        .arg("stylize")
        .arg(input)
        .arg("--model")
        .arg(model())
        .arg("-o")
        .arg(output)
        .args(extra)
        .output()
        .expect("run fauve stylize")
}

fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    let mse = sum / a.as_raw().len() as f64;
    10.0 * (255.0f64 * 255.0 / mse.max(1e-12)).log10()
}

#[test]
fn tiled_output_has_the_input_size_and_matches_the_untiled_one() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.png");
    picture(301, 203).save(&input).unwrap();

    let tiled_path = dir.path().join("tiled.png");
    let run = stylize(
        &input,
        &tiled_path,
        &["--tile", "128", "--tile-overlap", "48"],
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("tiles of 128 px"),
        "tiling not reported: {stderr}"
    );
    let tiled = image::open(&tiled_path).unwrap().to_rgb8();
    assert_eq!(tiled.dimensions(), (301, 203));

    let whole_path = dir.path().join("whole.png");
    let run = stylize(&input, &whole_path, &["--tile", "0"]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(!stderr.contains("tiles of"), "{stderr}");
    let whole = image::open(&whole_path).unwrap().to_rgb8();
    let db = psnr(&tiled, &whole);
    assert!(db >= 30.0, "tiled vs untiled: {db:.2} dB");
}

#[test]
fn impossible_tile_sizes_are_refused_before_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.png");
    picture(64, 64).save(&input).unwrap();
    let output = dir.path().join("out.png");
    for extra in [
        &["--tile", "32"][..],
        &["--tile", "200", "--tile-overlap", "190"],
    ] {
        let run = stylize(&input, &output, extra);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{extra:?} accepted");
        assert!(stderr.contains("--tile"), "{stderr}");
        assert!(!output.exists());
    }
}
