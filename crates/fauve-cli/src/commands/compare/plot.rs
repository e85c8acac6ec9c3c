//! `loss.png`: the optimisation's total loss against the iteration, one curve per content
//! image, with the fast model's loss on the same image as a horizontal line (as Johnson et
//! al. 2016, Fig. 5).

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use super::report::ContentReport;

pub fn plot_loss_curves(contents: &[ContentReport], path: &Path, title: &str) -> Result<()> {
    fauve_train::plot::register_fonts();
    let (width, height) = (960u32, 600u32);
    let mut pixels = vec![0u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        let err = |e: DrawingAreaErrorKind<_>| anyhow!("loss plot: {e}");
        root.fill(&WHITE).map_err(err)?;
        let positive = |v: f32| (v.is_finite() && v > 0.0).then_some(v as f64);
        let values: Vec<f64> = contents
            .iter()
            .flat_map(|c| {
                c.curve
                    .iter()
                    .map(|p| p.total)
                    .chain(c.rows.iter().map(|r| r.losses.total))
            })
            .filter_map(positive)
            .collect();
        let lo = values
            .iter()
            .cloned()
            .fold(f64::INFINITY, f64::min)
            .clamp(1e-12, 1e30);
        let hi = values.iter().cloned().fold(0.0, f64::max).max(lo * 10.0);
        let last = contents
            .iter()
            .flat_map(|c| c.curve.last())
            .map(|p| p.iteration)
            .max()
            .unwrap_or(1)
            .max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 24))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(80)
            .build_cartesian_2d(0..last, (lo * 0.8..hi * 1.25).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("optimisation iteration (L-BFGS or Adam)")
            .y_desc("total perceptual loss")
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .label_style(("sans-serif", 16))
            .draw()
            .map_err(err)?;
        for (i, content) in contents.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let name = Path::new(&content.content)
                .file_name()
                .map_or(content.content.clone(), |n| {
                    n.to_string_lossy().into_owned()
                });
            let points: Vec<(usize, f64)> = content
                .curve
                .iter()
                .filter_map(|p| positive(p.total).map(|v| (p.iteration, v)))
                .collect();
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(err)?
                .label(format!("optimisation: {name}"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            if let Some(fast) = content
                .rows
                .iter()
                .find(|r| r.method == "fast")
                .and_then(|r| positive(r.losses.total))
            {
                let faded = color.mix(0.6);
                chart
                    .draw_series(LineSeries::new(
                        vec![(0, fast), (last, fast)],
                        faded.stroke_width(1),
                    ))
                    .map_err(err)?
                    .label(format!("fast model: {name}"))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], faded.stroke_width(1))
                    });
            }
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 15))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    let image =
        image::RgbImage::from_raw(width, height, pixels).expect("buffer sized for the plot");
    fauve_infer::encode::write_image(path, &image, None)?;
    Ok(())
}
