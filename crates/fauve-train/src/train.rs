//! The training loop of Johnson et al. 2016: photos → `TransformerNet` → VGG perceptual loss
//! against the photo (content) and the painting's Grams (style) → Adam.
//!
//! Around it: checkpoints (atomic, last K kept, Adam's state included) so `--resume` continues
//! exactly; a metrics CSV; stylised validation samples; a stop flag (Ctrl-C) that checkpoints
//! before returning; and a hard stop on a non-finite loss that keeps the last good checkpoint.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::prelude::*;
use fauve_infer::ImageTensor;
use fauve_infer::convert::{rgb_to_tensor, tensor_to_rgb};

use crate::checkpoint::{self, CheckpointHeader};
use crate::config::{LearningRateStep, TrainConfig};
use crate::data::{CocoStyleDataset, CropSampler};
use crate::loss::{LossParts, PerceptualLoss};
use crate::metrics::{LossValues, MetricsLog, MetricsRow};
use crate::onnx::{self, ExportOptions, ExportReport, Provenance, SizeStage};
use crate::step::StepRunner;
use crate::transformer::{TransformerNet, TransformerNetConfig, image_to_tensor};
use crate::vgg::Vgg;

/// How to run (as opposed to what to learn, which is the config).
#[derive(Clone, Default)]
pub struct TrainOptions {
    /// Continue from the newest checkpoint in `<output.dir>/checkpoints`.
    pub resume: bool,
    /// Start a new run folder from the weights of this exported fauve model and carry its
    /// training on: its embedded config rules what is learnt (with `resume_changes`), its
    /// steps and crop sizes are counted on, and Adam starts afresh (the file has no moments).
    pub init_from: Option<PathBuf>,
    /// Set (e.g. by Ctrl-C) to stop after the current step with a checkpoint.
    pub stop: Arc<AtomicBool>,
    /// Skip the ONNX export at the end (tests of the loop itself).
    pub skip_export: bool,
    /// Split each batch into this many shards computed side by side (see [`StepRunner`]);
    /// 0 or 1: the whole batch at once. The result is the same up to rounding.
    pub shards: usize,
    /// On resume, what may change from the checkpoint's config (otherwise it rules).
    pub resume_changes: ResumeChanges,
}

/// Changes a resumed run may make to what the checkpoint's config says is learnt, and to
/// where its inputs are.
///
/// Why: training small crops first and finishing at full size ("progressive resizing")
/// reaches a given loss at the full size sooner on a slow machine, since a 128² step costs a
/// quarter of a 256² one. The network is fully convolutional, so its weights carry over.
#[derive(Clone, Debug, Default)]
pub struct ResumeChanges {
    /// A new training crop size.
    pub image_size: Option<u32>,
    /// A new Adam learning rate (Adam's moment estimates are kept). Without
    /// `learning_rate_steps` it also drops the saved schedule: the rate asked for rules from
    /// here on.
    pub learning_rate: Option<f64>,
    /// A new schedule of learning-rate steps, replacing the saved one.
    pub learning_rate_steps: Option<Vec<LearningRateStep>>,
    /// Where the same inputs now live, for a run continued on another machine (a GPU one,
    /// say) whose checkpoint names paths of the first: the dataset root, the VGG weights and
    /// the painting. They must be the same files: other ones would change what is learnt,
    /// which nothing here can detect.
    pub data_root: Option<PathBuf>,
    pub vgg_weights: Option<PathBuf>,
    pub style_image: Option<PathBuf>,
    /// More residual blocks for a network continued from an exported model (`--init-from`):
    /// the new ones start as the identity ([`TransformerNet::deepened`]). A resumed run keeps
    /// its network, whose Adam state is in the checkpoint.
    pub residual_blocks: Option<usize>,
}

