//! `fauve stylize`: run a style network over images.
//!
//! Inputs are files, directories (their image files, not recursive) or glob patterns (quoted
//! so the shell leaves them to us). Outputs:
//! - `-o FILE` (one input): that file, its format from its extension;
//! - `-o DIR` (or several inputs): `DIR/<input stem>.<ext>`, created if needed;
//! - no `-o`: the directory `./stylized/`, same naming.
//!
//! `<ext>` keeps the input's format when we can write it (png, jpg/jpeg, webp), else png.
//! A batch goes on past bad files, lists them at the end and exits non-zero; a failed image
//! never leaves a file behind (outputs are written atomically).
//!
//! `--preserve-color` keeps the photo's colours (only the style's luminance is taken), then
//! `--strength` blends from the photo (0) to that result (1); see `fauve_infer::postprocess`.
//!
//! Images go through one pipeline (`fauve_infer::batch`: the next photo is decoded and the
//! previous one encoded while the network runs). Videos (mp4, m4v, mov, mkv, webm, avi, by
//! extension) go through ffmpeg one at a time (`fauve_infer::video`, `stylize/video.rs`);
//! their output is `<stem>.<same container>` (avi → mp4), or `-o out.mp4`.
//!
//! `--device cuda` that cannot be used (no `cuda` build, no GPU runtime) warns with the
//! reason and runs on the CPU.

mod video;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use fauve_infer::{
    BlendOptions, DEFAULT_MAX_PIXELS, DecodeOptions, Device, OutputFormat, SessionOptions,
    StageTimes, StylizeOptions,
};
use serde::Serialize;

/// `--model PATH | --style NAME`, shared with `fauve bench`.
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
pub struct ModelSource {
    /// The ONNX style network to run.
    #[arg(short, long, value_name = "PATH")]
    pub model: Option<PathBuf>,

    /// A shipped style: models/NAME.onnx (searched in ./models, $FAUVE_MODELS, the repo's models/).
    #[arg(short, long, value_name = "NAME")]
    pub style: Option<String>,
}

impl ModelSource {
    pub fn resolve(&self) -> Result<PathBuf> {
        match (&self.model, &self.style) {
            (Some(path), _) => Ok(path.clone()),
            (None, Some(name)) => Ok(fauve_infer::styles::find_style(name)?),
            (None, None) => bail!("give a model with --model PATH or --style NAME"),
        }
    }
}

/// Where outputs go when `-o` is not given.
pub const DEFAULT_OUTPUT_DIR: &str = "stylized";

/// Extensions taken from directories (and shown as "images" in messages).
const IMAGE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff", "pnm", "ppm", "pgm", "qoi", "tga",
    "ico",
];

#[derive(clap::Args)]
pub struct Args {
    /// Images and videos: files, directories (their images), or quoted glob patterns like
    /// "photos/*.jpg". Videos (.mp4 .m4v .mov .mkv .webm .avi) need ffmpeg.
    #[arg(required = true, value_name = "INPUTS")]
    inputs: Vec<String>,

    #[command(flatten)]
    model: ModelSource,

    /// Output file (one input; format from its extension) or directory (an existing one, or a
    /// name without extension; created if needed). Default: ./stylized/
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,

    /// Downscale inputs so that their longest side is at most N pixels (aspect kept).
    #[arg(long, value_name = "N")]
    max_size: Option<u32>,

    /// Refuse images with more pixels than this (checked from the header, before decoding).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PIXELS)]
    max_pixels: u64,

    /// ONNX Runtime intra-op threads (default: ONNX Runtime's choice, the physical cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,

    /// Where ONNX Runtime runs: cpu, cuda or cuda:N (CUDA needs a `cuda` build and onnxruntime-gpu).
    #[arg(long, default_value = "cpu", value_name = "DEVICE")]
    device: Device,

