//! The training loop on synthetic VGG weights and a tiny generated dataset: it learns, it
//! resumes exactly, it stops cleanly, and its checkpoints survive failed writes.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use fauve_train::averaging::average_checkpoints;
use fauve_train::checkpoint::{self, Checkpoint};
use fauve_train::config::TrainConfig;
use fauve_train::metrics::read_rows;
use fauve_train::onnx::SizeStage;
use fauve_train::train::{LogObserver, ResumeChanges, TrainOptions, train};
use fauve_train::transformer::{Device, TransformerNet};
use fauve_train::vgg::VggDepth;
use fauve_train::weights::{synthetic_vgg_tensors, write_safetensors};

/// VGG16 up to relu2_2 (four convolutions), deterministic, zero biases.
fn write_vgg(path: &Path) {
    write_safetensors(path, &synthetic_vgg_tensors(VggDepth::Vgg16, 4, 0.0), None).unwrap();
}

/// Photos of varied sizes (so crops differ between steps) and a striped "painting".
fn write_data(root: &Path, photos: usize) {
    let split = root.join("train");
    std::fs::create_dir_all(&split).unwrap();
    for i in 0..photos {
        let (w, h) = (40 + 9 * i as u32, 36 + 4 * i as u32);
        image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([
                (x * 6 + i as u32 * 30) as u8,
                (y * 5) as u8,
                ((x + y) * 3) as u8,
            ])
        })
        .save(split.join(format!("p{i}.png")))
        .unwrap();
    }
    image::RgbImage::from_fn(48, 48, |x, y| {
        let stripe = (x / 4 + y / 6) % 3;
        image::Rgb([[220, 40, 40], [30, 60, 200], [240, 210, 30]][stripe as usize])
    })
    .save(root.join("style.png"))
    .unwrap();
}

fn config(root: &Path, run: &str, iterations: u64) -> TrainConfig {
    let mut c = TrainConfig::default();
    c.style.name = "test".into();
    c.style.image = root.join("style.png");
    c.data.root = root.to_path_buf();
    c.data.split = "train".into();
    c.data.image_size = 32;
    c.loss_network.weights = root.join("vgg.safetensors");
    c.loss.content_layers = vec!["relu2_2".into()];
    c.loss.style_layers = vec!["relu1_2".into(), "relu2_2".into()];
    c.optim.batch_size = 2;
    c.optim.iterations = iterations;
    c.output.dir = root.join(run);
    c.output.model = Some(root.join(run).join("test.onnx"));
    c.output.checkpoint_every = 2;
    c.output.sample_every = 0;
    c
}

fn fixture(photos: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_data(dir.path(), photos);
    write_vgg(&dir.path().join("vgg.safetensors"));
    dir
}

fn no_export() -> TrainOptions {
    TrainOptions {
        skip_export: true,
        ..TrainOptions::default()
    }
}

fn latest(run: &Path) -> PathBuf {
    checkpoint::latest(&run.join("checkpoints"))
        .unwrap()
        .expect("a checkpoint")
}

/// The config embedded in the run's newest checkpoint.
fn newest_config(run: &Path) -> TrainConfig {
    TrainConfig::from_toml(&Checkpoint::load(&latest(run)).unwrap().header.config).unwrap()
}

/// Max |a − b| between two networks' outputs on the same image.
fn output_difference(a: &TransformerNet, b: &TransformerNet) -> f32 {
    let image = fauve_train::onnx::test_image(24, 20);
    a.stylize(&image)
        .unwrap()
        .max_abs_diff(&b.stylize(&image).unwrap())
}

/// Asserts that run folder `b` trained as `a` did: the same step count in the newest
/// checkpoints, networks whose outputs agree within 1e-2 (0–255), and per-step total losses
/// within 1e-3. Returns `b`'s logged steps.
fn assert_same_training(a: &Path, b: &Path, what: &str) -> Vec<u64> {
    let device = Device::flex();
    let (ca, cb) = (
        Checkpoint::load(&latest(a)).unwrap(),
        Checkpoint::load(&latest(b)).unwrap(),
    );
    assert_eq!(ca.header.step, cb.header.step, "{what}: newest checkpoints");
    let diff = output_difference(&ca.network(&device).unwrap(), &cb.network(&device).unwrap());
    assert!(
        diff < 1e-2,
        "the {what} network differs from the other by {diff}"
    );
    let rows_a = read_rows(&a.join("metrics.csv")).unwrap();
    let rows_b = read_rows(&b.join("metrics.csv")).unwrap();
    assert_eq!(rows_a.len(), rows_b.len(), "{what}: metrics rows");
    for (ra, rb) in rows_a.iter().zip(&rows_b) {
        let (x, y) = (ra.losses.total, rb.losses.total);
        assert!(
            (x - y).abs() <= 1e-3 * x.abs().max(1.0),
            "{what}, step {}: {x} vs {y}",
            ra.step
        );
    }
    rows_b.iter().map(|r| r.step).collect()
}

