//! `fauve export`: write a style network to ONNX, verified against ONNX Runtime first.
//!
//! The network comes from a training checkpoint (`--checkpoint`, provenance from the run's
//! config), from the mean of several of one run's checkpoints (`--checkpoint` repeated, see
//! `fauve_train::averaging`), or is a freshly initialised, untrained one (`--init-seed`, for
//! tests and demos).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use fauve_train::averaging::average_checkpoints;
use fauve_train::checkpoint::Checkpoint;
use fauve_train::config::TrainConfig;
use fauve_train::onnx::{ExportOptions, Provenance, export_transformer};
use fauve_train::train::provenance;
use fauve_train::transformer::{Device, MIN_SIDE, TransformerNet};

#[derive(clap::Args)]
pub struct Args {
    /// Where to write the ONNX file (it appears only once verified).
    #[arg(short, long, value_name = "OUT.onnx")]
    output: PathBuf,

    /// A training checkpoint (`runs/NAME/checkpoints/step-*.ckpt`) to export. Several (of one
    /// run; repeat the flag or list them after it) are averaged weight by weight, to smooth out
    /// the step-to-step jitter of training (how much it gains varies: README, "Averaging
    /// checkpoints"); keep them with `--keep-checkpoints`.
    #[arg(
        long,
        value_name = "PATH",
        num_args = 1..,
        conflicts_with = "init_seed",
        required_unless_present = "init_seed"
    )]
    checkpoint: Vec<PathBuf>,

    /// Seed of the initial weights of an untrained network.
    #[arg(long, value_name = "N")]
    init_seed: Option<u64>,

    /// Style name recorded in the model's metadata (default: the run's style, or "untrained").
    #[arg(long, value_name = "NAME")]
    style_name: Option<String>,

    /// Export with a fixed input size instead of dynamic height and width.
    #[arg(long, value_name = "WxH", value_parser = parse_size)]
    fixed_size: Option<(u32, u32)>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let device = Device::flex();
    let (net, mut provenance) = match (args.checkpoint.as_slice(), args.init_seed) {
        ([path], _) => {
            let checkpoint = Checkpoint::load(path)?;
            let config = TrainConfig::from_toml(&checkpoint.header.config)
                .with_context(|| format!("{}: the embedded config", path.display()))?;
            let stages = checkpoint.header.size_stages()?;
            (checkpoint.network(&device)?, provenance(&config, &stages))
        }
        ([_, _, ..], _) => {
            let averaged = average_checkpoints(&args.checkpoint, &device)?;
            let mut provenance = provenance(&averaged.config, &averaged.size_stages);
            eprintln!(
                "averaged {} checkpoints, steps {}",
                averaged.steps.len(),
                averaged
                    .steps
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            provenance.averaged_steps = Some(averaged.steps);
            (averaged.network, provenance)
        }
        ([], Some(seed)) => {
            let provenance = Provenance {
                style: Some("untrained".to_owned()),
                iterations: Some(0),
                seed: Some(seed),
                ..Default::default()
            };
            (TransformerNet::seeded(seed, &device), provenance)
        }
        ([], None) => bail!("give --checkpoint PATH or --init-seed N"),
    };
    if let Some(name) = args.style_name {
        provenance.style = Some(name);
    }
    let options = ExportOptions {
        provenance,
        fixed_size: args.fixed_size,
        ..Default::default()
    };
    let report = export_transformer(&net, &args.output, &options)
        .with_context(|| format!("exporting to {}", args.output.display()))?;
    let sizes: Vec<String> = report
        .checked_sizes
        .iter()
        .map(|(w, h)| format!("{w}×{h}"))
        .collect();
    println!(
        "wrote {} ({} bytes); ONNX Runtime matches burn within {:.2e} (0–255 scale) on {}",
        report.path.display(),
        report.bytes,
        report.max_abs_diff,
        sizes.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

/// Parses `WIDTHxHEIGHT` (`x`, `X` or `×`), each side at least the network's minimum.
fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text
        .split_once(['x', 'X', '×'])
        .ok_or_else(|| format!("expected WIDTHxHEIGHT, e.g. 256x256, got {text:?}"))?;
    let side = |s: &str| {
        s.trim()
            .parse::<u32>()
            .map_err(|_| format!("{s:?} is not a whole number of pixels"))
    };
    let (w, h) = (side(w)?, side(h)?);
    if w < MIN_SIDE || h < MIN_SIDE {
        return Err(format!(
            "{w}×{h} is too small: the network needs at least {MIN_SIDE}×{MIN_SIDE}"
        ));
    }
    Ok((w, h))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse_as_width_by_height() {
        assert_eq!(parse_size("67x45"), Ok((67, 45)));
        assert_eq!(parse_size("256×128"), Ok((256, 128)));
        assert!(parse_size("4x100").is_err());
        assert!(parse_size("256").is_err());
        assert!(parse_size("ax5").is_err());
    }
}
