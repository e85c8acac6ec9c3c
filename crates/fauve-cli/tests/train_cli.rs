//! `fauve train` as a user meets it when an input is wrong: one clear message naming the file,
//! a non-zero exit, and no half-made run folder.

use std::process::Command;

const FAUVE: &str = env!("CARGO_BIN_EXE_fauve");

#[test]
fn train_with_missing_weights_names_the_file_once_and_leaves_no_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let painting = dir.path().join("painting.png");
    image::RgbImage::from_pixel(32, 32, image::Rgb([200, 40, 40]))
        .save(&painting)
        .unwrap();
    let dataset = dir.path().join("data");
    std::fs::create_dir_all(dataset.join("train2014")).unwrap();
    image::RgbImage::from_pixel(40, 40, image::Rgb([10, 90, 160]))
        .save(dataset.join("train2014/photo.png"))
        .unwrap();
    let weights = dir.path().join("missing-vgg.safetensors");
    let run = dir.path().join("run");

    let output = Command::new(FAUVE)
        .arg("train")
        .arg("--style-image")
        .arg(&painting)
        .arg("--dataset")
        .arg(&dataset)
        .arg("--weights")
        .arg(&weights)
        .arg("--output-dir")
        .arg(&run)
        .args(["--image-size", "32", "--iterations", "2", "--no-export"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&weights.display().to_string()),
        "the error names the file: {stderr}"
    );
    // The OS's reason appears once: the CLI prints the error chain, which must not repeat it.
    assert_eq!(stderr.matches("os error").count(), 1, "{stderr}");
    assert!(!run.exists(), "a failed run left {}", run.display());
}
