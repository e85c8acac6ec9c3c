//! `fauve optimize` and `fauve compare` end to end on a synthetic VGG16 prefix, an untrained
//! exported model and tiny images. The key check: every number in report.json is the score
//! of the image file it names, re-measured here under the same loss.

use std::path::Path;
use std::process::Command;

use fauve_train::loss::{PerceptualLoss, PerceptualLossConfig};
use fauve_train::optimize::{score, score_by_layer};
use fauve_train::train::load_rgb;
use fauve_train::transformer::{Device, image_to_tensor};
use fauve_train::vgg::{Vgg, VggDepth};
use fauve_train::weights::{synthetic_vgg_tensors, write_safetensors};

const FAUVE: &str = env!("CARGO_BIN_EXE_fauve");

/// VGG16 up to relu2_2 (four convolutions), deterministic values, torchvision keys.
fn write_vgg(path: &Path) {
    write_safetensors(path, &synthetic_vgg_tensors(VggDepth::Vgg16, 4, 0.01), None).unwrap();
}

fn write_images(dir: &Path) {
    image::RgbImage::from_fn(40, 30, |x, y| {
        image::Rgb([(x * 6) as u8, (y * 8) as u8, ((x + y) * 3) as u8])
    })
    .save(dir.join("photo.png"))
    .unwrap();
    image::RgbImage::from_fn(48, 48, |x, y| {
        image::Rgb([[220, 40, 40], [30, 60, 200], [240, 210, 30]][((x / 4 + y / 6) % 3) as usize])
    })
    .save(dir.join("painting.png"))
    .unwrap();
}

/// The loss flags both commands get in these tests, and the same loss built here.
const LOSS_FLAGS: [&str; 6] = [
    "--preset",
    "johnson",
    "--content-layers",
    "relu2_2",
    "--style-layers",
    "relu1_2,relu2_2",
];

fn small_config() -> PerceptualLossConfig {
    PerceptualLossConfig {
        content_layers: vec!["relu2_2".into()],
        style_layers: vec!["relu1_2".into(), "relu2_2".into()],
        ..PerceptualLossConfig::johnson()
    }
}

/// The loss a compare report was scored under, rebuilt from the files in `dir` and `out`.
fn reported_loss(
    dir: &Path,
    out: &Path,
    report: &serde_json::Value,
    device: &Device,
) -> PerceptualLoss {
    let vgg = Vgg::load(
        dir.join("vgg.safetensors"),
        VggDepth::Vgg16,
        Some("relu2_2"),
        device,
    )
    .unwrap();
    let style = load_rgb(&out.join(report["style_file"].as_str().unwrap())).unwrap();
    PerceptualLoss::new(vgg, small_config(), image_to_tensor(&style, device)).unwrap()
}

/// A temporary folder with the synthetic VGG, the photo and the painting.
fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_vgg(&dir.path().join("vgg.safetensors"));
    write_images(dir.path());
    dir
}

/// Runs fauve expecting it to fail; its stderr.
fn fauve_refuses(args: &[&str], dir: &Path) -> String {
    let output = Command::new(FAUVE)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(!output.status.success(), "fauve {args:?} accepted");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn fauve(args: &[&str], dir: &Path) -> std::process::Output {
    let output = Command::new(FAUVE)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "fauve {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn optimize_writes_the_image_frames_and_an_animation() {
    let dir = fixture();
    let d = dir.path();
    let mut args = vec![
        "optimize",
        "--content",
        "photo.png",
        "--style",
        "painting.png",
        "-o",
        "out.png",
        "--weights",
        "vgg.safetensors",
        "--iterations",
        "4",
        "--save-every",
        "2",
        "--size",
        "32",
    ];
    args.extend(LOSS_FLAGS);

    // An output format fauve cannot write is refused before the optimisation, not after it.
    let mut bad = args.clone();
    bad[6] = "out.bmp";
    let stderr = fauve_refuses(&bad, d);
    assert!(stderr.contains("out.bmp"), "{stderr}");
    assert!(!d.join("out_frames").exists());

    // A folder that is not there yet is made for the image.
    args[6] = "results/out.png";
    let out = fauve(&args, d);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("4 iterations"), "{stderr}");
    let image = image::open(d.join("results/out.png")).unwrap();
    assert_eq!((image.width(), image.height()), (32, 24));
    for i in [0, 2, 4] {
        assert!(
            d.join(format!("results/out_frames/iter-{i:05}.png"))
                .is_file()
        );
    }
    let gif = std::fs::read(d.join("results/out.gif")).unwrap();
    assert!(gif.starts_with(b"GIF89a"));
}

