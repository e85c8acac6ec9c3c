//! The loss curve of a run (`loss.png`): total, content, style and TV against the step, on a
//! log scale because the style term falls by orders of magnitude.

use std::path::Path;
use std::sync::Once;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use crate::metrics::MetricsRow;

/// plotters draws text with fonts it is given; a fresh machine may have none installed, so
/// an embedded one is registered once as "sans-serif".
pub fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        );
    });
}

/// Draws the curves of `rows` into a PNG at `path` (written atomically). No rows: no file.
pub fn plot_losses(rows: &[MetricsRow], path: &Path, title: &str) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    register_fonts();
    let (width, height) = (960u32, 600u32);
    let mut pixels = vec![0u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("plot: {e}"))?;
        let positive = |v: f32| (v.is_finite() && v > 0.0).then_some(v as f64);
        let values: Vec<f64> = rows
            .iter()
            .flat_map(|r| r.losses.as_array())
            .filter_map(positive)
            .collect();
        let lo = values
            .iter()
            .cloned()
            .fold(f64::INFINITY, f64::min)
            .max(1e-12);
        let hi = values.iter().cloned().fold(0.0, f64::max).max(lo * 10.0);
        let last_step = rows.last().map_or(1, |r| r.step).max(rows[0].step + 1);
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("fauve training loss — {title}"), ("sans-serif", 26))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(80)
            .build_cartesian_2d(rows[0].step..last_step, (lo * 0.8..hi * 1.25).log_scale())
            .map_err(|e| anyhow!("plot: {e}"))?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc("weighted loss")
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .label_style(("sans-serif", 16))
            .draw()
            .map_err(|e| anyhow!("plot: {e}"))?;
        let series: [(&str, RGBColor, fn(&MetricsRow) -> f32); 4] = [
            ("total", BLACK, |r| r.losses.total),
            ("content", BLUE, |r| r.losses.content),
            ("style", RED, |r| r.losses.style),
            ("tv", GREEN, |r| r.losses.tv),
        ];
        for (name, color, value) in series {
            let points: Vec<(u64, f64)> = rows
                .iter()
                .filter_map(|r| positive(value(r)).map(|v| (r.step, v)))
                .collect();
            if points.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(|e| anyhow!("plot: {e}"))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 16))
            .draw()
            .map_err(|e| anyhow!("plot: {e}"))?;
        root.present().map_err(|e| anyhow!("plot: {e}"))?;
    }
    let image =
        image::RgbImage::from_raw(width, height, pixels).expect("buffer sized for the plot");
    let mut png = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
    crate::checkpoint::write_atomically(path, &png)
}
