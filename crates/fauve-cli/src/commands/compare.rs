//! `fauve compare`: the fast network against Gatys optimisation on the same photos, every
//! output scored under one perceptual loss (Johnson et al. 2016, Table 1 and Fig. 5).
//!
//! Per content image: the fast model runs once to warm up and once timed; one optimisation
//! runs to the largest requested iteration count, saving the image at each count. Every image
//! is written as an 8-bit PNG and scored as written, so the report's numbers are those of the
//! files it names. The loss is the model's own (`fauve.config` in its ONNX metadata) when it
//! carries one, else the preset, with the flags applied on top either way.

mod grid;
mod plot;
mod report;

use report::{ContentReport, CurvePoint, Report, Row, Speedup};

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use fauve_infer::convert::{rgb_to_tensor, tensor_to_rgb};
use fauve_infer::{ImageTensor, SessionOptions, StyleModel};
use fauve_train::config::TrainConfig;
use fauve_train::loss::{PerceptualLoss, PerceptualLossConfig};
use fauve_train::optimize::{Init, Method, OptimizeOptions, optimize, score_by_layer};
use fauve_train::transformer::Device;
use image::RgbImage;
use indicatif::{ProgressBar, ProgressStyle};

use super::device::DeviceArg;
use super::optimize::{InitArg, LossArgs, OptimizerArg, load_image, load_loss, load_style_image};
use super::stylize::ModelSource;
use grid::{Cell, write_grid};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelSource,
    /// The painting the model was trained on (the style target of the loss). Default: the
    /// one its training config (`fauve.config` metadata) names.
    #[arg(long, value_name = "IMAGE")]
    style_image: Option<PathBuf>,
    /// Photos to compare on.
    #[arg(long, value_name = "IMAGE", num_args = 1.., required = true)]
    content: Vec<PathBuf>,
    /// Other stylisations of the one photo (`--content`) to score beside the fast model and
    /// the optimisation under the same loss, e.g. another implementation's output. Each is
    /// resized to the photo's scored size.
    #[arg(long, value_name = "IMAGE", num_args = 1..)]
    also: Vec<PathBuf>,
    /// Iteration counts at which the optimisation's image is kept and scored.
    #[arg(long, value_delimiter = ',', default_value = "10,50,100,300")]
    iterations: Vec<usize>,
    #[command(flatten)]
    loss: LossArgs,
    #[arg(long, value_enum, default_value = "lbfgs")]
    optimizer: OptimizerArg,
    /// Start the optimisation from seeded noise (Johnson et al.'s baseline) or the photo.
    #[arg(long, value_enum, default_value = "noise")]
    init: InitArg,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Longest side of the photos and the painting, in pixels (only ever shrunk).
    #[arg(long, value_name = "PX", default_value_t = 256)]
    size: u32,
    /// Output folder: images, grid.png, loss.png, report.json, report.md.
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,
    #[command(flatten)]
    device: DeviceArg,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let mut counts = args.iterations.clone();
    counts.sort_unstable();
    counts.dedup();
    if counts.is_empty() || counts[0] == 0 {
        bail!("--iterations: give positive counts, e.g. 10,50,100,300");
    }
    let max_iterations = *counts.last().expect("not empty");
    ensure!(
        args.also.is_empty() || args.content.len() == 1,
        "--also: give exactly one --content, the photo that the other images stylise"
    );
    // Read before the long optimisation and before the output folder, so that a bad file
    // fails at once and leaves nothing behind.
    let also = read_images(&args.also, u32::MAX, "--also")?;
    let photos = read_images(&args.content, args.size, "--content")?;
    let dir = &args.output;

    let model_path = args.model.resolve()?;
    let mut model = StyleModel::load(&model_path, &SessionOptions::default())?;
    let trained = training_config(&model)?;
    let (base, loss_source) = model_loss_config(trained.as_ref(), &args.loss);
    let config = args.loss.apply(base);

    let style_image = match &args.style_image {
        Some(path) => path.clone(),
        None => trained_painting(&model, trained.as_ref())?,
    };
    let device = args.device.burn_device()?;
    // The grid shows the painting at the photos' size; the loss gets it as training did.
    let style = load_image(&style_image, args.size).context("style image")?;
    let style_for_loss =
        load_style_image(&style_image, args.size, &config).context("style image")?;
    let loss = load_loss(
        config.clone(),
        &args.loss.weights,
        &style_for_loss,
        &device.clone().autodiff(),
    )?;
    // Every input has been read: a bad one leaves no output folder behind.
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create the output folder", dir.display()))?;
    let style_file = "style.png".to_string();
    fauve_infer::encode::write_image(&dir.join(&style_file), &tensor_to_rgb(&style), None)?;
    let options = OptimizeOptions {
        method: match args.optimizer {
            OptimizerArg::Lbfgs => Method::Lbfgs,
            OptimizerArg::Adam => Method::Adam,
        },
        iterations: max_iterations,
        init: match args.init {
            InitArg::Content => Init::Content,
            InitArg::Noise => Init::Noise,
        },
        seed: args.seed,
        ..OptimizeOptions::default()
    };

    let mut setup = Setup {
        model: &mut model,
        loss: &loss,
        device: &device,
        options: &options,
        counts: &counts,
        dir,
        also: &also,
        used_stems: Vec::new(),
    };
    let mut contents = Vec::new();
    let mut grid_rows = Vec::new();
    for (path, content) in photos {
        let compared = compare_one(&path, content, &mut setup)
            .with_context(|| format!("{}: comparison failed", path.display()))?;
        eprintln!("{}: {}", path.display(), compared.report.speedup.text);
        grid_rows.push(compared.cells(&style));
        contents.push(compared.report);
    }

    let report = Report {
        model: model_path.display().to_string(),
        style_image: style_image.display().to_string(),
        style_file,
        weights: args.loss.weights.display().to_string(),
        loss_source,
        loss: config,
        size: args.size,
        optimizer: format!("{:?}", args.optimizer).to_lowercase(),
        init: format!("{:?}", args.init).to_lowercase(),
        iterations: counts,
        contents,
    };
    write_grid(&grid_rows, &dir.join("grid.png"))?;
    let title = format!("optimisation vs fast model — {}", file_name(&model_path));
    plot::plot_loss_curves(&report.contents, &dir.join("loss.png"), &title)?;
    report.write(dir)?;
    eprintln!(
        "wrote {}/{{grid.png, loss.png, report.json, report.md}}",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Each of `paths` read at most `size` px on its longest side; an error names the flag and file.
fn read_images(paths: &[PathBuf], size: u32, flag: &str) -> Result<Vec<(PathBuf, ImageTensor)>> {
    paths
        .iter()
        .map(|path| {
            let image = load_image(path, size).context(flag.to_owned())?;
            Ok((path.clone(), image))
        })
        .collect()
}

/// The training config embedded in the model's metadata (`fauve.config`), if it has one.
fn training_config(model: &StyleModel) -> Result<Option<TrainConfig>> {
    model
        .metadata()
        .get("fauve.config")
        .map(|toml| {
            TrainConfig::from_toml(toml)
                .with_context(|| format!("{}: the `fauve.config` metadata", model.path().display()))
        })
        .transpose()
}

/// The painting the model's training config names: scoring against any other would not be
/// the loss it was trained under.
fn trained_painting(model: &StyleModel, trained: Option<&TrainConfig>) -> Result<PathBuf> {
    let name = model.path().display();
    let config = trained.with_context(|| {
        format!("{name}: no training config (fauve.config) to take the painting from; give --style-image")
    })?;
    let painting = &config.style.image;
    ensure!(
        painting.is_file(),
        "{name}: its training painting {} is not there (a path from where it was trained); give --style-image",
        painting.display()
    );
    Ok(painting.clone())
}

/// The model's own loss (from its training config), else the preset.
fn model_loss_config(
    trained: Option<&TrainConfig>,
    args: &LossArgs,
) -> (PerceptualLossConfig, String) {
    match trained {
        Some(config) if args.preset.is_none() => (
            config.loss.clone(),
            "the model's training config (fauve.config)".into(),
        ),
        _ => {
            let preset = format!(
                "{:?}",
                args.preset.unwrap_or(super::optimize::Preset::Gatys)
            )
            .to_lowercase();
            (args.preset_config(), format!("the {preset} preset"))
        }
    }
}

/// One content image's outputs and numbers.
struct Compared {
    report: ContentReport,
    content: RgbImage,
    images: Vec<RgbImage>,
}

impl Compared {
    /// Grid cells: content | style | each row's image.
    fn cells(&self, style: &ImageTensor) -> Vec<Cell> {
        let mut cells = vec![
            Cell {
                image: self.content.clone(),
                caption: vec!["content".into(), file_name(Path::new(&self.report.content))],
            },
            Cell {
                image: tensor_to_rgb(style),
                caption: vec!["style".into(), String::new()],
            },
        ];
        for (row, image) in self.report.rows.iter().zip(&self.images) {
            let secs = row.wall_secs.unwrap_or(f64::NAN);
            let first = match (&row.source, row.iterations) {
                (Some(source), _) => format!("other: {}", file_name(Path::new(source))),
                (None, Some(n)) => format!("optimisation, {n} it, {secs:.1} s"),
                (None, None) => format!("fast model, {secs:.3} s"),
            };
            cells.push(Cell {
                image: image.clone(),
                caption: vec![first, format!("loss {:.3e}", row.losses.total)],
            });
        }
        cells
    }
}

/// What every content image is compared with.
struct Setup<'a> {
    model: &'a mut StyleModel,
    loss: &'a PerceptualLoss,
    device: &'a Device,
    options: &'a OptimizeOptions,
    counts: &'a [usize],
    dir: &'a Path,
    /// Other stylisations of the photo (`--also`), as read.
    also: &'a [(PathBuf, ImageTensor)],
    used_stems: Vec<String>,
}