/// What one step reports to the caller (progress bar, logs).
#[derive(Debug, Clone)]
pub struct StepReport {
    pub step: u64,
    pub total_steps: u64,
    pub epoch: u64,
    pub images_per_sec: f64,
    pub losses: LossValues,
}

/// Receives progress; the CLI draws a progress bar from it.
pub trait TrainObserver {
    fn started(&mut self, _first_step: u64, _total_steps: u64) {}
    fn step(&mut self, _report: &StepReport) {}
    fn note(&mut self, _message: &str) {}
}

/// An observer that only logs, for tests and scripts.
pub struct LogObserver;
impl TrainObserver for LogObserver {}

#[derive(Debug)]
pub struct TrainSummary {
    /// Steps completed in total (across resumes).
    pub steps: u64,
    pub last_losses: Option<LossValues>,
    pub last_checkpoint: Option<PathBuf>,
    pub export: Option<ExportReport>,
    /// True when the stop flag ended the run early.
    pub interrupted: bool,
    pub skipped_images: usize,
    pub elapsed_secs: f64,
}

/// Trains (or resumes) the run described by `config` on `device` (an autodiff device is made
/// from it). Returns when the configured steps are done or the stop flag is set.
pub fn train(
    config: &TrainConfig,
    device: &Device,
    options: &TrainOptions,
    observer: &mut dyn TrainObserver,
) -> Result<TrainSummary> {
    let run_dir = config.output.dir.clone();
    let checkpoint_dir = run_dir.join("checkpoints");
    let autodiff = device.clone().autodiff();
    let start = Start::find(config, options, &checkpoint_dir, &autodiff)?;
    let config = start.config;
    let loss = build_loss(&config, &autodiff)?;
    let sampler = Arc::new(CropSampler::new(
        CocoStyleDataset::open(&config.data.root, &config.data.split)?,
        config.data.image_size,
        config.optim.seed,
    ));
    let total_steps = config.total_steps(sampler.len());
    let first_step = start.first_step;
    if options.init_from.is_some() && total_steps <= first_step {
        bail!(
            "the model has trained {first_step} steps already: ask for more than that \
             (--iterations counts from the run's first step, not from the model's last)"
        );
    }
    let batch_size = config.optim.batch_size;
    let runner = StepRunner::new(options.shards.min(batch_size))?;

    let mut optimizer: ModuleOptimizer = AdamConfig::new().init();
    let mut last_checkpoint = None;
    if let Some((ckpt, path)) = &start.checkpoint {
        optimizer = ckpt.restore_optimizer(optimizer)?;
        last_checkpoint = Some(path.clone());
    }
    let mut network = start.network;
    let mut elapsed = start.elapsed_secs;
    let skipped_before = start.skipped_images;
    // Steps per crop size: the checkpoint's or model's, then this invocation's at its one size.
    let stages_before = start.stages_before;
    let size_stages = |steps_done: u64| {
        SizeStage::extended(
            &stages_before,
            config.data.image_size,
            steps_done - first_step,
        )
    };
    let sample = SampleImage::load(&config)?;

    // Every input has been read: only now does the run folder change, so a bad path or file
    // leaves it as it was (a resumed run's config.toml included).
    std::fs::create_dir_all(&run_dir)
        .with_context(|| format!("{}: cannot create the run folder", run_dir.display()))?;
    checkpoint::write_atomically(&run_dir.join("config.toml"), config.to_toml().as_bytes())?;
    let mut metrics = MetricsLog::open(&run_dir.join("metrics.csv"), first_step)?;

    observer.started(first_step, total_steps);
    let shards = runner.shards(batch_size);
    tracing::info!(
        first_step,
        total_steps,
        batch_size,
        shards,
        images = sampler.len(),
        "training"
    );

    // Decode the next batches on another thread while this one computes.
    let (sender, batches) = sync_channel(2);
    let producer_sampler = sampler.clone();
    // It ends when the loop stops listening (the channel closes) or the run is complete.
    let producer = std::thread::spawn(move || {
        for step in first_step..total_steps {
            let batch = producer_sampler.batch(step, batch_size);
            if sender.send((step, batch)).is_err() {
                break;
            }
        }
    });

    let mut last_losses = None;
    let mut steps_done = first_step;
    let mut learning_rate = config.optim.learning_rate_at(first_step);
    tracing::info!(learning_rate, "learning rate");
    let mut interrupted = false;
    let run_started = Instant::now();
    let elapsed_before = elapsed;
    for (step, batch) in batches.iter() {
        let step_started = Instant::now();
        let photos = batch?.to_tensor(&autodiff);
        let (losses, grads) = runner.run(&network, &loss, photos)?;
        let rate = config.optim.learning_rate_at(step);
        if rate != learning_rate {
            learning_rate = rate;
            tracing::info!(step = step + 1, learning_rate, "learning rate stepped");
            observer.note(&format!(
                "learning rate {learning_rate:e} from step {}",
                step + 1
            ));
        }
        network = optimizer.step(learning_rate, network, grads);
        // Read after the optimiser step is queued: on a GPU the step's one wait then covers
        // work already in flight. A non-finite loss stops the run before anything is saved, so
        // the update it made is never written.
        let values = LossValues::from_stacked(losses);
        if !values.is_finite() {
            bail!(
                "loss became non-finite at step {} ({values}); stopping. The last good checkpoint is {}",
                step + 1,
                last_checkpoint
                    .as_ref()
                    .map_or("none yet".into(), |p| p.display().to_string())
            );
        }

        steps_done = step + 1;
        elapsed = elapsed_before + run_started.elapsed().as_secs_f64();
        let images_per_sec = batch_size as f64 / step_started.elapsed().as_secs_f64();
        let epoch = steps_done * batch_size as u64 / sampler.len() as u64;
        metrics.append(&MetricsRow {
            step: steps_done,
            epoch,
            elapsed_secs: elapsed,
            images_per_sec,
            losses: values,
        })?;
        observer.step(&StepReport {
            step: steps_done,
            total_steps,
            epoch,
            images_per_sec,
            losses: values,
        });
        last_losses = Some(values);

        let stop_now = options.stop.load(Ordering::Relaxed);
        let at_end = steps_done == total_steps;
        if steps_done % config.output.checkpoint_every == 0 || at_end || stop_now {
            let header = CheckpointHeader {
                step: steps_done,
                config: config.to_toml(),
                elapsed_secs: elapsed,
                skipped_images: skipped_before + sampler.skipped(),
                losses: values.as_array(),
                size_stages: size_stages(steps_done),
            };
            let path = checkpoint::save(
                &checkpoint_dir,
                &header,
                &network,
                &optimizer,
                config.output.keep_checkpoints,
            )?;
            tracing::info!(step = steps_done, path = %path.display(), "checkpoint saved");
            last_checkpoint = Some(path);
        }
        if config.output.sample_every > 0
            && (steps_done % config.output.sample_every == 0 || at_end)
        {
            let path = sample.write(&network.valid(), &run_dir.join("samples"), steps_done)?;
            observer.note(&format!("sample {}", path.display()));
        }
        if stop_now {
            interrupted = true;
            break;
        }
    }
    drop(batches);
    producer
        .join()
        .map_err(|_| anyhow::anyhow!("the data loader thread panicked"))?;

    if sampler.skipped() > 0 {
        let bad = sampler.bad_files();
        observer.note(&format!(
            "skipped {} unreadable photo(s): {}",
            bad.len(),
            list_paths(&bad)
        ));
    }
    crate::plot::plot_losses(
        &metrics.rows()?,
        &run_dir.join("loss.png"),
        &config.style.name,
    )?;

    let export = match interrupted || options.skip_export || steps_done < total_steps {
        true => None,
        false => Some(export_trained(
            &network.valid(),
            &config,
            &size_stages(steps_done),
        )?),
    };
    Ok(TrainSummary {
        steps: steps_done,
        last_losses,
        last_checkpoint,
        export,
        interrupted,
        skipped_images: skipped_before + sampler.skipped(),
        elapsed_secs: elapsed,
    })
}

