//! `fauve bench`: how long the ONNX Runtime run takes, and how much the rest of stylising
//! (decode, pre/post-processing, encode) adds on top.
//!
//! For each size, on a synthetic photo-like image of that size:
//! - run: `StyleModel::run` alone, on a ready tensor;
//! - end-to-end: JPEG bytes in memory → decode → tensor → run → RGB8 → encoded bytes
//!   (`fauve_infer::stylize_bytes`, the same code `fauve stylize` uses, minus the file system).
//!
//! Each is timed `--runs` times after `--warmup` untimed runs; the table reports median, min
//! and max. Compare the run column with `crates/fauve-infer/benches/ort_python.py`, which
//! times the same model in Python onnxruntime with the same threads and sizes.

use std::io::Cursor;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use fauve_infer::convert::rgb_to_tensor;
use fauve_infer::{Device, OutputFormat, SessionOptions, StyleModel, StylizeOptions};
use image::RgbImage;

use super::stylize::ModelSource;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelSource,

    /// Square image sizes to time, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [256u32, 512, 1024])]
    sizes: Vec<u32>,

    /// Timed runs per size (at least 5, so the median means something).
    #[arg(long, default_value_t = 7)]
    runs: usize,

    /// Untimed runs first (ONNX Runtime allocates and tunes on the first runs at a new size).
    #[arg(long, default_value_t = 2)]
    warmup: usize,

    /// ONNX Runtime intra-op threads (default: ONNX Runtime's choice, the physical cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,

    /// Where ONNX Runtime runs: cpu, cuda or cuda:N (CUDA needs a `cuda` build and onnxruntime-gpu).
    #[arg(long, default_value = "cpu", value_name = "DEVICE")]
    device: Device,

    /// Output format encoded by the end-to-end measurement.
    #[arg(long, default_value = "jpg", value_parser = parse_format)]
    format: OutputFormat,

    /// Time tiled runs with N×N tiles (as `fauve stylize --tile N`; 0 never tiles). Default:
    /// stylize's automatic tiling, which starts above 2048².
    #[arg(long, value_name = "N")]
    tile: Option<u32>,
}

fn parse_format(s: &str) -> Result<OutputFormat, String> {
    OutputFormat::from_extension(s)
        .ok_or_else(|| format!("unsupported format {s:?} (png, jpg, webp)"))
}

/// Median, min and max of some timings, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Summary {
    median: f64,
    min: f64,
    max: f64,
}

impl Summary {
    fn of(mut samples: Vec<f64>) -> Summary {
        assert!(!samples.is_empty());
        samples.sort_by(f64::total_cmp);
        let n = samples.len();
        let median = if n % 2 == 1 {
            samples[n / 2]
        } else {
            (samples[n / 2 - 1] + samples[n / 2]) / 2.0
        };
        Summary {
            median,
            min: samples[0],
            max: samples[n - 1],
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1} ({:.1}–{:.1})", self.median, self.min, self.max)
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    if args.runs < 5 {
        bail!("--runs must be at least 5 (got {})", args.runs);
    }
    let model_path = args.model.resolve()?;
    let options = SessionOptions {
        intra_threads: args.threads,
        device: args.device,
    };
    let loaded = fauve_infer::device::load_with_fallback(&model_path, &options)?;
    if let Some(message) = &loaded.fallback {
        eprintln!("warning: {message}");
    }
    let mut model = loaded.model;
    model.set_tiling(fauve_infer::TilingOptions {
        tile: args.tile,
        ..Default::default()
    })?;
    let threads = args
        .threads
        .map_or_else(|| "ORT default".to_string(), |n| n.to_string());
    eprintln!(
        "benchmarking {} on {} ({} threads, {} warm-up + {} timed runs per size, e2e encodes {:?})",
        model_path.display(),
        loaded.device,
        threads,
        args.warmup,
        args.runs,
        args.format
    );

    let mut rows = Vec::new();
    for &size in &args.sizes {
        let row = bench_size(&mut model, size, &args)
            .with_context(|| format!("benchmarking {size}×{size}"))?;
        eprintln!(
            "{size}×{size}: run {} ms, end-to-end {} ms, of which decode+encode {} ms",
            row.run, row.end_to_end, row.overhead
        );
        rows.push((size, row));
    }

    println!(
        "| size | ORT run, ms: median (min–max) | end-to-end, ms: median (min–max) | e2e / run \
         | decode+pre+post+encode, ms | (run + that) / run |"
    );
    println!("|---|---|---|---|---|---|");
    for (size, row) in rows {
        println!(
            "| {size}×{size} | {} | {} | {:.3} | {} | {:.3} |",
            row.run,
            row.end_to_end,
            row.end_to_end.median / row.run.median,
            row.overhead,
            (row.run.median + row.overhead.median) / row.run.median
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn bench_size(model: &mut StyleModel, size: u32, args: &Args) -> Result<BenchRow> {
    let photo = synthetic_photo(size, size);
    let mut jpeg = Vec::new();
    photo
        .write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
        .context("encoding the test JPEG")?;

    let tensor = rgb_to_tensor(&photo);
    let run = time(args.warmup, args.runs, || model.run(&tensor).map(drop))?;

    let name = Path::new("bench.jpg");
    // Full strength, style colours: the plain stylisation `fauve stylize` does by default.
    let options = StylizeOptions::default();
    let mut overheads = Vec::new();
    let end_to_end = time(args.warmup, args.runs, || {
        let (_, stylized) = fauve_infer::stylize_bytes(model, name, &jpeg, args.format, &options)?;
        overheads.push(stylized.times.decode_ms + stylized.times.encode_ms);
        Ok::<_, fauve_infer::InferError>(())
    })?;
    // Warm-up runs pushed too; keep the timed ones only.
    let overhead = Summary::of(overheads.split_off(args.warmup));
    Ok(BenchRow {
        run: Summary::of(run),
        end_to_end: Summary::of(end_to_end),
        overhead,
    })
}

/// One size's results. `overhead` is decode + pre + post + encode, measured inside the
/// end-to-end runs: unlike e2e − run, it is not blurred by the run's own variance.
struct BenchRow {
    run: Summary,
    end_to_end: Summary,
    overhead: Summary,
}

fn time<E: std::error::Error + Send + Sync + 'static>(
    warmup: usize,
    runs: usize,
    mut f: impl FnMut() -> Result<(), E>,
) -> Result<Vec<f64>> {
    for _ in 0..warmup {
        f()?;
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f()?;
        samples.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(samples)
}

/// Smooth gradients plus fine texture: JPEG-compresses like a photo, unlike flat colour or
/// pure noise, so decode/encode times are representative. Deterministic.
fn synthetic_photo(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        let texture =
            ((x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 13) as f32 % 24.0;
        let wave = (fx * 9.0).sin() * (fy * 7.0).cos() * 60.0;
        image::Rgb([
            (fx * 200.0 + texture + wave).clamp(0.0, 255.0) as u8,
            (fy * 180.0 + texture + 30.0).clamp(0.0, 255.0) as u8,
            ((1.0 - fx) * 150.0 + wave.abs() + texture).clamp(0.0, 255.0) as u8,
        ])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_takes_median_min_max() {
        assert_eq!(
            Summary::of(vec![5.0, 1.0, 3.0]),
            Summary {
                median: 3.0,
                min: 1.0,
                max: 5.0
            }
        );
        assert_eq!(Summary::of(vec![4.0, 1.0, 3.0, 2.0]).median, 2.5);
    }
}
