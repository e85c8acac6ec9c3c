//! The training photos: a COCO-style folder, a deterministic order over epochs, and batches of
//! random crops decoded on several threads.
//!
//! Determinism is the point of this file: the batch of step `s` depends only on the dataset,
//! the seed and `s`, so `--resume` from a checkpoint at step `s` sees exactly the batches an
//! uninterrupted run would have seen.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use burn::data::dataset::transform::ShuffledDataset;
use burn::data::dataset::{Dataset, DatasetError};
use burn::prelude::*;
use image::imageops::FilterType;
use rayon::prelude::*;
use serde::Deserialize;

/// The photos of one split of a COCO-style dataset root:
/// `<root>/<split>/*.jpg`, listed by `<root>/annotations/*_<split>.json` when that exists
/// (its `images[].file_name`), otherwise every image file in the split folder, sorted.
pub struct CocoStyleDataset {
    files: Vec<PathBuf>,
}

#[derive(Deserialize)]
struct Annotations {
    images: Vec<AnnotatedImage>,
}

#[derive(Deserialize)]
struct AnnotatedImage {
    file_name: String,
}

impl CocoStyleDataset {
    pub fn open(root: &Path, split: &str) -> Result<Self> {
        let split_dir = root.join(split);
        if !split_dir.is_dir() {
            bail!(
                "{}: not a directory (expected a COCO-style dataset root containing `{split}/`)",
                split_dir.display()
            );
        }
        let files = match find_annotations(root, split)? {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("{}: cannot read annotations", path.display()))?;
                let annotations: Annotations = serde_json::from_str(&text).with_context(|| {
                    format!(
                        "{}: not a COCO annotations file (images[].file_name)",
                        path.display()
                    )
                })?;
                annotations
                    .images
                    .into_iter()
                    .map(|image| split_dir.join(image.file_name))
                    .collect()
            }
            None => list_images(&split_dir)?,
        };
        if files.is_empty() {
            bail!("{}: no images found", split_dir.display());
        }
        tracing::info!(images = files.len(), dir = %split_dir.display(), "dataset opened");
        Ok(Self { files })
    }

    /// Builds a dataset from an explicit list of files (tests, custom layouts).
    pub fn from_files(files: Vec<PathBuf>) -> Self {
        Self { files }
    }
}

impl Dataset<PathBuf> for CocoStyleDataset {
    fn get(&self, index: usize) -> Result<PathBuf, DatasetError> {
        self.files
            .get(index)
            .cloned()
            .ok_or_else(|| out_of_range(index, self.files.len()))
    }

    fn len(&self) -> usize {
        self.files.len()
    }
}

fn find_annotations(root: &Path, split: &str) -> Result<Option<PathBuf>> {
    let dir = root.join("annotations");
    if !dir.is_dir() {
        return Ok(None);
    }
    let suffix = format!("_{split}.json");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("{}: cannot list", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(&suffix))
        })
        .collect();
    found.sort();
    // COCO ships several annotation files per split (captions, instances, ...); any of them
    // lists the same images, so the first in name order is as good as another.
    Ok(found.into_iter().next())
}

fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    const EXTENSIONS: [&str; 5] = ["jpg", "jpeg", "png", "webp", "bmp"];
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot list", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// An endless, seeded sequence of crops: position `p` lies in epoch `p / len`, whose order is a
/// fresh shuffle seeded by `(seed, epoch)`; its crop offsets are seeded by `(seed, p)`.
pub struct CropSampler {
    dataset: Arc<CocoStyleDataset>,
    seed: u64,
    image_size: u32,
    /// The last epoch's shuffled order, kept because consecutive batches share an epoch.
    epoch_order: Mutex<Option<(u64, Arc<Vec<usize>>)>>,
    skipped: AtomicUsize,
    bad_files: Mutex<BTreeSet<PathBuf>>,
}

/// One training batch: `[batch, 3, size, size]` RGB on the 0–255 scale, row-major.
pub struct CropBatch {
    pub batch_size: usize,
    pub image_size: u32,
    pub pixels: Vec<f32>,
}

impl CropBatch {
    pub fn to_tensor(&self, device: &Device) -> Tensor<4> {
        let s = self.image_size as usize;
        let data = TensorData::new(self.pixels.clone(), [self.batch_size, 3, s, s]);
        Tensor::from_data(data, device)
    }
}

impl CropSampler {
    pub fn new(dataset: CocoStyleDataset, image_size: u32, seed: u64) -> Self {
        Self {
            dataset: Arc::new(dataset),
            seed,
            image_size,
            epoch_order: Mutex::new(None),
            skipped: AtomicUsize::new(0),
            bad_files: Mutex::new(BTreeSet::new()),
        }
    }

    pub fn len(&self) -> usize {
        self.dataset.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dataset.is_empty()
    }

