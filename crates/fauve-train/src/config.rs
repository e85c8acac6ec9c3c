//! Typed training configuration: TOML files in `configs/`, overridden by CLI flags, saved beside
//! the checkpoints and embedded in the exported ONNX model.
//!
//! Every field has a default, so a style's config only says what differs from
//! `configs/default.toml` (which documents each field).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::loss::PerceptualLossConfig;
use crate::transformer::JOHNSON_RESIDUAL_BLOCKS;

/// More blocks than this is surely a typo (each costs compute at every image size).
const MAX_RESIDUAL_BLOCKS: usize = 32;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub style: StyleConfig,
    pub data: DataConfig,
    pub loss_network: LossNetworkConfig,
    pub loss: PerceptualLossConfig,
    pub network: NetworkConfig,
    pub optim: OptimConfig,
    pub output: OutputConfig,
}

/// The shape of the network learnt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// Residual blocks at quarter resolution: Johnson et al.'s 5, or more (each adds 16 pixels
    /// of receptive field and about an eighth to the compute of the 5-block network).
    pub residual_blocks: usize,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            residual_blocks: JOHNSON_RESIDUAL_BLOCKS,
        }
    }
}

/// The painting to learn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StyleConfig {
    /// Name of the style: the exported model is `models/<name>.onnx` by default.
    pub name: String,
    /// The painting (any format the `image` crate reads).
    pub image: PathBuf,
}

/// The photos the network learns to stylise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// COCO-style root: `<root>/<split>/*.jpg`, optionally `<root>/annotations/*_<split>.json`.
    pub root: PathBuf,
    pub split: String,
    /// Side of the square training crops (Johnson et al.: 256).
    pub image_size: u32,
}

/// Which VGG weights measure the losses (the depth is `loss.vgg`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LossNetworkConfig {
    /// torchvision `.pth` or safetensors with torchvision's keys (see weights/README.md).
    pub weights: PathBuf,
}

/// Adam and the length of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimConfig {
    pub batch_size: usize,
    /// Number of optimisation steps. When `epochs` is set, it wins.
    pub iterations: u64,
    /// Number of passes over the dataset (each step sees `batch_size` photos).
    pub epochs: Option<u32>,
    pub learning_rate: f64,
    /// Changes the rate during the run (usually down): from `from_step` on (steps counted over
    /// the whole run, as checkpoints count them), Adam uses the entry's rate. In increasing
    /// order of step; empty: a constant rate. Why: on the shipped styles, lowering the rate
    /// once the loss stopped falling gained more than adding steps at the same rate (README,
    /// "Stepping the learning rate down"), and a schedule does it without stopping and
    /// resuming the run by hand.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub learning_rate_steps: Vec<LearningRateStep>,
    /// Seeds the network's initialisation, the data order and the crops.
    pub seed: u64,
}

/// One change of the learning rate in [`OptimConfig::learning_rate_steps`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearningRateStep {
    /// The first step trained at `learning_rate` comes after this many steps.
    pub from_step: u64,
    pub learning_rate: f64,
}

impl LearningRateStep {
    /// Parses `STEP:LR` (the CLI's `--learning-rate-step 30000:1e-4`).
    pub fn parse(text: &str) -> Result<Self> {
        let (step, rate) = text
            .split_once(':')
            .with_context(|| format!("{text:?}: expected STEP:LR, e.g. 30000:1e-4"))?;
        let from_step = step
            .trim()
            .parse()
            .with_context(|| format!("{text:?}: {step:?} is not a step count"))?;
        let learning_rate = rate
            .trim()
            .parse()
            .with_context(|| format!("{text:?}: {rate:?} is not a learning rate"))?;
        Ok(Self {
            from_step,
            learning_rate,
        })
    }
}

impl OptimConfig {
    /// The rate of the step made after `steps_done` steps: the last entry of
    /// `learning_rate_steps` that has begun, or `learning_rate` before the first.
    pub fn learning_rate_at(&self, steps_done: u64) -> f64 {
        self.learning_rate_steps
            .iter()
            .take_while(|s| s.from_step <= steps_done)
            .last()
            .map_or(self.learning_rate, |s| s.learning_rate)
    }
}

