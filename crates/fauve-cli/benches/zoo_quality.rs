//! The quality table of `models/README.md`: every shipped model's fast output against Gatys
//! optimisation (L-BFGS from seeded noise) after 10, 50 and 100 iterations, on the photos in
//! `../shared/images/content`, all scored by `fauve compare` under the model's own training
//! loss. The goal is the fast output at or below the 50-iteration loss (Johnson et al. report
//! parity with about 50–100 iterations).
//!
//! `cargo bench -p fauve-cli --bench zoo_quality [-- STYLE...]` (default: every
//! `models/*.onnx`). Needs `../shared` (or `FAUVE_SHARED`) for the VGG19 weights and the
//! photos; without it, says so and does nothing. `FAUVE_BENCH_ITERATIONS` (10,50,100) and
//! `FAUVE_BENCH_SIZE` (256) change the columns and the photo size. Each style's compare
//! folder (images, grid, loss plot, report) and the table (`table.md`) go to
//! `target/zoo-quality/`. About 1 min per style and photo on a 2-core CPU.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use serde_json::Value;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("zoo_quality: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap_or(root);
    let shared = std::env::var_os("FAUVE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared"));
    let shared = shared.canonicalize().unwrap_or(shared);
    let weights = shared.join("weights/vgg19-imagenet-caffe.safetensors");
    let photos = photos(&shared.join("images/content"));
    if !weights.is_file() || photos.is_empty() {
        println!(
            "skipped: needs {} and photos in {}",
            weights.display(),
            shared.join("images/content").display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let iterations = std::env::var("FAUVE_BENCH_ITERATIONS").unwrap_or("10,50,100".into());
    let counts: Vec<usize> = iterations
        .split(',')
        .map(|c| {
            c.trim()
                .parse()
                .context("FAUVE_BENCH_ITERATIONS: give counts like 10,50,100")
        })
        .collect::<Result<_>>()?;
    let goal = if counts.contains(&50) {
        50
    } else {
        *counts.last().context("no counts")?
    };
    let size = std::env::var("FAUVE_BENCH_SIZE").unwrap_or("256".into());

    // `cargo bench` passes `--bench`; everything else is a style name.
    let mut styles: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if styles.is_empty() {
        styles = shipped_styles(&root.join("models"))?;
    }
    let out = root.join("target/zoo-quality");
    let mut table = header(&counts, goal);
    let mut failed = Vec::new();
    for style in &styles {
        let model = root.join("models").join(format!("{style}.onnx"));
        // No --style-image: compare takes the painting from the model's training config, a
        // path relative to the repository root, hence the working directory.
        println!("{style}: compare");
        let dir = out.join(style);
        let result = Command::new(env!("CARGO_BIN_EXE_fauve"))
            .current_dir(&root)
            .arg("compare")
            .arg("--model")
            .arg(&model)
            .arg("--content")
            .args(&photos)
            .arg("--weights")
            .arg(&weights)
            .args(["--iterations", &iterations, "--size", &size, "--output"])
            .arg(&dir)
            .status()
            .context("running fauve compare")
            .and_then(|status| match status.success() {
                true => rows(style, &dir.join("report.json"), &counts, goal),
                false => bail!("fauve compare exited with {status}"),
            });
        match result {
            Ok(rows) => table.extend(rows),
            Err(error) => {
                eprintln!("{style}: {error:#}");
                failed.push(style.clone());
            }
        }
    }
    let text = table.join("\n") + "\n";
    std::fs::create_dir_all(&out).with_context(|| format!("{}", out.display()))?;
    std::fs::write(out.join("table.md"), &text).context("writing table.md")?;
    println!("\n{text}\n(also in {})", out.join("table.md").display());
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("failed: {}", failed.join(", "));
        Ok(ExitCode::FAILURE)
    }
}

/// The photos to compare on, by name, so that the table's order is stable.
fn photos(dir: &Path) -> Vec<PathBuf> {
    let mut photos: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    photos.retain(|p| {
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        ["jpg", "jpeg", "png"].contains(&ext.to_ascii_lowercase().as_str())
    });
    photos.sort();
    photos
}

fn shipped_styles(models: &Path) -> Result<Vec<String>> {
    let mut styles: Vec<String> = std::fs::read_dir(models)
        .with_context(|| format!("{}", models.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_string()))
        .collect();
    styles.sort();
    Ok(styles)
}

fn header(counts: &[usize], goal: usize) -> Vec<String> {
    let lbfgs: String = counts.iter().map(|c| format!(" L-BFGS {c} |")).collect();
    let align: String = counts.iter().map(|_| " ---: |").collect();
    vec![
        format!(
            "| style | photo | fast |{lbfgs} L-BFGS matches the fast loss at | fast ≤ {goal} it? | speed-up |"
        ),
        format!("| --- | --- | ---: |{align} ---: | :---: | ---: |"),
    ]
}

/// One table row per photo of a compare report.
fn rows(style: &str, report: &Path, counts: &[usize], goal: usize) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(report).with_context(|| format!("{}", report.display()))?;
    let report: Value =
        serde_json::from_str(&text).with_context(|| format!("{}", report.display()))?;
    let contents = report["contents"]
        .as_array()
        .context("report without contents")?;
    contents
        .iter()
        .map(|content| {
            let photo = Path::new(content["content"].as_str().unwrap_or("?"));
            let photo = photo.file_stem().and_then(|s| s.to_str()).unwrap_or("?");
            let total = |method: &str, iterations: Option<usize>| -> Result<f64> {
                content["rows"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|r| {
                        r["method"] == method
                            && r["iterations"].as_u64().map(|i| i as usize) == iterations
                    })
                    .and_then(|r| r["losses"]["total"].as_f64())
                    .with_context(|| format!("{photo}: no {method} row for {iterations:?}"))
            };
            let fast = total("fast", None)?;
            let mut row = format!("| {style} | {photo} | {fast:.3e} |");
            let mut at_goal = f64::NAN;
            for &count in counts {
                let loss = total("optimisation", Some(count))?;
                if count == goal {
                    at_goal = loss;
                }
                row += &format!(" {loss:.3e} |");
            }
            let speedup = &content["speedup"];
            let reached = match speedup["reached_at_iteration"].as_u64() {
                Some(i) => format!("iteration {i}"),
                None => format!("not within {}", counts.last().unwrap_or(&0)),
            };
            let ratio = match speedup["ratio"].as_f64() {
                Some(r) => format!("{r:.0}×"),
                None => "—".into(),
            };
            let met = if fast <= at_goal { "yes" } else { "no" };
            row += &format!(" {reached} | {met} | {ratio} |");
            Ok(row)
        })
        .collect()
}