    /// How much of the style to apply, 0 to 1: 0 writes the photo unchanged (the network is
    /// not run), 1 the full stylisation; in between blends the two per pixel.
    #[arg(long, value_name = "S", default_value_t = 1.0, value_parser = parse_strength,
          allow_negative_numbers = true)]
    strength: f32,

    /// Keep the photo's colours: take only the luminance from the style (YCbCr, BT.601).
    /// Applied before --strength.
    #[arg(long)]
    preserve_color: bool,

    /// Run images in N×N tiles (overlapping, blended, instance norms with whole-image
    /// statistics), which bounds memory: 0 never tiles. Default: 1024² tiles for images over
    /// --tile-above pixels.
    #[arg(long, value_name = "N")]
    tile: Option<u32>,

    /// Tile images with more pixels than this automatically. Also the pixel budget of the
    /// whole-image statistics pass: larger images are downscaled for it.
    #[arg(long, value_name = "PIXELS", default_value_t = fauve_infer::DEFAULT_TILE_ABOVE_PIXELS)]
    tile_above: u64,

    /// Pixels shared by neighbouring tiles (blended in the middle, margins discarded).
    #[arg(long, value_name = "N", default_value_t = fauve_infer::DEFAULT_OVERLAP)]
    tile_overlap: u32,

    /// Print a machine-readable report on stdout.
    #[arg(long)]
    json: bool,
}

/// `--strength`: a number in 0..=1, refused by clap (before anything is read or written).
fn parse_strength(text: &str) -> Result<f32, String> {
    let strength: f32 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number; strength must be between 0 and 1"))?;
    BlendOptions::new(strength, false)
        .map(|_| strength)
        .map_err(|e| e.to_string())
}

/// One line of the report: an input, what became of it.
#[derive(Debug, Serialize)]
struct ImageReport {
    input: PathBuf,
    output: Option<PathBuf>,
    width: Option<u32>,
    height: Option<u32>,
    /// For a video: sums over its frames.
    times: Option<StageTimes>,
    error: Option<String>,
    /// Videos only: frames, rates, audio.
    #[serde(skip_serializing_if = "Option::is_none")]
    video: Option<fauve_infer::video::VideoStats>,
}

#[derive(Debug, Serialize)]
struct Report {
    model: PathBuf,
    /// Where the network ran (`cpu` after a fallback from an unavailable `--device`).
    device: String,
    /// Why the requested device was not used, if it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    device_fallback: Option<String>,
    strength: f32,
    preserve_color: bool,
    images: Vec<ImageReport>,
    succeeded: usize,
    failed: usize,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let model_path = args.model.resolve()?;
    let inputs = expand_inputs(&args.inputs);
    if inputs.is_empty() {
        bail!("no input images found in {}", args.inputs.join(", "));
    }
    let destination = Destination::choose(args.output.as_deref(), inputs.len())?;

    let session = SessionOptions {
        intra_threads: args.threads,
        device: args.device,
    };
    let loaded = fauve_infer::device::load_with_fallback(&model_path, &session)?;
    if let Some(message) = &loaded.fallback {
        eprintln!("warning: {message}");
    }
    let mut model = loaded.model;
    model.set_tiling(fauve_infer::TilingOptions {
        tile: args.tile,
        above_pixels: args.tile_above,
        overlap: args.tile_overlap,
        per_tile_statistics: false,
    })?;
    let options = StylizeOptions {
        decode: DecodeOptions {
            max_pixels: args.max_pixels,
            max_size: args.max_size,
        },
        blend: BlendOptions::new(args.strength, args.preserve_color)?,
    };

