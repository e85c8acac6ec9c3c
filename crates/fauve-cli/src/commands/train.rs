//! `fauve train`: learn a style from a painting (Johnson et al. 2016), then export it to ONNX.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use fauve_train::config::{LearningRateStep, TrainConfig};
use fauve_train::step::StepRunner;
use fauve_train::train::{ResumeChanges, StepReport, TrainObserver, TrainOptions, train};
use indicatif::{ProgressBar, ProgressStyle};

use super::device::DeviceArg;

#[derive(clap::Args)]
pub struct Args {
    /// TOML config (see configs/default.toml); the flags below override it.
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Style name (names the model file and the run).
    #[arg(long)]
    style_name: Option<String>,
    /// The painting.
    #[arg(long, value_name = "IMAGE")]
    style_image: Option<PathBuf>,
    /// COCO-style dataset root.
    #[arg(long, value_name = "DIR")]
    dataset: Option<PathBuf>,
    /// Dataset split folder (default train2014).
    #[arg(long)]
    split: Option<String>,
    /// VGG weights (torchvision .pth or safetensors).
    #[arg(long, value_name = "FILE")]
    weights: Option<PathBuf>,
    /// Training crop size. With --resume or --init-from it replaces the saved one (e.g. train
    /// at 128 px, then finish at 256 px).
    #[arg(long, value_name = "PX")]
    image_size: Option<u32>,
    #[arg(long)]
    batch_size: Option<usize>,
    /// Number of steps (overrides epochs from the config).
    #[arg(long)]
    iterations: Option<u64>,
    #[arg(long)]
    epochs: Option<u32>,
    /// Adam's learning rate. With --resume or --init-from it replaces the saved one, and
    /// drops the saved --learning-rate-step schedule unless new steps are given.
    #[arg(long, value_name = "LR")]
    learning_rate: Option<f64>,
    /// Change the learning rate during the run: from step STEP on (counted over the whole
    /// run), train at LR. Repeat for several steps, e.g. `--learning-rate-step 30000:1e-4
    /// --learning-rate-step 36000:3e-5`; rates may rise as well as fall (a short warm-up
    /// after --init-from: `--learning-rate 1e-4 --learning-rate-step 7700:1e-3`). Replaces
    /// the config's `optim.learning_rate_steps`, or on --resume / --init-from the saved
    /// schedule.
    #[arg(long, value_name = "STEP:LR", value_parser = parse_learning_rate_step)]
    learning_rate_step: Vec<LearningRateStep>,
    #[arg(long)]
    seed: Option<u64>,
    /// Run folder (checkpoints, samples, metrics.csv, train.log, loss.png).
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Where the exported ONNX model goes (default models/<style>.onnx).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    #[arg(long, value_name = "N")]
    checkpoint_every: Option<u64>,
    /// How many of the newest checkpoints to keep (default 3). Keep more to export their
    /// average (`fauve export --checkpoint A B C...`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    keep_checkpoints: Option<u64>,
    #[arg(long, value_name = "N")]
    sample_every: Option<u64>,
    /// Validation photo stylised every --sample-every steps.
    #[arg(long, value_name = "IMAGE")]
    sample_image: Option<PathBuf>,
    /// Continue from the run folder's newest checkpoint. What is learnt comes from the
    /// checkpoint, except --iterations/--epochs, --image-size, --learning-rate and
    /// --learning-rate-step when given; --dataset, --weights and --style-image say where the
    /// same inputs now are.
    #[arg(long)]
    resume: bool,
    /// Start a new run from the weights of a model fauve exported (models/NAME.onnx, say) and
    /// carry its training on, as --resume does from a checkpoint: the model's embedded config
    /// rules what is learnt, the same flags may change, and its steps are counted on. Adam's
    /// state is not in the file and starts afresh. For a model whose checkpoints are gone.
    #[arg(long, value_name = "MODEL", conflicts_with = "resume")]
    init_from: Option<PathBuf>,
    /// Residual blocks of the network (config `network.residual_blocks`; Johnson et al.'s 5).
    /// With --init-from, more than the model has deepens it: the new blocks start as the
    /// identity and train from there.
    #[arg(long, value_name = "N", conflicts_with = "resume")]
    residual_blocks: Option<usize>,
    /// Don't export at the end (export later with `fauve export --checkpoint`).
    #[arg(long)]
    no_export: bool,
    /// Split each batch into N shards computed side by side, the cores shared between them
    /// (same result up to rounding). Default on the CPU: one per core, at most one per image,
    /// which trains faster than spreading every op over all cores; 1 turns it off. Ignored on
    /// CUDA.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    shards: Option<u16>,
    #[command(flatten)]
    device: DeviceArg,
}

impl Args {
    /// The config file (or defaults) with every given flag applied.
    fn effective_config(&self) -> Result<TrainConfig> {
        let mut c = match &self.config {
            Some(path) => TrainConfig::load(path)?,
            None => TrainConfig::default(),
        };
        if let Some(v) = &self.style_name {
            c.style.name = v.clone();
            if self.output_dir.is_none() && self.config.is_none() {
                c.output.dir = PathBuf::from("runs").join(v);
            }
        }
        macro_rules! set {
            ($flag:ident => $($field:tt).+) => {
                if let Some(v) = &self.$flag { c.$($field).+ = v.clone().into(); }
            };
        }
        set!(style_image => style.image);
        set!(dataset => data.root);
        set!(split => data.split);
        set!(weights => loss_network.weights);
        set!(image_size => data.image_size);
        set!(batch_size => optim.batch_size);
        set!(learning_rate => optim.learning_rate);
        set!(seed => optim.seed);
        set!(residual_blocks => network.residual_blocks);
        if let Some(steps) = self.learning_rate_steps() {
            c.optim.learning_rate_steps = steps;
        }
        set!(output_dir => output.dir);
        set!(checkpoint_every => output.checkpoint_every);
        set!(sample_every => output.sample_every);
        if let Some(v) = self.keep_checkpoints {
            c.output.keep_checkpoints = v as usize;
        }
        if let Some(v) = self.iterations {
            c.optim.iterations = v;
            c.optim.epochs = None;
        }
        if let Some(v) = self.epochs {
            c.optim.epochs = Some(v);
        }
        if let Some(v) = &self.model {
            c.output.model = Some(v.clone());
        }
        if let Some(v) = &self.sample_image {
            c.output.sample_image = Some(v.clone());
        }
        c.validate()?;
        Ok(c)
    }