    /// How many times an unreadable image was skipped (each skip is replaced by the next file).
    pub fn skipped(&self) -> usize {
        self.skipped.load(Ordering::Relaxed)
    }

    /// The distinct files that could not be decoded so far.
    pub fn bad_files(&self) -> Vec<PathBuf> {
        self.bad_files
            .lock()
            .expect("bad_files lock")
            .iter()
            .cloned()
            .collect()
    }

    /// The batch for training step `step` (0-based): positions `step·B .. step·B + B`.
    /// Decoding runs on rayon's threads.
    pub fn batch(&self, step: u64, batch_size: usize) -> Result<CropBatch> {
        let first = step * batch_size as u64;
        let crops: Vec<Vec<f32>> = (0..batch_size as u64)
            .into_par_iter()
            .map(|slot| self.crop_at(first + slot))
            .collect::<Result<_>>()?;
        Ok(CropBatch {
            batch_size,
            image_size: self.image_size,
            pixels: crops.concat(),
        })
    }

    fn order_of_epoch(&self, epoch: u64) -> Arc<Vec<usize>> {
        let mut cached = self.epoch_order.lock().expect("epoch order lock");
        if let Some((e, order)) = cached.as_ref()
            && *e == epoch
        {
            return order.clone();
        }
        // burn-dataset's seeded shuffle over the indices gives the epoch's permutation.
        let indices = IndexDataset(self.dataset.len());
        let shuffled = ShuffledDataset::new(indices, mix(self.seed, epoch));
        let order: Arc<Vec<usize>> = Arc::new(
            (0..shuffled.len())
                .filter_map(|i| shuffled.get(i).ok())
                .collect(),
        );
        *cached = Some((epoch, order.clone()));
        order
    }

    /// The crop for sequence position `position`, planar RGB 0–255.
    fn crop_at(&self, position: u64) -> Result<Vec<f32>> {
        let len = self.dataset.len() as u64;
        let order = self.order_of_epoch(position / len);
        let start = (position % len) as usize;
        // An unreadable file is replaced by the next one in the epoch's order, so a corrupt
        // image never stops training and the replacement is the same on every run.
        for offset in 0..order.len() {
            let index = order[(start + offset) % order.len()];
            let path = self.dataset.files[index].clone();
            match image::open(&path) {
                Ok(photo) => {
                    return Ok(random_crop(
                        &photo.to_rgb8(),
                        self.image_size,
                        mix(self.seed, position),
                    ));
                }
                Err(err) => {
                    self.skipped.fetch_add(1, Ordering::Relaxed);
                    let newly_bad = self
                        .bad_files
                        .lock()
                        .expect("bad_files lock")
                        .insert(path.clone());
                    if newly_bad {
                        tracing::warn!(file = %path.display(), error = %err, "skipping unreadable image");
                    }
                }
            }
        }
        bail!(
            "no readable image in the dataset ({} files tried)",
            order.len()
        )
    }
}

/// `0..n` as a dataset, so burn-dataset's shuffle can permute indices without touching files.
struct IndexDataset(usize);

impl Dataset<usize> for IndexDataset {
    fn get(&self, index: usize) -> Result<usize, DatasetError> {
        (index < self.0)
            .then_some(index)
            .ok_or_else(|| out_of_range(index, self.0))
    }
    fn len(&self) -> usize {
        self.0
    }
}

fn out_of_range(index: usize, len: usize) -> DatasetError {
    DatasetError::new(std::io::Error::other(format!(
        "index {index} out of range 0..{len}"
    )))
}

/// Resize so the shorter side is `size` (Johnson et al. train on 256² crops of COCO), then take
/// a `size`×`size` crop at an offset drawn from `seed`.
pub fn random_crop(photo: &image::RgbImage, size: u32, seed: u64) -> Vec<f32> {
    let (w, h) = photo.dimensions();
    let scale = size as f64 / w.min(h) as f64;
    let (nw, nh) = (
        ((w as f64 * scale).round() as u32).max(size),
        ((h as f64 * scale).round() as u32).max(size),
    );
    let resized = image::imageops::resize(photo, nw, nh, FilterType::Triangle);
    let mut rng = SplitMix64(seed);
    let x0 = (rng.next() % (nw - size + 1) as u64) as u32;
    let y0 = (rng.next() % (nh - size + 1) as u64) as u32;
    let plane = (size * size) as usize;
    let mut out = vec![0.0f32; 3 * plane];
    for y in 0..size {
        for x in 0..size {
            let p = resized.get_pixel(x0 + x, y0 + y);
            let i = (y * size + x) as usize;
            for c in 0..3 {
                out[c * plane + i] = p[c] as f32;
            }
        }
    }
    out
}

/// Combines two numbers into one well-mixed seed (SplitMix64's finaliser).
fn mix(a: u64, b: u64) -> u64 {
    SplitMix64(a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15)).next()
}

/// A tiny, stable PRNG: crop offsets must not change when a dependency updates its RNG.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
