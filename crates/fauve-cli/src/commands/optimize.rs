//! `fauve optimize`: Gatys et al.'s slow, per-image style transfer — the pixels themselves are
//! optimised (L-BFGS or Adam) to minimise the same perceptual loss the fast networks learn.
//!
//! The loss flags here ([`LossArgs`]) are shared with `fauve compare`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use fauve_infer::{DecodeOptions, ImageTensor};
use fauve_train::lbfgs::LbfgsConfig;
use fauve_train::loss::{PerceptualLoss, PerceptualLossConfig};
use fauve_train::optimize::{Init, IterationReport, Method, OptimizeOptions, optimize};
use fauve_train::transformer::{Device, image_to_tensor};
use fauve_train::vgg::{Vgg, VggDepth};
use image::RgbImage;
use indicatif::{ProgressBar, ProgressStyle};

use super::device::DeviceArg;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// VGG16; content relu2_2; style relu1_2, relu2_2, relu3_3, relu4_3 (needs VGG16 weights,
    /// or `--vgg vgg19`).
    Johnson,
    /// VGG19; content relu4_2; style relu1_1 … relu5_1.
    Gatys,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum VggArg {
    Vgg16,
    Vgg19,
}

/// The perceptual loss: layer preset, loss network file and weight overrides.
#[derive(clap::Args, Debug, Clone)]
pub struct LossArgs {
    /// Layer and weight preset, default gatys (fauve compare: the model's own `fauve.config`
    /// is used instead unless a preset is given).
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// VGG weights (torchvision .pth or safetensors), e.g. ../shared/weights/vgg19-imagenet-caffe.safetensors.
    #[arg(long, value_name = "FILE")]
    pub weights: PathBuf,
    /// Loss network, overriding the preset's (the johnson preset on VGG19 weights: `--vgg vgg19`).
    #[arg(long, value_enum)]
    pub vgg: Option<VggArg>,
    /// Content loss weight, overriding the preset's (gatys 1, johnson 1e5).
    #[arg(long, value_name = "W")]
    pub content_weight: Option<f32>,
    /// Style loss weight, overriding the preset's (gatys 1e6, johnson 1e10).
    #[arg(long, value_name = "W")]
    pub style_weight: Option<f32>,
    /// Total-variation weight on 0–1 pixels, overriding the preset's (0).
    #[arg(long, value_name = "W")]
    pub tv_weight: Option<f32>,
    /// Content layers, overriding the preset's (comma-separated, e.g. `relu2_2`).
    #[arg(long, value_name = "LAYERS", value_delimiter = ',')]
    pub content_layers: Option<Vec<String>>,
    /// Style layers, overriding the preset's (comma-separated, e.g. `relu1_2,relu2_2`).
    #[arg(long, value_name = "LAYERS", value_delimiter = ',')]
    pub style_layers: Option<Vec<String>>,
}

impl LossArgs {
    /// `base` (a preset or a model's own config) with the flags applied.
    pub fn apply(&self, mut config: PerceptualLossConfig) -> PerceptualLossConfig {
        if let Some(vgg) = self.vgg {
            config.vgg = match vgg {
                VggArg::Vgg16 => VggDepth::Vgg16,
                VggArg::Vgg19 => VggDepth::Vgg19,
            };
        }
        if let Some(w) = self.content_weight {
            config.content_weight = w;
        }
        if let Some(w) = self.style_weight {
            config.style_weight = w;
        }
        if let Some(w) = self.tv_weight {
            config.tv_weight = w;
        }
        if let Some(layers) = &self.content_layers {
            config.content_layers = layers.clone();
        }
        if let Some(layers) = &self.style_layers {
            config.style_layers = layers.clone();
            config.style_layer_weights.clear();
        }
        config
    }

    pub fn preset_config(&self) -> PerceptualLossConfig {
        match self.preset.unwrap_or(Preset::Gatys) {
            Preset::Johnson => PerceptualLossConfig::johnson(),
            Preset::Gatys => PerceptualLossConfig::gatys(),
        }
    }
}

/// Loads the VGG (only as deep as `config` reads) and computes the style target.
pub fn load_loss(
    config: PerceptualLossConfig,
    weights: &Path,
    style: &ImageTensor,
    device: &Device,
) -> Result<PerceptualLoss> {
    let deepest = config.deepest_layer()?;
    let vgg = Vgg::load(weights, config.vgg, Some(&deepest), device)
        .with_context(|| format!("{}: cannot load the loss network", weights.display()))?;
    Ok(PerceptualLoss::new(
        vgg,
        config,
        image_to_tensor(style, device),
    )?)
}