fn compare_one(path: &Path, content: ImageTensor, setup: &mut Setup) -> Result<Compared> {
    let Setup {
        loss,
        device,
        options,
        counts,
        dir,
        also,
        ..
    } = *setup;
    let stem = unique_stem(path, &mut setup.used_stems);
    let model = &mut *setup.model;
    let content_file = format!("{stem}_content.png");
    let content_rgb = tensor_to_rgb(&content);
    fauve_infer::encode::write_image(&dir.join(&content_file), &content_rgb, None)?;
    // Scored as written: 8-bit content, 8-bit outputs.
    let content = rgb_to_tensor(&content_rgb);

    // The fast model: one warm-up run (session set-up, allocations), then the timed run.
    model.run(&content)?;
    let started = Instant::now();
    let fast = model.run(&content)?;
    let fast_secs = started.elapsed().as_secs_f64();
    let fast = match (fast.width, fast.height) == (content.width, content.height) {
        true => fast,
        false => fast.resized(content.width, content.height),
    };
    let fast_rgb = tensor_to_rgb(&fast);
    let fast_file = format!("{stem}_fast.png");
    fauve_infer::encode::write_image(&dir.join(&fast_file), &fast_rgb, None)?;
    let fast_losses = score_by_layer(loss, &rgb_to_tensor(&fast_rgb), &content, device)?;
    let fast_total = fast_losses.losses.total;
    let mut rows = vec![Row {
        method: "fast".into(),
        iterations: None,
        evaluations: None,
        wall_secs: Some(fast_secs),
        image: fast_file,
        source: None,
        losses: fast_losses.into(),
    }];
    let mut images = vec![fast_rgb];

    // The optimisation, snapshotting at each requested count.
    let bar = ProgressBar::new(options.iterations as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {prefix} {bar:30} {pos}/{len} iterations, ETA {eta}  {msg}",
        )
        .expect("valid template"),
    );
    bar.set_prefix(file_name(path));
    let mut snapshots: Vec<(usize, usize, f64, RgbImage)> = Vec::new();
    let result = optimize(loss, &content, device, options, |report, image| {
        bar.set_position(report.iteration as u64);
        bar.set_message(format!("loss {:.4e}", report.losses.total));
        if counts.contains(&report.iteration) {
            snapshots.push((
                report.iteration,
                report.evaluations,
                report.elapsed_secs,
                tensor_to_rgb(image),
            ));
        }
    })?;
    bar.finish_and_clear();
    // Counts past an early stop (converged) get the final image, with its true iteration.
    for &count in counts {
        if !snapshots.iter().any(|s| s.0 == count) {
            let last = result.last();
            snapshots.push((
                last.iteration,
                last.evaluations,
                last.elapsed_secs,
                tensor_to_rgb(&result.image),
            ));
        }
    }
    for (iteration, evaluations, secs, rgb) in snapshots {
        let file = format!("{stem}_opt_{iteration:04}.png");
        fauve_infer::encode::write_image(&dir.join(&file), &rgb, None)?;
        let losses = score_by_layer(loss, &rgb_to_tensor(&rgb), &content, device)?;
        rows.push(Row {
            method: "optimisation".into(),
            iterations: Some(iteration),
            evaluations: Some(evaluations),
            wall_secs: Some(secs),
            image: file,
            source: None,
            losses: losses.into(),
        });
        images.push(rgb);
    }
    for (i, (source, image)) in also.iter().enumerate() {
        let rgb = tensor_to_rgb(&image.resized(content.width, content.height));
        let file = format!("{stem}_also_{}.png", i + 1);
        fauve_infer::encode::write_image(&dir.join(&file), &rgb, None)?;
        let losses = score_by_layer(loss, &rgb_to_tensor(&rgb), &content, device)?;
        rows.push(Row {
            method: "other".into(),
            iterations: None,
            evaluations: None,
            wall_secs: None,
            image: file,
            source: Some(source.display().to_string()),
            losses: losses.into(),
        });
        images.push(rgb);
    }

    let curve: Vec<CurvePoint> = result
        .history
        .iter()
        .map(|r| CurvePoint {
            iteration: r.iteration,
            evaluations: r.evaluations,
            elapsed_secs: r.elapsed_secs,
            total: r.losses.total,
        })
        .collect();
    let speedup = speedup(&curve, fast_total, fast_secs, result.last().iteration);
    let report = ContentReport {
        content: path.display().to_string(),
        content_file,
        width: content.width,
        height: content.height,
        rows,
        speedup,
        curve,
    };
    Ok(Compared {
        report,
        content: content_rgb,
        images,
    })
}