    // Outputs are chosen and checked for every input first; the files that pass go through
    // one read ∥ network ∥ write pipeline (fauve_infer::batch), reports kept in input order.
    let mut slots: Vec<Option<ImageReport>> = Vec::with_capacity(inputs.len());
    let mut jobs = Vec::new();
    let mut job_slots = Vec::new();
    let mut videos = Vec::new();
    let mut claimed_outputs = BTreeSet::new();
    for input in inputs {
        match input {
            Input::Missing { pattern, reason } => {
                slots.push(Some(failed(PathBuf::from(pattern), None, reason)));
            }
            Input::File(path) => match plan_output(&path, &destination, &mut claimed_outputs) {
                Ok(output) => {
                    let job = fauve_infer::Job {
                        input: path,
                        output,
                    };
                    if fauve_infer::video::is_video_path(&job.input) {
                        videos.push((slots.len(), job));
                    } else {
                        job_slots.push(slots.len());
                        jobs.push(job);
                    }
                    slots.push(None);
                }
                Err(reason) => slots.push(Some(failed(path, None, reason))),
            },
        }
    }
    fauve_infer::stylize_files(&mut model, &jobs, &options, |j, result| {
        let job = &jobs[j];
        slots[job_slots[j]] = Some(image_report(job, result));
    });
    if !videos.is_empty() {
        video::catch_interrupts();
    }
    let video_options = fauve_infer::video::VideoOptions {
        max_size: args.max_size,
        blend: options.blend,
    };
    for (slot, job) in videos {
        slots[slot] = Some(if video::interrupted() {
            failed(
                job.input.clone(),
                None,
                format!("{}: not started: interrupted", job.input.display()),
            )
        } else {
            let result = video::stylize(&mut model, &job.input, &job.output, &video_options);
            video_report(&job, result)
        });
    }
    let reports: Vec<ImageReport> = slots
        .into_iter()
        .map(|report| report.expect("every input has a report"))
        .collect();

    let failed_count = reports.iter().filter(|r| r.error.is_some()).count();
    print_summary(&reports, failed_count);
    if args.json {
        let report = Report {
            model: model_path,
            device: loaded.device.to_string(),
            device_fallback: loaded.fallback,
            strength: options.blend.strength(),
            preserve_color: options.blend.preserve_color(),
            succeeded: reports.len() - failed_count,
            failed: failed_count,
            images: reports,
        };
        let mut stdout = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut stdout, &report)?;
        writeln!(stdout)?;
    }
    Ok(if failed_count == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The output for `input`, or why there is none (checked before anything is decoded).
fn plan_output(
    input: &Path,
    destination: &Destination,
    claimed_outputs: &mut BTreeSet<PathBuf>,
) -> Result<PathBuf, String> {
    let output = destination.output_for(input)?;
    let (video_in, video_out) = (
        fauve_infer::video::is_video_path(input),
        fauve_infer::video::is_output_video_path(&output),
    );
    if video_in && !video_out {
        return Err(format!(
            "{}: a video's output must be a video (.{}), not {}",
            input.display(),
            fauve_infer::video::OUTPUT_VIDEO_EXTENSIONS.join(", ."),
            output.display()
        ));
    }
    if video_out && !video_in {
        return Err(format!(
            "{}: not a video (by its extension), so it cannot be written as {}",
            input.display(),
            output.display()
        ));
    }
    // Two inputs with the same stem (a/x.png, b/x.png) must not silently overwrite each other.
    if !claimed_outputs.insert(output.clone()) {
        return Err(format!(
            "{}: output {} is already written by an earlier input",
            input.display(),
            output.display()
        ));
    }
    if same_file(input, &output) {
        return Err(format!(
            "{}: refusing to overwrite the input with its own output",
            input.display()
        ));
    }
    if let Some(dir) = destination.directory()
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        return Err(format!(
            "{}: cannot create output directory: {e}",
            dir.display()
        ));
    }
    Ok(output)
}

/// Prints one finished image's line (or error) and makes its report.
fn image_report(
    job: &fauve_infer::Job,
    result: Result<fauve_infer::Stylized, fauve_infer::InferError>,
) -> ImageReport {
    match result {
        Ok(done) => {
            let t = done.times;
            eprintln!(
                "{} → {} ({}×{}): decode {:.1} ms, run {:.1} ms, encode {:.1} ms",
                job.input.display(),
                job.output.display(),
                done.width,
                done.height,
                t.decode_ms,
                t.run_ms,
                t.encode_ms
            );
            ImageReport {
                input: job.input.clone(),
                output: Some(job.output.clone()),
                width: Some(done.width),
                height: Some(done.height),
                times: Some(t),
                error: None,
                video: None,
            }
        }
        Err(e) => failed(job.input.clone(), None, e.to_string()),
    }
}

