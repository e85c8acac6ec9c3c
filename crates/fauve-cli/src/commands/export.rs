//! `fauve export`: write a style network to ONNX, verified against ONNX Runtime first.
//!
//! For now the network is a freshly initialised (untrained) one from `--init-seed`: enough for
//! tests, benchmarks and the README's demo until trained models exist.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use fauve_train::onnx::{ExportOptions, Provenance, export_transformer};
use fauve_train::transformer::{Device, MIN_SIDE, TransformerNet};

#[derive(clap::Args)]
pub struct Args {
    /// Where to write the ONNX file (it appears only once verified).
    #[arg(short, long, value_name = "OUT.onnx")]
    output: PathBuf,

    /// Seed of the initial weights of an untrained network.
    // TODO(training): add `--checkpoint PATH` (load trained weights) and make this
    // `required_unless_present = "checkpoint"`; provenance then comes from the checkpoint.
    #[arg(long, value_name = "N", required = true)]
    init_seed: Option<u64>,

    /// Style name recorded in the model's metadata (default: "untrained").
    #[arg(long, value_name = "NAME")]
    style_name: Option<String>,

    /// Export with a fixed input size instead of dynamic height and width.
    #[arg(long, value_name = "WxH", value_parser = parse_size)]
    fixed_size: Option<(u32, u32)>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    // The only source of weights until checkpoints exist (see the TODO on `init_seed`).
    let Some(seed) = args.init_seed else {
        bail!("--init-seed is required (exporting trained checkpoints is not available yet)");
    };
    let device = Device::flex();
    let net = TransformerNet::seeded(seed, &device);
    let options = ExportOptions {
        provenance: Provenance {
            style: Some(args.style_name.unwrap_or_else(|| "untrained".to_owned())),
            iterations: Some(0),
            seed: Some(seed),
            ..Default::default()
        },
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
