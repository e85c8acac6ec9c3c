//! `fauve models`: the styles `--style NAME` can use, with what their metadata says of them.

use std::process::ExitCode;

use anyhow::Result;
use fauve_infer::model::ModelInfo;
use fauve_infer::styles::{available_styles, find_style_in, model_dirs};

#[derive(clap::Args)]
pub struct Args {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let dirs = model_dirs();
    let mut rows = Vec::new();
    for name in available_styles(&dirs) {
        let path = find_style_in(&name, &dirs)?;
        let (description, meta) = match ModelInfo::inspect(&path) {
            Ok(info) => (describe(&info.metadata), info.metadata),
            Err(err) => (format!("unreadable: {err}"), Default::default()),
        };
        rows.push((name, path, description, meta));
    }
    if args.json {
        let list: Vec<_> = rows
            .iter()
            .map(|(name, path, description, meta)| {
                serde_json::json!({ "name": name, "path": path, "description": description, "metadata": meta })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        eprintln!("no models found (searched {})", searched.join(", "));
        return Ok(ExitCode::FAILURE);
    }
    for (name, path, description, _) in &rows {
        println!("{name:<32} {description}\n{:<32} {}", "", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// One line from the fauve provenance keys, e.g. "VGG19 loss, 700 steps at 128², seed 42".
fn describe(meta: &std::collections::BTreeMap<String, String>) -> String {
    let get = |k: &str| meta.get(k).map(String::as_str);
    match (get("fauve.loss_network"), get("fauve.iterations")) {
        (_, Some("0")) => "untrained network (seeded initialisation)".to_owned(),
        (Some(net), Some(steps)) => {
            let size = get("fauve.image_size").map(|s| format!(" at {s}²")).unwrap_or_default();
            format!("{net} loss, {steps} training steps{size}")
        }
        _ => get("onnx.description")
            .or(get("onnx.producer"))
            .map_or("no fauve provenance".to_owned(), |d| d.to_owned()),
    }
}
