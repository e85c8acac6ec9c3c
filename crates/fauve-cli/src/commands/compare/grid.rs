//! The side-by-side picture: one row per content image — content | style | fast |
//! optimisation at each iteration count — each cell captioned (plotters text, embedded font).

use std::path::Path;

use anyhow::{Result, anyhow};
use image::imageops::FilterType;
use image::{Rgb, RgbImage};
use plotters::prelude::*;

/// One captioned picture.
pub struct Cell {
    pub image: RgbImage,
    pub caption: Vec<String>,
}

/// Height of every picture in the grid (cells keep their row's aspect ratio).
const CELL_HEIGHT: u32 = 192;
const CAPTION_LINE: u32 = 18;
const GAP: u32 = 8;

/// Writes the grid of `rows` (each a list of cells) to `path` as PNG, atomically.
pub fn write_grid(rows: &[Vec<Cell>], path: &Path) -> Result<()> {
    fauve_train::plot::register_fonts();
    let caption_lines = rows
        .iter()
        .flatten()
        .map(|c| c.caption.len())
        .max()
        .unwrap_or(0) as u32;
    let caption_height = caption_lines * CAPTION_LINE + 4;
    // Every cell of a row is as wide as its first (the content) scaled to CELL_HEIGHT.
    let widths: Vec<u32> = rows
        .iter()
        .map(|row| {
            let first = &row[0].image;
            (first.width() * CELL_HEIGHT / first.height().max(1)).max(1)
        })
        .collect();
    let width = rows
        .iter()
        .zip(&widths)
        .map(|(row, w)| row.len() as u32 * (w + GAP) + GAP)
        .max()
        .unwrap_or(GAP);
    let row_height = CELL_HEIGHT + caption_height + GAP;
    let height = rows.len() as u32 * row_height + GAP;

    let mut grid = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    let mut captions = Vec::new();
    for (r, (row, cell_width)) in rows.iter().zip(&widths).enumerate() {
        let top = GAP + r as u32 * row_height;
        for (c, cell) in row.iter().enumerate() {
            let left = GAP + c as u32 * (cell_width + GAP);
            // The style is cropped to the content's shape rather than squashed.
            let picture = image::DynamicImage::ImageRgb8(cell.image.clone())
                .resize_to_fill(*cell_width, CELL_HEIGHT, FilterType::CatmullRom)
                .to_rgb8();
            image::imageops::replace(
                &mut grid,
                &picture,
                left as i64,
                (top + caption_height) as i64,
            );
            for (i, line) in cell.caption.iter().enumerate() {
                captions.push((
                    line.clone(),
                    left as i32,
                    (top + i as u32 * CAPTION_LINE) as i32,
                ));
            }
        }
    }
    {
        let root = BitMapBackend::with_buffer(grid.as_mut(), (width, height)).into_drawing_area();
        let font = ("sans-serif", 15).into_font().color(&BLACK);
        for (text, x, y) in captions {
            root.draw(&Text::new(text, (x, y), font.clone()))
                .map_err(|e| anyhow!("grid caption: {e}"))?;
        }
        root.present().map_err(|e| anyhow!("grid: {e}"))?;
    }
    fauve_infer::encode::write_image(path, &grid, None)?;
    Ok(())
}