/// Reads an image (EXIF-upright), shrunk so its longest side is at most `size`.
pub fn load_image(path: &Path, size: u32) -> Result<ImageTensor> {
    decode(path, Some(size))
}

/// The painting as the loss must see it. With a `style_size` (the zoo's configs use 512) the
/// loss resizes the painting itself, from full resolution, exactly as training did: reading it
/// at `--size` first and letting the loss enlarge it again would score every image against a
/// blurred painting, a different target from the one the model was trained on (it made the
/// fast models' style losses 5–8× their training values). Without a `style_size`, Gatys et
/// al.'s convention: the painting at the content's scale.
pub fn load_style_image(
    path: &Path,
    size: u32,
    config: &PerceptualLossConfig,
) -> Result<ImageTensor> {
    decode(path, config.style_size.is_none().then_some(size))
}

fn decode(path: &Path, max_size: Option<u32>) -> Result<ImageTensor> {
    let options = DecodeOptions {
        max_size,
        ..DecodeOptions::default()
    };
    let decoded = fauve_infer::decode::decode_file(path, &options)?;
    Ok(fauve_infer::convert::rgb_to_tensor(&decoded.rgb))
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerArg {
    Lbfgs,
    Adam,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitArg {
    Content,
    Noise,
}

#[derive(clap::Args)]
pub struct Args {
    /// The photo.
    #[arg(long, value_name = "IMAGE")]
    content: PathBuf,
    /// The painting.
    #[arg(long, value_name = "IMAGE")]
    style: PathBuf,
    /// Output image (format from the extension).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    #[command(flatten)]
    loss: LossArgs,
    /// `lbfgs` (default; Gatys et al.) or `adam`.
    #[arg(long, value_enum, default_value = "lbfgs")]
    optimizer: OptimizerArg,
    /// Step size: L-BFGS's step along its direction (default 1), Adam's in pixel units on the
    /// 0–255 scale (default 10).
    #[arg(long, value_name = "LR")]
    learning_rate: Option<f64>,
    /// L-BFGS iterations or Adam steps.
    #[arg(long, default_value_t = 300)]
    iterations: usize,
    /// Start from the photo (`content`) or from seeded white noise (`noise`).
    #[arg(long, value_enum, default_value = "content")]
    init: InitArg,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Longest side of the optimised image (and of the style image) in pixels; images are
    /// only ever shrunk.
    #[arg(long, value_name = "PX", default_value_t = 512)]
    size: u32,
    /// Save every N-th iteration to `<output stem>_frames/` and all of them as `<output stem>.gif`.
    #[arg(long, value_name = "N")]
    save_every: Option<usize>,
    #[command(flatten)]
    device: DeviceArg,
}

impl Args {
    fn options(&self) -> OptimizeOptions {
        let mut options = OptimizeOptions {
            method: match self.optimizer {
                OptimizerArg::Lbfgs => Method::Lbfgs,
                OptimizerArg::Adam => Method::Adam,
            },
            iterations: self.iterations,
            init: match self.init {
                InitArg::Content => Init::Content,
                InitArg::Noise => Init::Noise,
            },
            seed: self.seed,
            ..OptimizeOptions::default()
        };
        if let Some(lr) = self.learning_rate {
            options.adam_learning_rate = lr;
            options.lbfgs = LbfgsConfig {
                learning_rate: lr,
                ..LbfgsConfig::default()
            };
        }
        options
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    // Checked before minutes of optimisation, not found out when the image is written.
    fauve_infer::OutputFormat::from_path(&args.output)?;
    let device = args.device.burn_device()?;
    let content = load_image(&args.content, args.size).context("content image")?;
    let config = args.loss.apply(args.loss.preset_config());
    let style = load_style_image(&args.style, args.size, &config).context("style image")?;
    let loss = load_loss(
        config,
        &args.loss.weights,
        &style,
        &device.clone().autodiff(),
    )?;
    let options = args.options();

    let frames = args
        .save_every
        .filter(|n| *n > 0)
        .map(|every| FrameWriter::new(&args.output, every));
    if let Some(frames) = &frames {
        std::fs::create_dir_all(&frames.dir).with_context(|| {
            format!("{}: cannot create the frames folder", frames.dir.display())
        })?;
    }
    let bar = progress_bar(options.iterations as u64);
    let mut frame_error = None;
    let mut gif_frames = Vec::new();
    let result = optimize(&loss, &content, &device, &options, |report, image| {
        bar.set_position(report.iteration as u64);
        bar.set_message(format!("{} · {} evals", report.losses, report.evaluations));
        if let Some(frames) = &frames
            && (report.iteration % frames.every == 0 || report.iteration == options.iterations)
        {
            let rgb = fauve_infer::convert::tensor_to_rgb(image);
            if let Err(e) = frames.write(report, &rgb) {
                frame_error.get_or_insert(e);
            }
            gif_frames.push(rgb);
        }
    })?;
    bar.finish_and_clear();
    if let Some(e) = frame_error {
        return Err(e);
    }

    if let Some(parent) = args.output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("{}: cannot create the output folder", parent.display()))?;
    }
    fauve_infer::encode::write_image(
        &args.output,
        &fauve_infer::convert::tensor_to_rgb(&result.image),
        None,
    )?;
    if let Some(frames) = &frames {
        write_gif(&frames.gif, &gif_frames)?;
        eprintln!(
            "frames: {} ({} images), animation: {}",
            frames.dir.display(),
            gif_frames.len(),
            frames.gif.display()
        );
    }
    if let Some(reason) = &result.stopped_early {
        eprintln!("note: {reason}");
    }
    let first = result.history[0].losses;
    let last = result.last();
    eprintln!(
        "{}: {} iterations, {} evaluations, {:.1} s ({:.3} s per evaluation); loss {:.4e} → {}",
        args.output.display(),
        last.iteration,
        result.evaluations,
        result.elapsed_secs,
        result.elapsed_secs / result.evaluations as f64,
        first.total,
        last.losses
    );
    Ok(ExitCode::SUCCESS)
}

fn progress_bar(iterations: u64) -> ProgressBar {
    let bar = ProgressBar::new(iterations);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} iterations, ETA {eta}  {msg}",
        )
        .expect("valid template"),
    );
    bar
}

