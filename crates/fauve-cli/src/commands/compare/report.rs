//! `report.json` (the numbers, machine-readable) and `report.md` (the same, for people).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use fauve_train::optimize::Score;
use serde::{Deserialize, Serialize};

/// Everything `fauve compare` measured. Image paths are relative to the report's folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub model: String,
    pub style_image: String,
    /// The style image as the loss saw it (shrunk to `size`).
    pub style_file: String,
    pub weights: String,
    /// Where the loss configuration came from: the model's `fauve.config` or a preset.
    pub loss_source: String,
    pub loss: fauve_train::loss::PerceptualLossConfig,
    pub size: u32,
    pub optimizer: String,
    pub init: String,
    pub iterations: Vec<usize>,
    pub contents: Vec<ContentReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContentReport {
    pub content: String,
    /// The content image as scored (shrunk to `size`).
    pub content_file: String,
    pub width: u32,
    pub height: u32,
    /// The fast model first, then the optimisation at each requested iteration count, then
    /// the `--also` images.
    pub rows: Vec<Row>,
    pub speedup: Speedup,
    /// The optimisation's loss after every iteration (float pixels, before rounding to 8 bits).
    pub curve: Vec<CurvePoint>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// `fast`, `optimisation` or `other` (an `--also` image).
    pub method: String,
    pub iterations: Option<usize>,
    pub evaluations: Option<usize>,
    /// Time to make the image; none for an `--also` image, made elsewhere.
    pub wall_secs: Option<f64>,
    /// The 8-bit image these losses were measured on.
    pub image: String,
    /// Where an `--also` image came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub losses: Losses,
}

impl Row {
    /// How the report's tables name the output.
    fn label(&self) -> String {
        match &self.source {
            Some(source) => format!("other (`{source}`)"),
            None => self.method.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Losses {
    pub content: f32,
    pub style: f32,
    pub tv: f32,
    pub total: f32,
    /// The style loss layer by layer, in the loss's order; the terms sum to `style`.
    #[serde(default)]
    pub style_by_layer: Vec<LayerLoss>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerLoss {
    pub layer: String,
    pub style: f32,
}

impl From<Score> for Losses {
    fn from(score: Score) -> Self {
        let v = score.losses;
        Self {
            content: v.content,
            style: v.style,
            tv: v.tv,
            total: v.total,
            style_by_layer: score
                .style_by_layer
                .into_iter()
                .map(|(layer, style)| LayerLoss { layer, style })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Speedup {
    /// The first iteration whose loss is at most the fast model's, if any.
    pub reached_at_iteration: Option<usize>,
    pub optimisation_secs: Option<f64>,
    pub fast_secs: f64,
    /// optimisation_secs / fast_secs.
    pub ratio: Option<f64>,
    pub text: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct CurvePoint {
    pub iteration: usize,
    pub evaluations: usize,
    pub elapsed_secs: f64,
    pub total: f32,
}

impl Report {
    pub fn write(&self, dir: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).context("report.json")?;
        fauve_infer::encode::write_atomically(&dir.join("report.json"), json.as_bytes())?;
        fauve_infer::encode::write_atomically(&dir.join("report.md"), self.markdown().as_bytes())?;
        Ok(())
    }

    fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# fauve compare\n");
        let _ = writeln!(md, "- model: `{}`", self.model);
        let _ = writeln!(
            md,
            "- style image: `{}` (scored as `{}`)",
            self.style_image, self.style_file
        );
        let _ = writeln!(md, "- loss network: `{}` ({})", self.weights, self.loss.vgg);
        let _ = writeln!(
            md,
            "- loss: {} — content {:?} × {}, style {:?} × {}, TV × {}",
            self.loss_source,
            self.loss.content_layers,
            self.loss.content_weight,
            self.loss.style_layers,
            self.loss.style_weight,
            self.loss.tv_weight
        );
        let _ = writeln!(
            md,
            "- optimisation: {} from {}, images at most {} px\n",
            self.optimizer, self.init, self.size
        );
        let _ = writeln!(
            md,
            "Every image is scored under the same loss, as the 8-bit file named.\n"
        );
        for c in &self.contents {
            let _ = writeln!(
                md,
                "## `{}` ({}×{}, scored as `{}`)\n",
                c.content, c.width, c.height, c.content_file
            );
            let _ = writeln!(
                md,
                "| output | iterations | evaluations | wall time (s) | content | style | TV | total | image |"
            );
            let _ = writeln!(
                md,
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
            );
            for r in &c.rows {
                let opt = |v: Option<usize>| v.map_or("–".to_string(), |v| v.to_string());
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {:.4e} | {:.4e} | {:.4e} | {:.4e} | `{}` |",
                    r.label(),
                    opt(r.iterations),
                    opt(r.evaluations),
                    r.wall_secs.map_or("–".to_string(), |s| format!("{s:.3}")),
                    r.losses.content,
                    r.losses.style,
                    r.losses.tv,
                    r.losses.total,
                    r.image
                );
            }
            style_by_layer_table(&mut md, &self.loss.style_layers, &c.rows);
            let _ = writeln!(md, "\n**Speed-up:** {}\n", c.speedup.text);
        }
        let _ = writeln!(
            md,
            "Images: `grid.png`; loss against iteration: `loss.png`."
        );
        md
    }
}

/// The style column split by layer: which scales of the painting each output matches.
fn style_by_layer_table(md: &mut String, layers: &[String], rows: &[Row]) {
    let _ = writeln!(md, "\nStyle loss by layer:\n");
    let _ = writeln!(md, "| output | {} |", layers.join(" | "));
    let _ = writeln!(md, "| --- |{}", " ---: |".repeat(layers.len()));
    for r in rows {
        let label = match r.iterations {
            Some(n) => format!("{} ({n} iterations)", r.label()),
            None => r.label(),
        };
        let terms: Vec<String> = r
            .losses
            .style_by_layer
            .iter()
            .map(|t| format!("{:.4e}", t.style))
            .collect();
        let _ = writeln!(md, "| {label} | {} |", terms.join(" | "));
    }
}