/// Where a run starts: from scratch, from its own newest checkpoint (`--resume`), or from an
/// exported model (`--init-from`).
struct Start {
    /// What is learnt: the given config, or the saved one with the changes a resume may make.
    config: TrainConfig,
    network: TransformerNet,
    /// The checkpoint resumed from, which also holds Adam's state.
    checkpoint: Option<(checkpoint::Checkpoint, PathBuf)>,
    first_step: u64,
    elapsed_secs: f64,
    skipped_images: usize,
    stages_before: Vec<SizeStage>,
}

impl Start {
    fn find(
        config: &TrainConfig,
        options: &TrainOptions,
        checkpoint_dir: &Path,
        device: &Device,
    ) -> Result<Self> {
        if options.resume {
            let path = checkpoint::latest(checkpoint_dir)?.with_context(|| {
                format!("--resume: no checkpoint in {}", checkpoint_dir.display())
            })?;
            ensure!(
                options.resume_changes.residual_blocks.is_none(),
                "--resume keeps the network the checkpoint holds; more residual blocks are \
                 added to an exported model, with --init-from"
            );
            let ckpt = checkpoint::Checkpoint::load(&path)?;
            let saved = continued_config(&ckpt.header.config, config, &options.resume_changes)
                .context("the checkpoint's embedded config")?;
            tracing::info!(checkpoint = %path.display(), step = ckpt.header.step, "resuming");
            return Ok(Self {
                config: saved,
                network: ckpt.network(device)?,
                first_step: ckpt.header.step,
                elapsed_secs: ckpt.header.elapsed_secs,
                skipped_images: ckpt.header.skipped_images,
                stages_before: ckpt.header.size_stages()?,
                checkpoint: Some((ckpt, path)),
            });
        }
        // A new run must not share a checkpoint folder with another: pruning and `--resume`
        // go by step number, and would mix or delete the older run's checkpoints.
        if let Some(existing) = checkpoint::latest(checkpoint_dir)? {
            bail!(
                "{} already holds checkpoints ({}): continue that run with --resume, or \
                 choose another output folder",
                checkpoint_dir.display(),
                existing.display()
            );
        }
        let Some(model_path) = &options.init_from else {
            return Ok(Self {
                config: config.clone(),
                network: TransformerNetConfig::new()
                    .with_seed(config.optim.seed)
                    .with_residual_blocks(config.network.residual_blocks)
                    .init(device),
                checkpoint: None,
                first_step: 0,
                elapsed_secs: 0.0,
                skipped_images: 0,
                stages_before: Vec::new(),
            });
        };
        let model = onnx::import_transformer(model_path, device)?;
        let in_model = |what: &str| format!("{}: {what}", model_path.display());
        let saved = model.provenance.config.as_deref().with_context(|| {
            in_model(
                "the model carries no training config (fauve.config), so what it learnt is unknown",
            )
        })?;
        let saved = continued_config(saved, config, &options.resume_changes)
            .with_context(|| in_model("the model's embedded config"))?;
        let steps = onnx::import::trained_steps(&model.provenance)
            .with_context(|| in_model("its training record"))?;
        let stages_before = match model.provenance.size_stages.clone() {
            Some(stages) => stages,
            None => vec![SizeStage {
                image_size: model.provenance.image_size.unwrap_or(saved.data.image_size),
                steps,
            }],
        };
        tracing::info!(model = %model_path.display(), step = steps, "starting from an exported model");
        let blocks = model.network.residual_blocks().len();
        // Seeded apart from the first initialisation (seed alone) and from the data order.
        let network = model
            .network
            .deepened(saved.network.residual_blocks, saved.optim.seed ^ steps)
            .with_context(|| in_model("--residual-blocks"))?;
        if blocks != saved.network.residual_blocks {
            tracing::info!(
                from = blocks,
                to = saved.network.residual_blocks,
                "new residual blocks start as the identity"
            );
        }
        Ok(Self {
            config: saved,
            network,
            checkpoint: None,
            first_step: steps,
            // The model does not record how long its training took.
            elapsed_secs: 0.0,
            skipped_images: 0,
            stages_before,
        })
    }
}

