//! `fauve info MODEL.onnx`: a model's inputs, outputs (with dynamic dims) and metadata —
//! the `fauve.*` provenance keys the exporter writes (style, loss network, weights,
//! iterations, image size, config) and any other `metadata_props`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use fauve_infer::{Dim, ModelInfo, TensorSpec};

#[derive(clap::Args)]
pub struct Args {
    /// The ONNX model to describe.
    #[arg(value_name = "MODEL.onnx")]
    model: PathBuf,

    /// Print JSON on stdout instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let info = ModelInfo::inspect(&args.model)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &info)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", render(&info))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn render(info: &ModelInfo) -> String {
    let mut text = format!("model: {}\n", info.path.display());
    for (title, specs) in [("inputs", &info.inputs), ("outputs", &info.outputs)] {
        text.push_str(&format!("{title}:\n"));
        for spec in specs {
            text.push_str(&format!("  {}\n", describe(spec)));
        }
    }
    match &info.not_a_style_network {
        None => text.push_str("fauve can run it: yes\n"),
        Some(reason) => text.push_str(&format!("fauve can run it: no ({reason})\n")),
    }
    text.push_str("metadata:\n");
    if info.metadata.is_empty() {
        text.push_str("  (none)\n");
    }
    for (key, value) in &info.metadata {
        // Multi-line values (the embedded TOML config) are indented under their key.
        if value.contains('\n') {
            text.push_str(&format!("  {key}:\n"));
            for line in value.lines() {
                text.push_str(&format!("      {line}\n"));
            }
        } else {
            text.push_str(&format!("  {key} = {value}\n"));
        }
    }
    text
}

/// `input: float32 [batch, 3, height, width] (dynamic: batch, height, width)`.
fn describe(spec: &TensorSpec) -> String {
    let dynamic: Vec<String> = spec
        .dims
        .iter()
        .enumerate()
        .filter_map(|(i, dim)| match dim {
            Dim::Fixed(_) => None,
            Dim::Dynamic(Some(name)) => Some(name.clone()),
            Dim::Dynamic(None) => Some(format!("dim {i}")),
        })
        .collect();
    let mut line = format!(
        "{}: {} {}",
        spec.name,
        spec.element_type,
        spec.shape_string()
    );
    if !dynamic.is_empty() {
        line.push_str(&format!(" (dynamic: {})", dynamic.join(", ")));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_dynamic_dims_by_name() {
        let spec = TensorSpec {
            name: "input".into(),
            element_type: "float32".into(),
            dims: vec![
                Dim::Dynamic(Some("batch".into())),
                Dim::Fixed(3),
                Dim::Dynamic(None),
                Dim::Fixed(7),
            ],
        };
        assert_eq!(
            describe(&spec),
            "input: float32 [batch, 3, ?, 7] (dynamic: batch, dim 2)"
        );
    }
}