#[test]
fn a_few_steps_lower_the_loss() {
    let dir = fixture(2);
    let mut c = config(dir.path(), "run", 12);
    c.optim.learning_rate = 1e-2;
    let summary = train(&c, &Device::flex(), &no_export(), &mut LogObserver).unwrap();
    assert_eq!(summary.steps, 12);
    let rows = read_rows(&c.output.dir.join("metrics.csv")).unwrap();
    assert_eq!(rows.len(), 12);
    let first = (rows[0].losses.total + rows[1].losses.total) / 2.0;
    let last = (rows[10].losses.total + rows[11].losses.total) / 2.0;
    assert!(last < 0.8 * first, "loss did not fall: {first} → {last}");
    assert!(c.output.dir.join("loss.png").exists());
    assert!(c.output.dir.join("config.toml").exists());
}

#[test]
fn two_steps_then_resume_two_more_equals_four_straight() {
    let dir = fixture(5);
    let device = Device::flex();
    let straight = config(dir.path(), "straight", 4);
    train(&straight, &device, &no_export(), &mut LogObserver).unwrap();

    let first_half = config(dir.path(), "resumed", 2);
    train(&first_half, &device, &no_export(), &mut LogObserver).unwrap();
    let resume = TrainOptions {
        resume: true,
        skip_export: true,
        ..TrainOptions::default()
    };
    let summary = train(
        &config(dir.path(), "resumed", 4),
        &device,
        &resume,
        &mut LogObserver,
    )
    .unwrap();
    assert_eq!(summary.steps, 4);

    let steps = assert_same_training(&straight.output.dir, &first_half.output.dir, "resumed");
    assert_eq!(steps, vec![1, 2, 3, 4]);
}

#[test]
fn a_sharded_run_follows_the_whole_batch_run() {
    let dir = fixture(4);
    let device = Device::flex();
    let whole = config(dir.path(), "whole", 3);
    train(&whole, &device, &no_export(), &mut LogObserver).unwrap();
    let sharded = config(dir.path(), "sharded", 3);
    let options = TrainOptions {
        shards: 2,
        ..no_export()
    };
    train(&sharded, &device, &options, &mut LogObserver).unwrap();

    let steps = assert_same_training(&whole.output.dir, &sharded.output.dir, "sharded");
    assert_eq!(steps, vec![1, 2, 3]);
}

#[test]
fn the_stop_flag_checkpoints_and_returns_interrupted() {
    let dir = fixture(3);
    let c = config(dir.path(), "run", 50);
    let options = no_export();
    options.stop.store(true, Ordering::SeqCst);
    let summary = train(&c, &Device::flex(), &options, &mut LogObserver).unwrap();
    assert!(summary.interrupted);
    assert_eq!(summary.steps, 1);
    assert_eq!(
        Checkpoint::load(&latest(&c.output.dir))
            .unwrap()
            .header
            .step,
        1
    );
    assert!(summary.export.is_none());
}

#[test]
fn a_non_finite_loss_stops_with_an_error_and_keeps_the_last_good_checkpoint() {
    let dir = fixture(2);
    let mut c = config(dir.path(), "run", 6);
    c.output.checkpoint_every = 1;
    // Adam moves every weight by about the learning rate: 1e30 overflows the next forward.
    c.optim.learning_rate = 1e30;
    let err = train(&c, &Device::flex(), &no_export(), &mut LogObserver).unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains("non-finite at step 2"), "{message}");
    let kept = checkpoint::list(&c.output.dir.join("checkpoints")).unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        message.contains(&kept[0].display().to_string()),
        "{message}"
    );
    assert_eq!(Checkpoint::load(&kept[0]).unwrap().header.step, 1);
}

