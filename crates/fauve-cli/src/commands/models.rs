//! `fauve models`: the styles `--style NAME` can use, with what their metadata says of them.

use std::process::ExitCode;

use anyhow::Result;
use fauve_infer::model::ModelInfo;
use fauve_infer::styles::{available_styles, find_style_in, model_dirs};
use fauve_train::onnx::Provenance;

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

/// One line from the fauve provenance keys, e.g. "VGG19 loss, 700 training steps at 128²" or
/// "VGG19 loss, 1950 training steps: 1700 at 128², then 250 at 256²", and whether the
/// weights are an average of checkpoints.
fn describe(meta: &std::collections::BTreeMap<String, String>) -> String {
    let other = || {
        let text = meta.get("onnx.description").or(meta.get("onnx.producer"));
        text.map_or("no fauve provenance".to_owned(), |d| d.to_owned())
    };
    let Ok(provenance) = Provenance::from_metadata(meta) else {
        return other();
    };
    match (provenance.loss_network, provenance.iterations) {
        (_, Some(0)) => "untrained network (seeded initialisation)".to_owned(),
        (Some(net), Some(steps)) => {
            let size = match provenance.size_stages.as_deref() {
                Some(stages) if stages.len() > 1 => {
                    let parts: Vec<String> = stages
                        .iter()
                        .map(|s| format!("{} at {}²", s.steps, s.image_size))
                        .collect();
                    format!(": {}", parts.join(", then "))
                }
                _ => provenance
                    .image_size
                    .map(|s| format!(" at {s}²"))
                    .unwrap_or_default(),
            };
            let averaged = match provenance.averaged_steps.as_deref() {
                Some([first, .., last]) => format!(
                    "; weights averaged over steps {first}–{last} ({} checkpoints)",
                    provenance.averaged_steps.as_ref().map_or(0, Vec::len)
                ),
                _ => String::new(),
            };
            format!("{net} loss, {steps} training steps{size}{averaged}")
        }
        _ => other(),
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    fn meta(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_model_trained_at_one_size_names_it() {
        let m = meta(&[
            ("fauve.loss_network", "vgg19"),
            ("fauve.iterations", "700"),
            ("fauve.image_size", "128"),
        ]);
        assert_eq!(describe(&m), "vgg19 loss, 700 training steps at 128²");
    }

    #[test]
    fn a_model_trained_small_then_large_lists_its_stages() {
        let m = meta(&[
            ("fauve.loss_network", "vgg19"),
            ("fauve.iterations", "1950"),
            ("fauve.image_size", "256"),
            ("fauve.size_stages", "128:1700,256:250"),
        ]);
        assert_eq!(
            describe(&m),
            "vgg19 loss, 1950 training steps: 1700 at 128², then 250 at 256²"
        );
    }

    #[test]
    fn an_averaged_model_says_over_which_steps() {
        let m = meta(&[
            ("fauve.loss_network", "vgg19"),
            ("fauve.iterations", "3325"),
            ("fauve.image_size", "256"),
            ("fauve.averaged_steps", "3125,3150,3175,3200"),
        ]);
        assert_eq!(
            describe(&m),
            "vgg19 loss, 3325 training steps at 256²; weights averaged over steps 3125–3200 \
             (4 checkpoints)"
        );
    }
}