/// A saved run's config carried on by this invocation. The saved one rules what is learnt (same
/// data order, same loss), except how long, which a continued run may extend, and the explicit
/// `changes`. Where things go and how often (`[output]`: the run folder, the model file,
/// checkpoint and sample intervals) are this invocation's, so a run can be continued elsewhere.
fn continued_config(
    saved: &str,
    config: &TrainConfig,
    changes: &ResumeChanges,
) -> Result<TrainConfig> {
    let mut saved = TrainConfig::from_toml(saved)?;
    saved.optim.iterations = config.optim.iterations;
    saved.optim.epochs = config.optim.epochs;
    saved.output = config.output.clone();
    if let Some(size) = changes.image_size {
        saved.data.image_size = size;
    }
    if let Some(lr) = changes.learning_rate {
        saved.optim.learning_rate = lr;
        saved.optim.learning_rate_steps.clear();
    }
    if let Some(steps) = &changes.learning_rate_steps {
        saved.optim.learning_rate_steps = steps.clone();
    }
    if let Some(root) = &changes.data_root {
        saved.data.root = root.clone();
    }
    if let Some(weights) = &changes.vgg_weights {
        saved.loss_network.weights = weights.clone();
    }
    if let Some(image) = &changes.style_image {
        saved.style.image = image.clone();
    }
    if let Some(blocks) = changes.residual_blocks {
        saved.network.residual_blocks = blocks;
    }
    saved
        .validate()
        .context("with this run's changes it is not valid")?;
    Ok(saved)
}