    /// The `--learning-rate-step` schedule, when any step was given.
    fn learning_rate_steps(&self) -> Option<Vec<LearningRateStep>> {
        (!self.learning_rate_step.is_empty()).then(|| self.learning_rate_step.clone())
    }
}

fn parse_learning_rate_step(text: &str) -> Result<LearningRateStep, String> {
    LearningRateStep::parse(text).map_err(|e| format!("{e:#}"))
}

pub fn run(args: Args) -> Result<ExitCode> {
    let config = args.effective_config()?;
    let device = args.device.burn_device()?;
    // Training frees and reallocates ~1 GB of activations per step: keep it in the process.
    fauve_train::vgg::retain_freed_memory();
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // First Ctrl-C: finish the step, checkpoint, exit. A second one kills as usual.
        ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("\ninterrupted: saving a checkpoint after this step (Ctrl-C again to abort)");
        })
        .context("installing the Ctrl-C handler")?;
    }
    let run_dir = config.output.dir.clone();
    let new_run_dir = !run_dir.exists();
    let log_guard = crate::logging::log_to_file(&run_dir.join("train.log"))?;
    let shards = match args.device.is_cpu() {
        true => args.shards.map_or_else(
            || StepRunner::default_cpu_shards(config.optim.batch_size),
            usize::from,
        ),
        false => 1,
    };
    let resume_changes = ResumeChanges {
        image_size: args.image_size,
        learning_rate: args.learning_rate,
        learning_rate_steps: args.learning_rate_steps(),
        data_root: args.dataset.clone(),
        vgg_weights: args.weights.clone(),
        style_image: args.style_image.clone(),
        residual_blocks: args.residual_blocks,
    };
    let options = TrainOptions {
        resume: args.resume,
        init_from: args.init_from.clone(),
        stop,
        skip_export: args.no_export,
        shards,
        resume_changes,
    };
    let mut progress = ProgressObserver::default();
    let summary = match train(&config, &device, &options, &mut progress) {
        Ok(summary) => summary,
        Err(err) => {
            drop(log_guard);
            remove_if_only_a_log(&run_dir, new_run_dir);
            return Err(err);
        }
    };
    progress.finish();

    if let Some(losses) = summary.last_losses {
        eprintln!("step {}: {losses}", summary.steps);
    }
    if let Some(path) = &summary.last_checkpoint {
        eprintln!("checkpoint: {}", path.display());
    }
    if summary.skipped_images > 0 {
        eprintln!(
            "skipped {} unreadable image(s) (see train.log)",
            summary.skipped_images
        );
    }
    if let Some(export) = &summary.export {
        println!(
            "exported {} (ONNX Runtime matches burn within {:.2e})",
            export.path.display(),
            export.max_abs_diff
        );
    }
    if summary.interrupted {
        let how = match args.init_from {
            Some(_) => "and --resume instead of --init-from",
            None => "and --resume",
        };
        eprintln!(
            "stopped at step {}; continue with the same command {how}",
            summary.steps
        );
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}

/// A run that fails on its inputs (a missing painting, dataset or weight file) leaves no
/// folder behind: `train` writes nothing before it has read them all, so a folder this
/// invocation created that holds only the log is removed. Anything else is kept.
fn remove_if_only_a_log(run_dir: &std::path::Path, created_here: bool) {
    let only_log = || {
        std::fs::read_dir(run_dir).is_ok_and(|entries| {
            entries
                .filter_map(|e| e.ok())
                .all(|e| e.file_name() == "train.log")
        })
    };
    if created_here && only_log() {
        let _ = std::fs::remove_dir_all(run_dir);
    }
}

/// Draws iteration, images/s, ETA and the current losses.
#[derive(Default)]
struct ProgressObserver {
    bar: Option<ProgressBar>,
}

impl TrainObserver for ProgressObserver {
    fn started(&mut self, first_step: u64, total_steps: u64) {
        let bar = ProgressBar::new(total_steps).with_position(first_step);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} steps, ETA {eta}  {msg}",
            )
            .expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(500));
        bar.reset_eta();
        self.bar = Some(bar);
    }

    fn step(&mut self, report: &StepReport) {
        if let Some(bar) = &self.bar {
            bar.set_position(report.step);
            bar.set_message(format!(
                "{:.2} img/s  epoch {}  {}",
                report.images_per_sec, report.epoch, report.losses
            ));
        }
        tracing::debug!(step = report.step, losses = %report.losses, images_per_sec = report.images_per_sec);
    }

    fn note(&mut self, message: &str) {
        match &self.bar {
            Some(bar) => bar.println(message),
            None => eprintln!("{message}"),
        }
        tracing::info!("{message}");
    }
}

impl ProgressObserver {
    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
