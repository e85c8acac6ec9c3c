//! Averaging the weights of several checkpoints of one run (Polyak–Ruppert averaging, the
//! idea behind stochastic weight averaging).
//!
//! Why: at a constant learning rate Adam keeps the weights jittering around the minimum it has
//! found, so checkpoints a few steps apart score a few per cent apart, and their mean lies
//! nearer the middle than any one of them. The transformer network normalises with per-image
//! statistics (instance norm, no running means), so an averaged network needs no
//! recalibration pass. Checkpoints must come from one run: the mean of two different
//! networks is not a network in between.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::TensorData;

use crate::checkpoint::Checkpoint;
use crate::config::TrainConfig;
use crate::onnx::SizeStage;
use crate::transformer::TransformerNet;

/// The mean of several checkpoints, described by the newest of them.
#[derive(Debug)]
pub struct AveragedCheckpoints {
    pub network: TransformerNet,
    /// The newest checkpoint's config and crop-size history (what the export records).
    pub config: TrainConfig,
    pub size_stages: Vec<SizeStage>,
    /// The steps of the checkpoints averaged, in increasing order.
    pub steps: Vec<u64>,
}

/// Loads `paths` (checkpoints of one run, any order) and averages their networks' weights
/// with equal weight. One path gives that checkpoint's network unchanged.
pub fn average_checkpoints(paths: &[PathBuf], device: &Device) -> Result<AveragedCheckpoints> {
    ensure!(!paths.is_empty(), "no checkpoint to average");
    let mut loaded = Vec::with_capacity(paths.len());
    for path in paths {
        let checkpoint = Checkpoint::load(path)?;
        let config = TrainConfig::from_toml(&checkpoint.header.config)
            .with_context(|| format!("{}: the embedded config", path.display()))?;
        loaded.push((path.as_path(), checkpoint, config));
    }
    loaded.sort_by_key(|(_, checkpoint, _)| checkpoint.header.step);
    let (newest_path, newest, newest_config) = loaded.last().expect("not empty");
    for pair in loaded.windows(2) {
        let (path, checkpoint, _) = &pair[1];
        if checkpoint.header.step == pair[0].1.header.step {
            bail!(
                "{} and {} are both step {}: give each checkpoint once",
                pair[0].0.display(),
                path.display(),
                checkpoint.header.step
            );
        }
    }
    for (path, _, config) in &loaded {
        check_same_run(path, config, newest_path, newest_config)?;
    }
    let networks = loaded
        .iter()
        .map(|(path, checkpoint, _)| {
            checkpoint
                .network(device)
                .with_context(|| format!("{}: the network", path.display()))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(AveragedCheckpoints {
        network: average_networks(networks)?,
        config: newest_config.clone(),
        size_stages: newest.header.size_stages()?,
        steps: loaded.iter().map(|(_, c, _)| c.header.step).collect(),
    })
}

/// Refuses a checkpoint whose run learnt something else: another painting, loss or seed.
/// Crop size, learning rate and file locations may change along one run (`--resume`).
fn check_same_run(
    path: &Path,
    config: &TrainConfig,
    newest_path: &Path,
    newest: &TrainConfig,
) -> Result<()> {
    let differs = if config.style.name != newest.style.name {
        "style"
    } else if config.loss != newest.loss {
        "loss"
    } else if config.optim.seed != newest.optim.seed {
        "seed"
    } else if config.network != newest.network {
        "network"
    } else {
        return Ok(());
    };
    bail!(
        "{} is not from the run of {} (its {differs} differs): only checkpoints of one run \
         can be averaged",
        path.display(),
        newest_path.display()
    )
}

/// The parameter-wise mean of `networks` (all of the one architecture), on the first's device.
pub fn average_networks(networks: Vec<TransformerNet>) -> Result<TransformerNet> {
    let count = networks.len();
    ensure!(count > 0, "no network to average");
    let mut sums: Vec<Vec<f64>> = Vec::new();
    for network in &networks {
        let mut collector = FloatParams::default();
        network.visit(&mut collector);
        if sums.is_empty() {
            sums = collector
                .values
                .iter()
                .map(|v| vec![0.0; v.len()])
                .collect();
        }
        let same_shapes = collector.values.len() == sums.len()
            && sums
                .iter()
                .zip(&collector.values)
                .all(|(s, v)| s.len() == v.len());
        ensure!(
            same_shapes,
            "networks with different parameters cannot be averaged"
        );
        for (sum, values) in sums.iter_mut().zip(&collector.values) {
            for (s, v) in sum.iter_mut().zip(values) {
                *s += f64::from(*v);
            }
        }
    }
    // Summed in f64 and divided once, so the mean does not depend on the order.
    let means = sums
        .into_iter()
        .map(|sum| sum.into_iter().map(|s| (s / count as f64) as f32).collect())
        .collect();
    let first = networks.into_iter().next().expect("not empty");
    let mut replace = ReplaceFloatParams {
        values: means,
        next: 0,
    };
    Ok(first.map(&mut replace))
}

/// Every float parameter's values, in the module's visiting order.
#[derive(Default)]
struct FloatParams {
    values: Vec<Vec<f32>>,
}

impl ModuleVisitor for FloatParams {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let data = param.val().into_data().convert::<f32>();
        self.values.push(
            data.try_to_vec::<f32>()
                .expect("float parameters convert to f32"),
        );
    }
}

/// Puts `values` (in visiting order) into the float parameters, keeping their shapes and ids.
struct ReplaceFloatParams {
    values: Vec<Vec<f32>>,
    next: usize,
}

impl ModuleMapper for ReplaceFloatParams {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let values = std::mem::take(&mut self.values[self.next]);
        self.next += 1;
        with_values(param, values)
    }
}

/// `param` holding `values` (row-major, its shape), with its id and device. A new tensor is
/// untracked, so a parameter that gradients reached (on an autodiff device) is made a tracked
/// leaf again: otherwise a network built this way could not be trained.
pub(crate) fn with_values<const D: usize>(
    param: Param<Tensor<D>>,
    values: Vec<f32>,
) -> Param<Tensor<D>> {
    param.map(|tensor| {
        let loaded = Tensor::from_data(TensorData::new(values, tensor.shape()), &tensor.device());
        match tensor.is_require_grad() {
            true => loaded.require_grad(),
            false => loaded,
        }
    })
}