/// The VGG (only as deep as the loss reads) and the style target, on `device`.
pub fn build_loss(config: &TrainConfig, device: &Device) -> Result<PerceptualLoss> {
    let deepest = config.loss.deepest_layer()?;
    let vgg = Vgg::load(
        &config.loss_network.weights,
        config.loss.vgg,
        Some(&deepest),
        device,
    )?;
    let style = load_rgb(&config.style.image).context("style image")?;
    let style = image_to_tensor(&style, device);
    Ok(PerceptualLoss::new(vgg, config.loss.clone(), style)?)
}

/// The provenance embedded in a trained model's ONNX metadata; `size_stages` are the steps
/// trained at each crop size, in order.
pub fn provenance(config: &TrainConfig, size_stages: &[SizeStage]) -> Provenance {
    Provenance {
        style: Some(config.style.name.clone()),
        loss_network: Some(config.loss.vgg.to_string()),
        content_weight: Some(config.loss.content_weight as f64),
        style_weight: Some(config.loss.style_weight as f64),
        tv_weight: Some(config.loss.tv_weight as f64),
        iterations: Some(size_stages.iter().map(|s| s.steps).sum()),
        image_size: Some(config.data.image_size),
        size_stages: Some(size_stages.to_vec()),
        config: Some(config.to_toml()),
        seed: Some(config.optim.seed),
        averaged_steps: None,
    }
}

/// Exports a trained network to the config's model path (parity-checked by the exporter).
pub fn export_trained(
    network: &TransformerNet,
    config: &TrainConfig,
    size_stages: &[SizeStage],
) -> Result<ExportReport> {
    let path = config.model_path();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
    }
    let options = ExportOptions {
        provenance: provenance(config, size_stages),
        ..ExportOptions::default()
    };
    onnx::export_transformer(network, &path, &options)
}

