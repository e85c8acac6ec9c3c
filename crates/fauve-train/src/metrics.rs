//! Loss values as plain numbers and the run's `metrics.csv` (one row per step).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The weighted loss components of one step (`total = content + style + tv`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LossValues {
    pub content: f32,
    pub style: f32,
    pub tv: f32,
    pub total: f32,
}

impl LossValues {
    pub fn is_finite(&self) -> bool {
        self.as_array().iter().all(|v| v.is_finite())
    }

    pub fn as_array(&self) -> [f32; 4] {
        [self.content, self.style, self.tv, self.total]
    }
}

impl fmt::Display for LossValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "total {:.4e} (content {:.3e}, style {:.3e}, tv {:.2e})",
            self.total, self.content, self.style, self.tv
        )
    }
}

/// One row of `metrics.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsRow {
    pub step: u64,
    pub epoch: u64,
    pub elapsed_secs: f64,
    pub images_per_sec: f64,
    pub losses: LossValues,
}

const HEADER: &str = "step,epoch,elapsed_s,images_per_s,content,style,tv,total";

/// `metrics.csv`, appended to after every step.
pub struct MetricsLog {
    path: PathBuf,
    file: File,
}

impl MetricsLog {
    /// Opens the log for a run starting at `first_step`: rows beyond it (from steps a crashed
    /// run did after its last checkpoint) are dropped so a resumed run's file has no repeats.
    pub fn open(path: &Path, first_step: u64) -> Result<Self> {
        let kept: Vec<MetricsRow> = match path.exists() {
            true => read_rows(path)?
                .into_iter()
                .filter(|r| r.step <= first_step)
                .collect(),
            false => Vec::new(),
        };
        let mut text = format!("{HEADER}\n");
        for row in &kept {
            text.push_str(&format_row(row));
        }
        crate::checkpoint::write_atomically(path, text.as_bytes())?;
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("{}: cannot open for appending", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn append(&mut self, row: &MetricsRow) -> Result<()> {
        self.file
            .write_all(format_row(row).as_bytes())
            .with_context(|| format!("{}: cannot write", self.path.display()))
    }

    pub fn rows(&self) -> Result<Vec<MetricsRow>> {
        read_rows(&self.path)
    }
}

fn format_row(r: &MetricsRow) -> String {
    let l = r.losses;
    format!(
        "{},{},{:.3},{:.4},{:e},{:e},{:e},{:e}\n",
        r.step, r.epoch, r.elapsed_secs, r.images_per_sec, l.content, l.style, l.tv, l.total
    )
}

pub fn read_rows(path: &Path) -> Result<Vec<MetricsRow>> {
    let file = File::open(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let mut rows = Vec::new();
    for (n, line) in BufReader::new(file).lines().enumerate().skip(1) {
        let line = line?;
        let parse = || -> Option<MetricsRow> {
            let f: Vec<&str> = line.split(',').collect();
            let num = |i: usize| f.get(i)?.parse::<f64>().ok();
            Some(MetricsRow {
                step: f.first()?.parse().ok()?,
                epoch: f.get(1)?.parse().ok()?,
                elapsed_secs: num(2)?,
                images_per_sec: num(3)?,
                losses: LossValues {
                    content: num(4)? as f32,
                    style: num(5)? as f32,
                    tv: num(6)? as f32,
                    total: num(7)? as f32,
                },
            })
        };
        // A torn last line (a crash mid-write) is dropped rather than failing the resume.
        match parse() {
            Some(row) => rows.push(row),
            None => {
                tracing::warn!(file = %path.display(), line = n + 1, "ignoring malformed metrics row")
            }
        }
    }
    Ok(rows)
}