/// What the run writes and how often.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputConfig {
    /// Run folder: checkpoints/, samples/, metrics.csv, train.log, config.toml, loss.png.
    pub dir: PathBuf,
    /// Where the final ONNX model goes; default `models/<style.name>.onnx`.
    pub model: Option<PathBuf>,
    /// Save a checkpoint every N steps (and at the end, and on Ctrl-C).
    pub checkpoint_every: u64,
    /// How many checkpoints to keep (oldest removed first).
    pub keep_checkpoints: usize,
    /// Stylise the validation photo every N steps (0: never).
    pub sample_every: u64,
    /// The validation photo; default: a synthetic test card, so runs need no extra file.
    pub sample_image: Option<PathBuf>,
    /// Longest side of the validation output.
    pub sample_size: u32,
}

impl Default for StyleConfig {
    fn default() -> Self {
        Self {
            name: "style".into(),
            image: PathBuf::from("style.jpg"),
        }
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            root: PathBuf::from("datasets/coco"),
            split: "train2014".into(),
            image_size: 256,
        }
    }
}

impl Default for LossNetworkConfig {
    fn default() -> Self {
        Self {
            weights: PathBuf::from("weights/vgg16-397923af.pth"),
        }
    }
}

impl Default for OptimConfig {
    fn default() -> Self {
        // Johnson et al.: Adam, lr 1e-3, batch 4, 40k steps (2 epochs of COCO).
        Self {
            batch_size: 4,
            iterations: 40_000,
            epochs: None,
            learning_rate: 1e-3,
            learning_rate_steps: Vec::new(),
            seed: 42,
        }
    }
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("runs/style"),
            model: None,
            checkpoint_every: 500,
            keep_checkpoints: 3,
            sample_every: 500,
            sample_image: None,
            sample_size: 512,
        }
    }
}

impl TrainConfig {
    /// Reads a TOML config; unknown keys are errors (a typo must not be silently ignored).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read config", path.display()))?;
        Self::from_toml(&text).with_context(|| format!("{}: invalid config", path.display()))
    }

    pub fn from_toml(text: &str) -> Result<Self> {
        let config: TrainConfig = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a TrainConfig always serialises")
    }

    /// Number of steps the run makes, from `iterations` or `epochs` and the dataset size.
    pub fn total_steps(&self, dataset_len: usize) -> u64 {
        match self.optim.epochs {
            Some(epochs) => {
                let per_epoch = dataset_len.div_ceil(self.optim.batch_size) as u64;
                per_epoch * epochs as u64
            }
            None => self.optim.iterations,
        }
    }

    /// Where the exported model goes.
    pub fn model_path(&self) -> PathBuf {
        self.output
            .model
            .clone()
            .unwrap_or_else(|| PathBuf::from("models").join(format!("{}.onnx", self.style.name)))
    }

    pub fn validate(&self) -> Result<()> {
        if self.optim.batch_size == 0 {
            bail!("optim.batch_size must be at least 1");
        }
        if self.data.image_size < 16 {
            bail!(
                "data.image_size must be at least 16 (got {})",
                self.data.image_size
            );
        }
        if !(self.optim.learning_rate > 0.0) {
            bail!("optim.learning_rate must be positive");
        }
        let steps = &self.optim.learning_rate_steps;
        if let Some(s) = steps
            .iter()
            .find(|s| !(s.learning_rate > 0.0 && s.learning_rate.is_finite()))
        {
            bail!(
                "optim.learning_rate_steps: the rate from step {} must be positive (got {})",
                s.from_step,
                s.learning_rate
            );
        }
        if let Some([a, b]) = steps
            .windows(2)
            .find(|pair| pair[1].from_step <= pair[0].from_step)
        {
            bail!(
                "optim.learning_rate_steps must be in increasing order of from_step \
                 ({} comes after {})",
                b.from_step,
                a.from_step
            );
        }
        let blocks = self.network.residual_blocks;
        if !(JOHNSON_RESIDUAL_BLOCKS..=MAX_RESIDUAL_BLOCKS).contains(&blocks) {
            bail!(
                "network.residual_blocks must be {JOHNSON_RESIDUAL_BLOCKS} to \
                 {MAX_RESIDUAL_BLOCKS} (got {blocks})"
            );
        }
        if self.output.checkpoint_every == 0 {
            bail!("output.checkpoint_every must be at least 1");
        }
        if self.output.keep_checkpoints == 0 {
            bail!("output.keep_checkpoints must be at least 1");
        }
        if self.style.name.is_empty()
            || !self
                .style
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            bail!(
                "style.name must be letters, digits, '_' or '-' (got {:?})",
                self.style.name
            );
        }
        Ok(())
    }
}