#[test]
fn compare_reports_the_scores_of_the_images_it_names() {
    let dir = fixture();
    let d = dir.path();
    fauve(&["export", "--init-seed", "1", "-o", "m.onnx"], d);
    let mut args = vec![
        "compare",
        "--model",
        "m.onnx",
        "--style-image",
        "painting.png",
        "--content",
        "photo.png",
        "photo.png",
        "--iterations",
        "3,1",
        "--weights",
        "vgg.safetensors",
        "--init",
        "content",
        "--size",
        "32",
        "-o",
        "out",
    ];
    args.extend(LOSS_FLAGS);
    fauve(&args, d);
    let out = d.join("out");
    for file in ["grid.png", "loss.png", "report.md", "style.png"] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["iterations"], serde_json::json!([1, 3]));
    let contents = report["contents"].as_array().unwrap();
    assert_eq!(contents.len(), 2);
    // The same photo twice gets two sets of files.
    assert_ne!(contents[0]["content_file"], contents[1]["content_file"]);

    // The same loss, rebuilt from the files the report names.
    let device = Device::flex();
    let loss = reported_loss(d, &out, &report, &device);
    let markdown = std::fs::read_to_string(out.join("report.md")).unwrap();
    for content in contents {
        let photo = load_rgb(&out.join(content["content_file"].as_str().unwrap())).unwrap();
        let rows = content["rows"].as_array().unwrap();
        let methods: Vec<(&str, Option<u64>)> = rows
            .iter()
            .map(|r| (r["method"].as_str().unwrap(), r["iterations"].as_u64()))
            .collect();
        assert_eq!(
            methods,
            [
                ("fast", None),
                ("optimisation", Some(1)),
                ("optimisation", Some(3))
            ]
        );
        for row in rows {
            let file = row["image"].as_str().unwrap();
            assert!(markdown.contains(file), "report.md does not name {file}");
            let rescored =
                score_by_layer(&loss, &load_rgb(&out.join(file)).unwrap(), &photo, &device)
                    .unwrap();
            let close = |a: f32, b: f32| (a - b).abs() <= 1e-5 * b.abs().max(1e-12);
            let by_layer = rescored.style_by_layer.iter().map(|(layer, value)| {
                let reported = row["losses"]["style_by_layer"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|t| t["layer"] == layer.as_str())
                    .unwrap_or_else(|| panic!("{file}: no style term for {layer}"));
                (
                    layer.as_str(),
                    reported["style"].as_f64().unwrap() as f32,
                    *value,
                )
            });
            let losses = rescored.losses;
            let parts = [
                ("content", losses.content),
                ("style", losses.style),
                ("tv", losses.tv),
                ("total", losses.total),
            ]
            .map(|(part, value)| (part, row["losses"][part].as_f64().unwrap() as f32, value));
            for (part, reported, value) in parts.into_iter().chain(by_layer) {
                assert!(
                    close(reported, value),
                    "{file}: {part} reported {reported}, re-scored {value}"
                );
            }
            // One term per style layer of the loss, in its order, adding up to the style loss.
            let layers: Vec<&str> = rescored
                .style_by_layer
                .iter()
                .map(|(layer, _)| layer.as_str())
                .collect();
            assert_eq!(layers, loss.config().style_layers);
            let sum: f32 = rescored.style_by_layer.iter().map(|(_, v)| v).sum();
            assert!(
                (sum - losses.style).abs() <= 1e-4 * losses.style,
                "{file}: style terms add up to {sum}, style loss {}",
                losses.style
            );
            assert!(row["wall_secs"].as_f64().unwrap() > 0.0);
        }
        // report.md gives the terms too, one column per style layer.
        let header = format!("| output | {} |", loss.config().style_layers.join(" | "));
        assert!(markdown.contains("Style loss by layer"), "{markdown}");
        assert!(markdown.contains(&header), "{markdown}");
        // Starting from the photo, L-BFGS lowers the loss, iteration by iteration.
        let curve = content["curve"].as_array().unwrap();
        assert_eq!(curve.len(), 4);
        assert!(curve[3]["total"].as_f64().unwrap() < curve[0]["total"].as_f64().unwrap());
        assert!(!content["speedup"]["text"].as_str().unwrap().is_empty());
    }
}