/// Time for the optimisation to first match the fast model's loss, over the fast model's time.
pub fn speedup(
    curve: &[CurvePoint],
    fast_total: f32,
    fast_secs: f64,
    last_iteration: usize,
) -> Speedup {
    match curve.iter().find(|p| p.total <= fast_total) {
        Some(p) => {
            let ratio = p.elapsed_secs / fast_secs.max(1e-9);
            Speedup {
                reached_at_iteration: Some(p.iteration),
                optimisation_secs: Some(p.elapsed_secs),
                fast_secs,
                ratio: Some(ratio),
                text: format!(
                    "the optimisation reached the fast model's loss ({fast_total:.4e}) at iteration {} after {:.2} s; the fast model took {:.4} s, {ratio:.0}× less",
                    p.iteration, p.elapsed_secs, fast_secs
                ),
            }
        }
        None => Speedup {
            reached_at_iteration: None,
            optimisation_secs: None,
            fast_secs,
            ratio: None,
            text: format!(
                "the optimisation did not reach the fast model's loss ({fast_total:.4e}) within {last_iteration} iterations; the fast model took {fast_secs:.4} s"
            ),
        },
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or(path.display().to_string(), |n| {
        n.to_string_lossy().into_owned()
    })
}

/// The content's file stem, suffixed when an earlier content of this run had the same one.
fn unique_stem(path: &Path, used: &mut Vec<String>) -> String {
    let stem = path
        .file_stem()
        .map_or("content".into(), |s| s.to_string_lossy().into_owned());
    let mut candidate = stem.clone();
    let mut n = 2;
    while used.contains(&candidate) {
        candidate = format!("{stem}-{n}");
        n += 1;
    }
    used.push(candidate.clone());
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(totals: &[f32]) -> Vec<CurvePoint> {
        totals
            .iter()
            .enumerate()
            .map(|(i, t)| CurvePoint {
                iteration: i,
                evaluations: i + 1,
                elapsed_secs: i as f64 * 2.0,
                total: *t,
            })
            .collect()
    }

    #[test]
    fn speedup_is_the_time_to_first_match_the_fast_loss_over_the_fast_time() {
        let s = speedup(&curve(&[10.0, 8.0, 5.0, 4.0]), 6.0, 0.5, 3);
        assert_eq!(s.reached_at_iteration, Some(2));
        assert_eq!(s.optimisation_secs, Some(4.0));
        assert_eq!(s.ratio, Some(8.0));
        assert!(s.text.contains("8×"), "{}", s.text);
    }

    #[test]
    fn speedup_says_when_the_fast_loss_is_never_reached() {
        let s = speedup(&curve(&[10.0, 8.0]), 1.0, 0.5, 1);
        assert_eq!((s.reached_at_iteration, s.ratio), (None, None));
        assert!(
            s.text.contains("did not reach") && s.text.contains("within 1 iterations"),
            "{}",
            s.text
        );
    }
}