/// Reads any image file as planar RGB 0–255.
pub fn load_rgb(path: &Path) -> Result<ImageTensor> {
    let rgb = image::open(path)
        .with_context(|| format!("{}: cannot read image", path.display()))?
        .to_rgb8();
    Ok(rgb_to_tensor(&rgb))
}

/// The photo stylised every `sample_every` steps to watch the style appear.
struct SampleImage(ImageTensor);

impl SampleImage {
    fn load(config: &TrainConfig) -> Result<Self> {
        let size = config.output.sample_size.max(32);
        let rgb = match &config.output.sample_image {
            Some(path) => image::open(path)
                .with_context(|| format!("{}: cannot read the sample image", path.display()))?
                .resize(size, size, image::imageops::FilterType::Lanczos3)
                .to_rgb8(),
            None => test_card(size),
        };
        Ok(Self(rgb_to_tensor(&rgb)))
    }

    fn write(&self, network: &TransformerNet, dir: &Path, step: u64) -> Result<PathBuf> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
        let out = tensor_to_rgb(&network.stylize(&self.0)?);
        let mut png = Vec::new();
        out.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
        let path = dir.join(format!("step-{step:08}.png"));
        checkpoint::write_atomically(&path, &png)?;
        Ok(path)
    }
}

/// A synthetic photo-like card (smooth gradients, a disc, stripes) so runs need no extra file.
fn test_card(size: u32) -> image::RgbImage {
    let s = size as f32;
    image::RgbImage::from_fn(size, size * 3 / 4, |x, y| {
        let (fx, fy) = (x as f32 / s, y as f32 / s);
        let disc = ((fx - 0.35).powi(2) + (fy - 0.35).powi(2)).sqrt() < 0.18;
        let stripes = fx > 0.6 && ((fy * 20.0) as u32).is_multiple_of(2);
        let sky = [90.0 + 120.0 * fy, 140.0 + 60.0 * fy, 220.0 - 80.0 * fx];
        let rgb = match (disc, stripes) {
            (true, _) => [230.0, 190.0, 60.0],
            (_, true) => [40.0, 90.0, 50.0],
            _ => sky,
        };
        image::Rgb(rgb.map(|v: f32| v.clamp(0.0, 255.0) as u8))
    })
}

fn list_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl LossValues {
    /// The four components as one tensor `[content, style, tv, total]`, detached from the
    /// graph, so that reading them back is one transfer from the device rather than four.
    pub fn stack(parts: &LossParts) -> Tensor<1> {
        let part = |t: &Tensor<1>| t.clone().detach().reshape([1]);
        Tensor::cat(
            vec![
                part(&parts.content),
                part(&parts.style),
                part(&parts.tv),
                part(&parts.total),
            ],
            0,
        )
    }

    /// Reads a [`Self::stack`] back from its device (waits for it to be computed).
    pub fn from_stacked(stacked: Tensor<1>) -> Self {
        let data = stacked.into_data().convert::<f32>();
        let mut values = data.iter::<f32>();
        let mut next = || values.next().unwrap_or(f32::NAN);
        Self {
            content: next(),
            style: next(),
            tv: next(),
            total: next(),
        }
    }

    /// Reads the four components back from the device.
    pub fn read(parts: &LossParts) -> Self {
        Self::from_stacked(Self::stack(parts))
    }
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;

    use crate::loss::LossParts;
    use crate::metrics::LossValues;

    #[test]
    fn loss_parts_read_back_in_one_transfer_in_their_order() {
        let device = Device::flex().autodiff();
        let value = |v: f32| Tensor::<1>::from_floats([v], &device);
        let parts = LossParts {
            content: value(1.5),
            style: value(2.25),
            tv: value(0.0),
            total: value(3.75),
        };
        let values = LossValues::read(&parts);
        assert_eq!(values.as_array(), [1.5, 2.25, 0.0, 3.75]);
    }
}