#[test]
fn compare_takes_the_painting_from_the_models_training_config() {
    let dir = fixture();
    let d = dir.path();
    std::fs::create_dir_all(d.join("train")).unwrap();
    std::fs::copy(d.join("photo.png"), d.join("train/photo.png")).unwrap();
    let config = format!(
        r#"[style]
name = "t"
image = "{painting}"
[data]
root = "{root}"
split = "train"
image_size = 32
[loss_network]
weights = "{root}/vgg.safetensors"
[loss]
vgg = "vgg16"
content_layers = ["relu2_2"]
style_layers = ["relu1_2", "relu2_2"]
[optim]
batch_size = 1
iterations = 1
[output]
dir = "{root}/run"
model = "{root}/t.onnx"
sample_every = 0
"#,
        painting = d.join("painting.png").display(),
        root = d.display()
    );
    std::fs::write(d.join("t.toml"), config).unwrap();
    fauve(&["train", "--config", "t.toml"], d);
    let common = [
        "--content",
        "photo.png",
        "--iterations",
        "1",
        "--weights",
        "vgg.safetensors",
        "--size",
        "32",
    ];

    let mut args = vec!["compare", "--model", "t.onnx", "-o", "out"];
    args.extend(common);
    fauve(&args, d);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("out/report.json")).unwrap()).unwrap();
    assert_eq!(
        report["style_image"],
        d.join("painting.png").display().to_string()
    );

    // A model without a training config (an untrained export) cannot say: the error says so.
    fauve(&["export", "--init-seed", "1", "-o", "m.onnx"], d);
    let mut args = vec!["compare", "--model", "m.onnx", "-o", "out2"];
    args.extend(common);
    let stderr = fauve_refuses(&args, d);
    assert!(
        stderr.contains("m.onnx") && stderr.contains("give --style-image"),
        "{stderr}"
    );
    assert!(!d.join("out2/report.json").exists());
}

#[test]
fn compare_scores_other_stylisations_of_the_photo_given_with_also() {
    let dir = fixture();
    let d = dir.path();
    // Another implementation's output, at another size than the photo is scored at.
    image::RgbImage::from_fn(60, 45, |x, y| {
        image::Rgb([(x * 4) as u8, 90, (y * 5) as u8])
    })
    .save(d.join("other.png"))
    .unwrap();
    fauve(&["export", "--init-seed", "1", "-o", "m.onnx"], d);
    let common = [
        "compare",
        "--model",
        "m.onnx",
        "--style-image",
        "painting.png",
        "--iterations",
        "1",
        "--weights",
        "vgg.safetensors",
        "--size",
        "32",
    ];
    let mut args = common.to_vec();
    args.extend(["--content", "photo.png", "--also", "other.png", "-o", "out"]);
    args.extend(LOSS_FLAGS);
    fauve(&args, d);

    let out = d.join("out");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let content = &report["contents"][0];
    let rows = content["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "fast, 1 iteration, the other image");
    let other = &rows[2];
    assert_eq!(other["method"], "other");
    assert_eq!(other["source"], "other.png");
    assert!(other["wall_secs"].is_null());
    let file = other["image"].as_str().unwrap();
    let scored = load_rgb(&out.join(file)).unwrap();
    assert_eq!(
        (scored.width, scored.height),
        (32, 24),
        "resized to the photo as scored"
    );
    let markdown = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(markdown.contains("other (`other.png`)"), "{markdown}");

    // Its number is its score under the same loss.
    let device = Device::flex();
    let loss = reported_loss(d, &out, &report, &device);
    let photo = load_rgb(&out.join(content["content_file"].as_str().unwrap())).unwrap();
    let rescored = score(&loss, &scored, &photo, &device).unwrap();
    let reported = other["losses"]["total"].as_f64().unwrap() as f32;
    assert!(
        (reported - rescored.total).abs() <= 1e-5 * rescored.total.abs(),
        "reported {reported}, re-scored {}",
        rescored.total
    );

    // Refused before any work and before the output folder exists: a missing file (named), a
    // photo that is not an image (named), and --also with two photos.
    std::fs::write(d.join("junk.png"), b"not an image").unwrap();
    for (extra, expected) in [
        (
            vec!["--content", "photo.png", "--also", "missing.png"],
            "missing.png",
        ),
        (vec!["--content", "photo.png", "junk.png"], "junk.png"),
        (
            vec!["--content", "photo.png", "photo.png", "--also", "other.png"],
            "exactly one --content",
        ),
    ] {
        let mut args = common.to_vec();
        args.extend(extra.iter().copied());
        args.extend(["-o", "refused"]);
        args.extend(LOSS_FLAGS);
        let stderr = fauve_refuses(&args, d);
        assert!(stderr.contains(expected), "{stderr}");
        assert!(
            !d.join("refused").exists(),
            "{extra:?} left an output folder"
        );
    }
}