/// Where `--save-every` puts its frames and animation.
struct FrameWriter {
    dir: PathBuf,
    gif: PathBuf,
    every: usize,
}

impl FrameWriter {
    fn new(output: &Path, every: usize) -> Self {
        let stem = output
            .file_stem()
            .map_or("optimized".into(), |s| s.to_string_lossy().into_owned());
        let parent = output.parent().unwrap_or(Path::new(""));
        Self {
            dir: parent.join(format!("{stem}_frames")),
            gif: parent.join(format!("{stem}.gif")),
            every,
        }
    }

    fn write(&self, report: &IterationReport, rgb: &RgbImage) -> Result<()> {
        let path = self.dir.join(format!("iter-{:05}.png", report.iteration));
        fauve_infer::encode::write_image(&path, rgb, None)?;
        Ok(())
    }
}

/// An animated GIF of `frames` (0.1 s each, the last held 2 s, looping), written atomically.
pub fn write_gif(path: &Path, frames: &[RgbImage]) -> Result<()> {
    use image::codecs::gif::{GifEncoder, Repeat};
    use image::{Delay, DynamicImage, Frame};
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut bytes, 10);
        encoder
            .set_repeat(Repeat::Infinite)
            .with_context(|| format!("{}: GIF encoding", path.display()))?;
        for (i, rgb) in frames.iter().enumerate() {
            let hold = if i + 1 == frames.len() { 2000 } else { 100 };
            let rgba = DynamicImage::ImageRgb8(rgb.clone()).to_rgba8();
            let frame = Frame::from_parts(rgba, 0, 0, Delay::from_numer_denom_ms(hold, 1));
            encoder
                .encode_frame(frame)
                .with_context(|| format!("{}: GIF encoding", path.display()))?;
        }
    }
    fauve_infer::encode::write_atomically(path, &bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_png(path: &Path, width: u32, height: u32) {
        image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 7])
        })
        .save(path)
        .unwrap();
    }

    #[test]
    fn the_painting_keeps_full_resolution_when_the_loss_resizes_it_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("painting.png");
        write_png(&path, 600, 300);
        let mut config = PerceptualLossConfig::johnson();
        config.style_size = Some(512);
        let style = load_style_image(&path, 64, &config).unwrap();
        assert_eq!((style.width, style.height), (600, 300));

        config.style_size = None;
        let style = load_style_image(&path, 64, &config).unwrap();
        assert_eq!((style.width, style.height), (64, 32));
    }
}