/// Prints one finished video's line (or error) and makes its report.
fn video_report(
    job: &fauve_infer::Job,
    result: Result<fauve_infer::video::VideoStats, fauve_infer::InferError>,
) -> ImageReport {
    match result {
        Ok(stats) => {
            let per_frame = |ms: f64| ms / stats.frames as f64;
            eprintln!(
                "{} → {} ({}×{}, {} frames at {:.3} fps, audio {}): {:.1} s, {:.2} frames/s; \
                 per frame: read {:.1} ms, run {:.1} ms, write {:.1} ms",
                job.input.display(),
                job.output.display(),
                stats.width,
                stats.height,
                stats.frames,
                stats.fps,
                stats.audio,
                stats.seconds,
                stats.frames_per_second,
                per_frame(stats.times.decode_ms),
                per_frame(stats.times.run_ms),
                per_frame(stats.times.encode_ms),
            );
            ImageReport {
                input: job.input.clone(),
                output: Some(job.output.clone()),
                width: Some(stats.width),
                height: Some(stats.height),
                times: Some(stats.times),
                error: None,
                video: Some(stats),
            }
        }
        Err(e) => failed(job.input.clone(), None, e.to_string()),
    }
}

fn failed(input: PathBuf, output: Option<PathBuf>, reason: String) -> ImageReport {
    eprintln!("error: {reason}");
    ImageReport {
        input,
        output,
        width: None,
        height: None,
        times: None,
        error: Some(reason),
        video: None,
    }
}