#[test]
fn a_failed_checkpoint_write_leaves_earlier_checkpoints_intact() {
    let dir = fixture(2);
    let c = config(dir.path(), "run", 2);
    train(&c, &Device::flex(), &no_export(), &mut LogObserver).unwrap();
    let ckpt_dir = c.output.dir.join("checkpoints");
    let good = latest(&c.output.dir);
    let before = std::fs::read(&good).unwrap();

    // Make the next checkpoint's final name impossible to rename onto (a directory is there),
    // as a stand-in for any failure between writing and renaming.
    std::fs::create_dir(ckpt_dir.join("step-00000004.ckpt")).unwrap();
    std::fs::write(ckpt_dir.join("step-00000004.ckpt/keep"), "x").unwrap();
    let resume = TrainOptions {
        resume: true,
        skip_export: true,
        ..TrainOptions::default()
    };
    let err = train(
        &config(dir.path(), "run", 4),
        &Device::flex(),
        &resume,
        &mut LogObserver,
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("step-00000004.ckpt"), "{err:#}");

    assert_eq!(
        std::fs::read(&good).unwrap(),
        before,
        "the good checkpoint changed"
    );
    Checkpoint::load(&good).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(&ckpt_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

#[test]
fn a_truncated_or_corrupted_checkpoint_is_refused_with_its_name() {
    let dir = fixture(2);
    let c = config(dir.path(), "run", 2);
    train(&c, &Device::flex(), &no_export(), &mut LogObserver).unwrap();
    let good = latest(&c.output.dir);
    let bytes = std::fs::read(&good).unwrap();

    let truncated = dir.path().join("truncated.ckpt");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = Checkpoint::load(&truncated).err().unwrap();
    assert!(format!("{err:#}").contains("truncated.ckpt"), "{err:#}");

    let mut flipped = bytes.clone();
    flipped[bytes.len() / 3] ^= 0x55;
    let corrupted = dir.path().join("corrupted.ckpt");
    std::fs::write(&corrupted, &flipped).unwrap();
    let err = Checkpoint::load(&corrupted).err().unwrap();
    assert!(format!("{err:#}").contains("checksum"), "{err:#}");
}

#[test]
fn a_finished_run_exports_a_verified_onnx_model_with_provenance() {
    let dir = fixture(2);
    let c = config(dir.path(), "run", 2);
    let summary = train(
        &c,
        &Device::flex(),
        &TrainOptions::default(),
        &mut LogObserver,
    )
    .unwrap();
    let export = summary.export.expect("exported");
    assert!(export.max_abs_diff <= 0.5);
    let model = fauve_train::onnx::read_model(&export.path).unwrap();
    let meta: std::collections::BTreeMap<_, _> = model
        .metadata_props
        .iter()
        .map(|p| (p.key.clone(), p.value.clone()))
        .collect();
    assert_eq!(meta.get("fauve.style").map(String::as_str), Some("test"));
    assert_eq!(meta.get("fauve.iterations").map(String::as_str), Some("2"));
    assert_eq!(
        meta.get("fauve.size_stages").map(String::as_str),
        Some("32:2")
    );
    let embedded = TrainConfig::from_toml(&meta["fauve.config"]).unwrap();
    assert_eq!(embedded, c);
}

#[test]
fn a_run_folder_copied_elsewhere_resumes_there_and_exports_where_told() {
    let dir = fixture(2);
    let first = config(dir.path(), "first", 2);
    train(&first, &Device::flex(), &no_export(), &mut LogObserver).unwrap();
    // The run's checkpoint alone, copied into another folder.
    let moved = dir.path().join("moved");
    std::fs::create_dir_all(moved.join("checkpoints")).unwrap();
    std::fs::copy(
        latest(&first.output.dir),
        moved.join("checkpoints/step-00000002.ckpt"),
    )
    .unwrap();

    let mut again = config(dir.path(), "moved", 3);
    again.output.model = Some(dir.path().join("elsewhere.onnx"));
    let resume = TrainOptions {
        resume: true,
        ..TrainOptions::default()
    };
    let summary = train(&again, &Device::flex(), &resume, &mut LogObserver).unwrap();
    assert_eq!(summary.steps, 3);
    assert_eq!(
        summary.export.expect("exported").path,
        dir.path().join("elsewhere.onnx")
    );
    assert!(
        !first.output.model.unwrap().exists(),
        "nothing may be written into the original run"
    );
    assert_eq!(latest(&moved), moved.join("checkpoints/step-00000003.ckpt"));
    let written = TrainConfig::load(&moved.join("config.toml")).unwrap();
    assert_eq!(written.output.dir, moved);
}

#[test]
fn a_learning_rate_schedule_trains_as_stepping_the_rate_by_hand_and_survives_a_resume() {
    use fauve_train::config::LearningRateStep;
    let dir = fixture(5);
    let device = Device::flex();
    let schedule = vec![LearningRateStep {
        from_step: 2,
        learning_rate: 1e-2,
    }];
    let mut scheduled = config(dir.path(), "scheduled", 4);
    scheduled.optim.learning_rate_steps = schedule.clone();
    train(&scheduled, &device, &no_export(), &mut LogObserver).unwrap();

    // By hand: two steps at the config's rate, then resume at the new one.
    let first = config(dir.path(), "by-hand", 2);
    train(&first, &device, &no_export(), &mut LogObserver).unwrap();
    let stepped = TrainOptions {
        resume: true,
        resume_changes: ResumeChanges {
            learning_rate: Some(1e-2),
            ..Default::default()
        },
        ..no_export()
    };
    let by_hand = config(dir.path(), "by-hand", 4);
    train(&by_hand, &device, &stepped, &mut LogObserver).unwrap();
    assert_same_training(
        &scheduled.output.dir,
        &by_hand.output.dir,
        "stepped by hand",
    );

    // The schedule is saved with the run: stopping before the step and resuming keeps it.
    let mut early = config(dir.path(), "resumed", 2);
    early.optim.learning_rate_steps = schedule.clone();
    train(&early, &device, &no_export(), &mut LogObserver).unwrap();
    let resume = TrainOptions {
        resume: true,
        ..no_export()
    };
    train(
        &config(dir.path(), "resumed", 4),
        &device,
        &resume,
        &mut LogObserver,
    )
    .unwrap();
    assert_same_training(&scheduled.output.dir, &early.output.dir, "resumed");
    assert_eq!(
        newest_config(&early.output.dir).optim.learning_rate_steps,
        schedule
    );

    // And it is not a no-op: the constant rate trains another network.
    let constant = config(dir.path(), "constant", 4);
    train(&constant, &device, &no_export(), &mut LogObserver).unwrap();
    let net = |run: &Path| {
        Checkpoint::load(&latest(run))
            .unwrap()
            .network(&device)
            .unwrap()
    };
    let diff = output_difference(&net(&scheduled.output.dir), &net(&constant.output.dir));
    assert!(diff > 0.1, "the schedule changed nothing: {diff}");
}

#[test]
fn a_resumed_run_takes_a_new_crop_size_and_learning_rate_only_when_asked() {
    let dir = fixture(3);
    let device = Device::flex();
    let first = config(dir.path(), "run", 2);
    train(&first, &device, &no_export(), &mut LogObserver).unwrap();

    // The command's config says 48 px, but without changes the checkpoint's 32 px rules.
    let mut command = config(dir.path(), "run", 3);
    command.data.image_size = 48;
    command.optim.learning_rate = 5e-3;
    let resume = TrainOptions {
        resume: true,
        ..no_export()
    };
    train(&command, &device, &resume, &mut LogObserver).unwrap();
    let kept = newest_config(&first.output.dir);
    assert_eq!(
        (kept.data.image_size, kept.optim.learning_rate),
        (32, first.optim.learning_rate)
    );

    // Asked for: the next steps train on 48 px crops at the new rate, the rest unchanged.
    command.optim.iterations = 4;
    let changes = ResumeChanges {
        image_size: Some(48),
        learning_rate: Some(5e-3),
        ..Default::default()
    };
    let resize = TrainOptions {
        resume: true,
        resume_changes: changes,
        ..no_export()
    };
    let summary = train(&command, &device, &resize, &mut LogObserver).unwrap();
    assert_eq!(summary.steps, 4);
    let changed = newest_config(&first.output.dir);
    assert_eq!(
        (changed.data.image_size, changed.optim.learning_rate),
        (48, 5e-3)
    );
    assert_eq!(changed.loss, first.loss);
    let stages = Checkpoint::load(&latest(&first.output.dir))
        .unwrap()
        .header
        .size_stages()
        .unwrap();
    assert_eq!(SizeStage::format_list(&stages), "32:3,48:1");
    assert_eq!(changed.optim.seed, first.optim.seed);

    // A change the config would refuse is refused on resume too, before any step.
    command.optim.iterations = 5;
    let bad = ResumeChanges {
        image_size: Some(8),
        ..Default::default()
    };
    let options = TrainOptions {
        resume: true,
        resume_changes: bad,
        ..no_export()
    };
    let err = train(&command, &device, &options, &mut LogObserver).unwrap_err();
    assert!(
        format!("{err:#}").contains("image_size must be at least 16"),
        "{err:#}"
    );
    assert_eq!(
        Checkpoint::load(&latest(&first.output.dir))
            .unwrap()
            .header
            .step,
        4
    );
}

#[test]
fn a_run_resumed_where_its_inputs_moved_is_told_where_they_are() {
    let dir = fixture(3);
    let device = Device::flex();
    let first = config(dir.path(), "run", 2);
    train(&first, &device, &no_export(), &mut LogObserver).unwrap();
    // The same dataset, weights and painting, now somewhere else (another machine, say).
    let moved = dir.path().join("moved");
    std::fs::create_dir_all(&moved).unwrap();
    std::fs::rename(dir.path().join("train"), moved.join("train")).unwrap();
    std::fs::rename(
        dir.path().join("vgg.safetensors"),
        moved.join("vgg.safetensors"),
    )
    .unwrap();
    std::fs::rename(dir.path().join("style.png"), moved.join("style.png")).unwrap();

    let command = config(dir.path(), "run", 3);
    let resume = TrainOptions {
        resume: true,
        ..no_export()
    };
    let run_files = |name: &str| std::fs::read(first.output.dir.join(name)).unwrap();
    let (config_before, metrics_before) = (run_files("config.toml"), run_files("metrics.csv"));
    let err = train(&command, &device, &resume, &mut LogObserver).unwrap_err();
    assert!(
        format!("{err:#}").contains("vgg.safetensors"),
        "the error names the missing file: {err:#}"
    );
    assert_eq!(
        Checkpoint::load(&latest(&first.output.dir))
            .unwrap()
            .header
            .step,
        2,
        "{err:#}"
    );
    // The failed resume rewrote nothing: config.toml still describes the run that was made.
    assert_eq!(run_files("config.toml"), config_before);
    assert_eq!(run_files("metrics.csv"), metrics_before);

    let changes = ResumeChanges {
        data_root: Some(moved.clone()),
        vgg_weights: Some(moved.join("vgg.safetensors")),
        style_image: Some(moved.join("style.png")),
        ..Default::default()
    };
    let told = TrainOptions {
        resume: true,
        resume_changes: changes,
        ..no_export()
    };
    assert_eq!(
        train(&command, &device, &told, &mut LogObserver)
            .unwrap()
            .steps,
        3
    );
    let now = newest_config(&first.output.dir);
    assert_eq!(now.data.root, moved);
    assert_eq!(now.loss_network.weights, moved.join("vgg.safetensors"));
    assert_eq!(now.style.image, moved.join("style.png"));
    assert_eq!((now.loss, now.optim.seed), (first.loss, first.optim.seed));
}

#[test]
fn a_new_run_with_a_missing_input_creates_no_run_folder() {
    let dir = fixture(2);
    let device = Device::flex();
    for (what, missing) in [
        ("weights", dir.path().join("none.safetensors")),
        ("painting", dir.path().join("none.png")),
        ("dataset", dir.path().join("no-dataset")),
    ] {
        let mut c = config(dir.path(), what, 2);
        match what {
            "weights" => c.loss_network.weights = missing.clone(),
            "painting" => c.style.image = missing.clone(),
            _ => c.data.root = missing.clone(),
        }
        let err = train(&c, &device, &no_export(), &mut LogObserver).unwrap_err();
        let message = format!("{err:#}");
        assert!(
            message.contains(&missing.display().to_string()),
            "{what}: {message}"
        );
        assert!(!c.output.dir.exists(), "{what}: the run folder was created");
    }
}

#[test]
fn checkpoints_of_one_run_average_weight_by_weight_and_other_runs_are_refused() {
    let dir = fixture(3);
    let device = Device::flex();
    let mut c = config(dir.path(), "run", 4);
    c.output.checkpoint_every = 1;
    c.output.keep_checkpoints = 4;
    train(&c, &device, &no_export(), &mut LogObserver).unwrap();
    let paths = checkpoint::list(&c.output.dir.join("checkpoints")).unwrap();
    assert_eq!(paths.len(), 4);
    let (newest, older) = (paths[3].clone(), paths[1].clone());

    // Given newest first: the mean is still described by the newest, steps in order.
    let averaged = average_checkpoints(&[newest.clone(), older.clone()], &device).unwrap();
    assert_eq!(averaged.steps, vec![2, 4]);
    assert_eq!(averaged.size_stages.iter().map(|s| s.steps).sum::<u64>(), 4);
    let weight = |net: &TransformerNet| -> Vec<f32> {
        net.conv1
            .conv2d
            .weight
            .val()
            .into_data()
            .try_to_vec()
            .unwrap()
    };
    let a = weight(&Checkpoint::load(&newest).unwrap().network(&device).unwrap());
    let b = weight(&Checkpoint::load(&older).unwrap().network(&device).unwrap());
    let mean = weight(&averaged.network);
    assert!(
        a.iter().zip(&b).any(|(x, y)| (x - y).abs() > 1e-4),
        "training moved no weight"
    );
    for ((x, y), m) in a.iter().zip(&b).zip(&mean) {
        assert!(
            (m - (x + y) / 2.0).abs() <= 1e-6,
            "{m} is not the mean of {x} and {y}"
        );
    }

    // The same step twice, and a checkpoint of another run (another seed), are refused by name.
    let err = average_checkpoints(&[newest.clone(), newest.clone()], &device).unwrap_err();
    assert!(
        format!("{err:#}").contains("give each checkpoint once"),
        "{err:#}"
    );
    let mut other = config(dir.path(), "other", 1);
    other.optim.seed = 7;
    train(&other, &device, &no_export(), &mut LogObserver).unwrap();
    let stranger = latest(&other.output.dir);
    let err = average_checkpoints(&[newest, stranger.clone()], &device).unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains(&stranger.display().to_string()),
        "{message}"
    );
    assert!(message.contains("seed differs"), "{message}");
}

#[test]
fn a_run_started_from_an_exported_model_carries_its_training_on() {
    let dir = fixture(3);
    let device = Device::flex();
    let mut first = config(dir.path(), "first", 3);
    first.loss.style_weight = 3e4;
    let summary = train(&first, &device, &TrainOptions::default(), &mut LogObserver).unwrap();
    let model = summary.export.expect("exported").path;

    // Given another loss and crop size: the model's config rules what is learnt, and only
    // the changes a resume may make are taken.
    let mut command = config(dir.path(), "continued", 3);
    command.loss.style_weight = 1.0;
    let mut options = TrainOptions {
        init_from: Some(model.clone()),
        resume_changes: ResumeChanges {
            image_size: Some(40),
            ..Default::default()
        },
        ..TrainOptions::default()
    };
    let err = train(&command, &device, &options, &mut LogObserver).unwrap_err();
    assert!(
        format!("{err:#}").contains("trained 3 steps already"),
        "{err:#}"
    );
    assert!(
        !command.output.dir.exists(),
        "a refused run leaves no folder"
    );

    command.optim.iterations = 5;
    let continued = train(&command, &device, &options, &mut LogObserver).unwrap();
    assert_eq!(continued.steps, 5);
    let rows = read_rows(&command.output.dir.join("metrics.csv")).unwrap();
    assert_eq!(rows.iter().map(|r| r.step).collect::<Vec<_>>(), vec![4, 5]);
    let now = newest_config(&command.output.dir);
    assert_eq!((now.loss, now.optim.seed), (first.loss, first.optim.seed));
    assert_eq!(now.data.image_size, 40);
    let header = Checkpoint::load(&latest(&command.output.dir))
        .unwrap()
        .header;
    assert_eq!(
        header.size_stages,
        vec![
            SizeStage {
                image_size: 32,
                steps: 3
            },
            SizeStage {
                image_size: 40,
                steps: 2
            }
        ]
    );
    let exported = fauve_train::onnx::read_model(&continued.export.unwrap().path).unwrap();
    let iterations = exported
        .metadata_props
        .iter()
        .find(|p| p.key == "fauve.iterations")
        .map(|p| p.value.clone());
    assert_eq!(iterations.as_deref(), Some("5"));

    // Its first step started from the model's exact weights on the batch the first run would
    // have drawn next: resuming that run from its checkpoint logs the same step-4 loss.
    let resume = TrainOptions {
        resume: true,
        resume_changes: options.resume_changes.clone(),
        ..no_export()
    };
    train(
        &config(dir.path(), "first", 4),
        &device,
        &resume,
        &mut LogObserver,
    )
    .unwrap();
    let resumed = read_rows(&first.output.dir.join("metrics.csv")).unwrap();
    let (a, b) = (resumed[3].losses.total, rows[0].losses.total);
    assert_eq!(resumed[3].step, 4);
    assert!(
        (a - b).abs() <= 1e-4 * a,
        "resumed {a} vs from the model {b}"
    );

    // Once it has checkpoints, the folder is continued with --resume, not started again.
    options.init_from = Some(model);
    command.optim.iterations = 7;
    let err = train(&command, &device, &options, &mut LogObserver).unwrap_err();
    assert!(format!("{err:#}").contains("--resume"), "{err:#}");
    assert_eq!(newest_config(&command.output.dir).optim.iterations, 5);
}

#[test]
fn a_new_run_into_a_folder_with_checkpoints_is_refused_and_they_are_kept() {
    let dir = fixture(2);
    let device = Device::flex();
    let c = config(dir.path(), "run", 4);
    train(&c, &device, &no_export(), &mut LogObserver).unwrap();
    let before = checkpoint::list(&c.output.dir.join("checkpoints")).unwrap();

    let again = config(dir.path(), "run", 2);
    let err = train(&again, &device, &no_export(), &mut LogObserver).unwrap_err();
    assert!(
        format!("{err:#}").contains("already holds checkpoints"),
        "{err:#}"
    );
    assert_eq!(
        checkpoint::list(&c.output.dir.join("checkpoints")).unwrap(),
        before
    );
    assert_eq!(
        read_rows(&c.output.dir.join("metrics.csv")).unwrap().len(),
        4
    );
}

#[test]
fn a_model_deepened_with_more_residual_blocks_starts_where_it_was_and_trains_on() {
    let dir = fixture(3);
    let device = Device::flex();
    let first = config(dir.path(), "first", 3);
    let summary = train(&first, &device, &TrainOptions::default(), &mut LogObserver).unwrap();
    let model = summary.export.expect("exported").path;

    let mut deeper = config(dir.path(), "deeper", 5);
    deeper.output.model = Some(dir.path().join("deeper.onnx"));
    let options = TrainOptions {
        init_from: Some(model),
        resume_changes: ResumeChanges {
            residual_blocks: Some(7),
            ..Default::default()
        },
        ..TrainOptions::default()
    };
    let continued = train(&deeper, &device, &options, &mut LogObserver).unwrap();
    assert_eq!(continued.steps, 5);
    assert_eq!(newest_config(&deeper.output.dir).network.residual_blocks, 7);

    // Step 4 on the same batch as the five-block run's own step 4: the new blocks are the
    // identity until this step's update, so the loss is the one that run logs.
    train(
        &config(dir.path(), "first", 4),
        &device,
        &TrainOptions {
            resume: true,
            ..no_export()
        },
        &mut LogObserver,
    )
    .unwrap();
    let shallow = read_rows(&first.output.dir.join("metrics.csv")).unwrap();
    let deep = read_rows(&deeper.output.dir.join("metrics.csv")).unwrap();
    let (a, b) = (shallow[3].losses.total, deep[0].losses.total);
    assert_eq!((shallow[3].step, deep[0].step), (4, 4));
    assert!((a - b).abs() <= 1e-4 * a, "five blocks {a} vs seven {b}");

    // Its checkpoints hold seven blocks, and so does the exported model.
    let network = Checkpoint::load(&latest(&deeper.output.dir))
        .unwrap()
        .network(&device)
        .unwrap();
    assert_eq!(network.residual_blocks().len(), 7);
    let exported =
        fauve_train::onnx::import_transformer(&continued.export.unwrap().path, &device).unwrap();
    assert_eq!(exported.network.residual_blocks().len(), 7);
    assert_eq!(output_difference(&network, &exported.network), 0.0);

    // A resumed run keeps its network: more blocks there are refused.
    let err = train(
        &config(dir.path(), "deeper", 6),
        &device,
        &TrainOptions {
            resume: true,
            resume_changes: ResumeChanges {
                residual_blocks: Some(8),
                ..Default::default()
            },
            ..no_export()
        },
        &mut LogObserver,
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("--init-from"), "{err:#}");
}
