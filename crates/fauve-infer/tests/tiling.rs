//! Tiled versus untiled stylisation with the shipped, trained `models/starry_night.onnx`.
//!
//! The image is a 1024² mosaic of the four shipped photos, so its quadrants have very
//! different statistics: exactly the case where tiles normalised with their own statistics
//! disagree. Needs ONNX Runtime (`python3 -m pip install onnxruntime==1.32.0`).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use fauve_infer::convert::{rgb_to_tensor, tensor_to_rgb};
use fauve_infer::{SessionOptions, StyleModel, TilingOptions};
use image::RgbImage;
use image::imageops::FilterType;

const SIZE: u32 = 1024;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The four shipped photos, each resized to 512², in a 2×2 grid.
fn mosaic() -> &'static RgbImage {
    static IMAGE: OnceLock<RgbImage> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let half = SIZE / 2;
        let mut out = RgbImage::new(SIZE, SIZE);
        for (i, name) in ["astronaut", "chelsea", "coffee", "rocket"]
            .iter()
            .enumerate()
        {
            let path = repo().join(format!("assets/photos/{name}.jpg"));
            let photo = image::open(&path).expect("shipped photo").to_rgb8();
            let photo = image::imageops::resize(&photo, half, half, FilterType::Triangle);
            image::imageops::replace(
                &mut out,
                &photo,
                i64::from(i as u32 % 2 * half),
                i64::from(i as u32 / 2 * half),
            );
        }
        out
    })
}

/// One model for all tests (loading builds sessions; tests share it one at a time).
fn model() -> &'static Mutex<StyleModel> {
    static MODEL: OnceLock<Mutex<StyleModel>> = OnceLock::new();
    MODEL.get_or_init(|| {
        let path = repo().join("models/starry_night.onnx");
        Mutex::new(StyleModel::load(&path, &SessionOptions::default()).expect("load the model"))
    })
}

fn stylize(tiling: TilingOptions) -> RgbImage {
    let mut model = model().lock().unwrap_or_else(|e| e.into_inner());
    model.set_tiling(tiling).expect("valid tiling");
    let out = model.run(&rgb_to_tensor(mosaic())).expect("stylise");
    let report = model.last_tiled();
    assert_eq!(report.is_some(), tiling.tile != Some(0), "tiled as asked");
    if let Some(report) = report {
        eprintln!("{report:?}");
    }
    tensor_to_rgb(&out)
}

fn untiled() -> &'static RgbImage {
    static OUT: OnceLock<RgbImage> = OnceLock::new();
    OUT.get_or_init(|| {
        stylize(TilingOptions {
            tile: Some(0),
            ..Default::default()
        })
    })
}

/// PSNR in dB between two RGB8 images of the same size (peak 255).
fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    let mse = sum / a.as_raw().len() as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

fn tiled(tile: u32, per_tile_statistics: bool) -> f64 {
    let out = stylize(TilingOptions {
        tile: Some(tile),
        per_tile_statistics,
        ..Default::default()
    });
    assert_eq!(out.dimensions(), (SIZE, SIZE));
    let db = psnr(&out, untiled());
    eprintln!("tile {tile}, per-tile statistics {per_tile_statistics}: PSNR {db:.2} dB");
    db
}

#[test]
fn tiles_with_whole_image_statistics_match_the_untiled_output() {
    let db = tiled(512, false);
    assert!(db >= 30.0, "tiled (512) vs untiled: {db:.2} dB < 30 dB");
}

/// The same tiling with each tile normalised by its own statistics (what running the
/// unmodified network per tile does) is far off: the bound above is not met by accident.
#[test]
fn tiles_with_their_own_statistics_do_not() {
    let naive = tiled(512, true);
    assert!(
        naive < 30.0,
        "naive tiling unexpectedly close: {naive:.2} dB"
    );
}
