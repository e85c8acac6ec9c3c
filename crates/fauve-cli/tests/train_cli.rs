//! `fauve train` as a user meets it when an input is wrong: one clear message naming the file,
//! a non-zero exit, and no half-made run folder.

use std::process::Command;

use fauve_train::vgg::VggDepth;
use fauve_train::weights::{synthetic_vgg_tensors, write_safetensors};

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

#[test]
fn kept_checkpoints_export_as_their_average_with_the_steps_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_safetensors(
        d.join("vgg.safetensors"),
        &synthetic_vgg_tensors(VggDepth::Vgg16, 4, 0.0),
        None,
    )
    .unwrap();
    std::fs::create_dir_all(d.join("data/train2014")).unwrap();
    for i in 0..3u32 {
        image::RgbImage::from_fn(40 + 8 * i, 36, |x, y| {
            image::Rgb([(x * 6 + i * 40) as u8, (y * 5) as u8, ((x + y) * 3) as u8])
        })
        .save(d.join(format!("data/train2014/p{i}.png")))
        .unwrap();
    }
    image::RgbImage::from_fn(48, 48, |x, y| {
        image::Rgb([[220, 40, 40], [30, 60, 200]][((x / 4 + y / 6) % 2) as usize])
    })
    .save(d.join("painting.png"))
    .unwrap();

    // The synthetic VGG stops at relu2_2, so the loss's layers come from a config file.
    std::fs::write(
        d.join("test.toml"),
        r#"
[style]
name = "test"
image = "painting.png"
[data]
root = "data"
image_size = 32
[loss_network]
weights = "vgg.safetensors"
[loss]
vgg = "vgg16"
content_layers = ["relu2_2"]
style_layers = ["relu1_2", "relu2_2"]
[optim]
batch_size = 2
[output]
dir = "run"
sample_every = 0
"#,
    )
    .unwrap();
    let train = Command::new(FAUVE)
        .current_dir(d)
        .args([
            "train",
            "--config",
            "test.toml",
            "--iterations",
            "3",
            "--no-export",
        ])
        .args(["--checkpoint-every", "1", "--keep-checkpoints", "3"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&train.stderr);
    assert!(train.status.success(), "{stderr}");
    let mut kept: Vec<_> = std::fs::read_dir(d.join("run/checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    kept.sort();
    assert_eq!(kept.len(), 3, "{kept:?}");

    let export = Command::new(FAUVE)
        .current_dir(d)
        .args(["export", "-o", "avg.onnx", "--checkpoint"])
        .args(&kept)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&export.stderr);
    assert!(export.status.success(), "{stderr}");
    assert!(stderr.contains("averaged 3 checkpoints"), "{stderr}");
    let info = Command::new(FAUVE)
        .args(["info"])
        .arg(d.join("avg.onnx"))
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("fauve.averaged_steps = 1,2,3"), "{info}");
    assert!(info.contains("fauve.iterations = 3"), "{info}");
}

#[test]
fn init_from_a_file_that_is_not_a_model_names_it_and_leaves_no_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("notes.onnx");
    std::fs::write(&junk, "these are notes, not a network").unwrap();
    let run = dir.path().join("run");
    let output = Command::new(FAUVE)
        .arg("train")
        .arg("--init-from")
        .arg(&junk)
        .arg("--output-dir")
        .arg(&run)
        .args(["--iterations", "2", "--no-export"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&junk.display().to_string()),
        "the error names the file: {stderr}"
    );
    assert!(!run.exists(), "a failed run left {}", run.display());

    let both = Command::new(FAUVE)
        .args(["train", "--resume", "--init-from"])
        .arg(&junk)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&both.stderr);
    assert!(!both.status.success());
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

#[test]
fn a_malformed_or_out_of_order_learning_rate_step_is_refused_before_any_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    for (steps, expected) in [
        (&["3e-5"][..], "expected STEP:LR"),
        (&["ten:3e-5"][..], "is not a step count"),
        (&["10:fast"][..], "is not a learning rate"),
        (&["20:1e-4", "10:3e-5"][..], "increasing order"),
        (&["10:-1e-4"][..], "must be positive"),
    ] {
        let mut command = Command::new(FAUVE);
        command.arg("train").arg("--output-dir").arg(&run);
        for step in steps {
            command.args(["--learning-rate-step", step]);
        }
        let output = command.args(["--iterations", "2"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{steps:?}: {stderr}");
        assert!(stderr.contains(expected), "{steps:?}: {stderr}");
        assert!(!run.exists(), "{steps:?} left {}", run.display());
    }
}