fn print_summary(reports: &[ImageReport], failed_count: usize) {
    if failed_count == 0 {
        if reports.len() > 1 {
            eprintln!("stylised {} images", reports.len());
        }
        return;
    }
    eprintln!("{failed_count} of {} inputs failed:", reports.len());
    for report in reports {
        // Every reason already starts with the file it is about.
        if let Some(reason) = &report.error {
            eprintln!("  {reason}");
        }
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// An input as given or expanded.
#[derive(Debug, PartialEq)]
enum Input {
    File(PathBuf),
    /// A name or pattern that matched nothing: reported like a bad file, the batch goes on.
    Missing {
        pattern: String,
        reason: String,
    },
}

/// Files stay files (a missing one is reported when read), directories give their image
/// files (sorted), anything else containing `*?[` is a glob pattern.
fn expand_inputs(args: &[String]) -> Vec<Input> {
    let mut inputs = Vec::new();
    for arg in args {
        let path = Path::new(arg);
        if path.is_dir() {
            let before = inputs.len();
            match std::fs::read_dir(path) {
                Ok(entries) => {
                    let mut files: Vec<PathBuf> = entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.is_file() && has_image_extension(p))
                        .collect();
                    files.sort();
                    inputs.extend(files.into_iter().map(Input::File));
                }
                Err(e) => inputs.push(Input::Missing {
                    pattern: arg.clone(),
                    reason: format!("{arg}: cannot list directory: {e}"),
                }),
            }
            if inputs.len() == before {
                inputs.push(Input::Missing {
                    pattern: arg.clone(),
                    reason: format!("{arg}: directory has no images"),
                });
            }
        } else if !path.exists() && arg.contains(['*', '?', '[']) {
            match glob::glob(arg) {
                Ok(paths) => {
                    let mut files: Vec<PathBuf> = paths
                        .filter_map(Result::ok)
                        .filter(|p| p.is_file())
                        .collect();
                    files.sort();
                    if files.is_empty() {
                        inputs.push(Input::Missing {
                            pattern: arg.clone(),
                            reason: format!("{arg}: no files match"),
                        });
                    }
                    inputs.extend(files.into_iter().map(Input::File));
                }
                Err(e) => inputs.push(Input::Missing {
                    pattern: arg.clone(),
                    reason: format!("{arg}: bad glob pattern: {e}"),
                }),
            }
        } else {
            inputs.push(Input::File(path.to_path_buf()));
        }
    }
    inputs
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Where outputs go: one named file, or a directory.
#[derive(Debug, PartialEq)]
enum Destination {
    File(PathBuf),
    Directory(PathBuf),
}

impl Destination {
    fn choose(output: Option<&Path>, input_count: usize) -> Result<Destination> {
        let Some(output) = output else {
            return Ok(Destination::Directory(PathBuf::from(DEFAULT_OUTPUT_DIR)));
        };
        let looks_like_dir = output.is_dir()
            || output
                .as_os_str()
                .to_string_lossy()
                .ends_with(std::path::MAIN_SEPARATOR)
            || output.extension().is_none();
        if looks_like_dir {
            if output.exists() && !output.is_dir() {
                bail!("{}: output exists and is not a directory", output.display());
            }
            return Ok(Destination::Directory(output.to_path_buf()));
        }
        if input_count > 1 {
            bail!(
                "{}: with {input_count} inputs, -o must be a directory (an existing one, or a name without extension)",
                output.display()
            );
        }
        if !fauve_infer::video::is_output_video_path(output) {
            OutputFormat::from_path(output).with_context(|| "choosing the output format")?;
        }
        Ok(Destination::File(output.to_path_buf()))
    }

    fn directory(&self) -> Option<&Path> {
        match self {
            Destination::Directory(dir) => Some(dir),
            Destination::File(_) => None,
        }
    }

    fn output_for(&self, input: &Path) -> Result<PathBuf, String> {
        match self {
            Destination::File(path) => Ok(path.clone()),
            Destination::Directory(dir) => {
                let stem = input
                    .file_stem()
                    .ok_or_else(|| format!("{}: input has no file name", input.display()))?;
                let extension = if fauve_infer::video::is_video_path(input) {
                    fauve_infer::video::output_extension_for(input)
                } else {
                    input
                        .extension()
                        .and_then(|e| e.to_str())
                        .filter(|e| OutputFormat::from_extension(e).is_some())
                        .map_or_else(|| "png".to_string(), str::to_ascii_lowercase)
                };
                let mut name = stem.to_os_string();
                name.push(".");
                name.push(extension);
                Ok(dir.join(name))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_keep_writable_formats_and_default_to_png() {
        let dir = Destination::Directory(PathBuf::from("out"));
        assert_eq!(
            dir.output_for(Path::new("a/photo.JPG")).unwrap(),
            PathBuf::from("out/photo.jpg")
        );
        assert_eq!(
            dir.output_for(Path::new("scan.tiff")).unwrap(),
            PathBuf::from("out/scan.png")
        );
        assert_eq!(
            dir.output_for(Path::new("clip.MOV")).unwrap(),
            PathBuf::from("out/clip.mov")
        );
        assert_eq!(
            dir.output_for(Path::new("old.avi")).unwrap(),
            PathBuf::from("out/old.mp4")
        );
    }

    #[test]
    fn several_inputs_need_a_directory() {
        assert!(Destination::choose(Some(Path::new("x.png")), 2).is_err());
        assert_eq!(
            Destination::choose(Some(Path::new("x.png")), 1).unwrap(),
            Destination::File("x.png".into())
        );
        assert_eq!(
            Destination::choose(Some(Path::new("outdir")), 3).unwrap(),
            Destination::Directory("outdir".into())
        );
        assert!(Destination::choose(Some(Path::new("x.gif")), 1).is_err());
        assert_eq!(
            Destination::choose(Some(Path::new("x.mp4")), 1).unwrap(),
            Destination::File("x.mp4".into())
        );
        assert_eq!(
            Destination::choose(None, 1).unwrap(),
            Destination::Directory(DEFAULT_OUTPUT_DIR.into())
        );
    }

    #[test]
    fn unmatched_globs_are_reported_not_dropped() {
        let inputs = expand_inputs(&["/nonexistent-fauve/*.png".to_string()]);
        assert!(matches!(&inputs[..], [Input::Missing { .. }]));
    }
}
