//! The COCO-style dataset: listing by annotations or folder, deterministic batches, and
//! unreadable photos skipped rather than fatal.

use std::path::Path;

use fauve_train::data::{CocoStyleDataset, CropSampler};

/// Writes `count` small gradient photos of varied sizes into `<root>/<split>/`.
fn write_photos(root: &Path, split: &str, count: usize) -> Vec<String> {
    let dir = root.join(split);
    std::fs::create_dir_all(&dir).unwrap();
    (0..count)
        .map(|i| {
            let (w, h) = (40 + 7 * i as u32, 30 + 5 * i as u32);
            let img = image::RgbImage::from_fn(w, h, |x, y| {
                image::Rgb([(x * 5) as u8, (y * 7) as u8, (i * 40) as u8])
            });
            let name = format!("photo_{i:03}.jpg");
            img.save(dir.join(&name)).unwrap();
            name
        })
        .collect()
}

#[test]
fn annotations_decide_which_files_belong_to_the_split() {
    let root = tempfile::tempdir().unwrap();
    let names = write_photos(root.path(), "train2014", 5);
    std::fs::create_dir_all(root.path().join("annotations")).unwrap();
    let listed: Vec<_> = names[..3]
        .iter()
        .enumerate()
        .map(|(i, n)| serde_json::json!({"id": i, "file_name": n, "width": 1, "height": 1}))
        .collect();
    std::fs::write(
        root.path().join("annotations/captions_train2014.json"),
        serde_json::json!({ "images": listed }).to_string(),
    )
    .unwrap();

    let dataset = CocoStyleDataset::open(root.path(), "train2014").unwrap();
    assert_eq!(burn::data::dataset::Dataset::len(&dataset), 3);
}

#[test]
fn without_annotations_every_image_in_the_split_is_used() {
    let root = tempfile::tempdir().unwrap();
    write_photos(root.path(), "val", 4);
    std::fs::write(root.path().join("val/notes.txt"), "not a photo").unwrap();
    let dataset = CocoStyleDataset::open(root.path(), "val").unwrap();
    assert_eq!(burn::data::dataset::Dataset::len(&dataset), 4);
}

#[test]
fn missing_split_is_a_clear_error() {
    let root = tempfile::tempdir().unwrap();
    let err = CocoStyleDataset::open(root.path(), "train2014")
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("train2014"), "{err:#}");
}

#[test]
fn batches_are_a_pure_function_of_seed_and_step() {
    let root = tempfile::tempdir().unwrap();
    write_photos(root.path(), "train", 6);
    let open = || CocoStyleDataset::open(root.path(), "train").unwrap();
    let a = CropSampler::new(open(), 32, 7);
    let b = CropSampler::new(open(), 32, 7);
    let other_seed = CropSampler::new(open(), 32, 8);

    let a3 = a.batch(3, 2).unwrap();
    // A fresh sampler asked straight for step 3 (as after --resume) sees the same batch.
    assert_eq!(a3.pixels, b.batch(3, 2).unwrap().pixels);
    assert_eq!(a3.pixels.len(), 2 * 3 * 32 * 32);
    assert_ne!(a3.pixels, a.batch(4, 2).unwrap().pixels);
    assert_ne!(a3.pixels, other_seed.batch(3, 2).unwrap().pixels);
    assert!(a3.pixels.iter().all(|v| (0.0..=255.0).contains(v)));
}

#[test]
fn an_epoch_visits_every_photo_once() {
    let root = tempfile::tempdir().unwrap();
    write_photos(root.path(), "train", 4);
    // With 1×1 crops of photos whose blue channel encodes the index, one epoch of 4 single
    // crops must show each index exactly once.
    let sampler = CropSampler::new(CocoStyleDataset::open(root.path(), "train").unwrap(), 8, 1);
    let mut blues: Vec<u32> = (0..4)
        .map(|step| {
            let batch = sampler.batch(step, 1).unwrap();
            // JPEG is lossy: round to the nearest encoded index.
            (batch.pixels[2 * 64] / 40.0).round() as u32
        })
        .collect();
    blues.sort();
    assert_eq!(blues, vec![0, 1, 2, 3]);
}

#[test]
fn unreadable_photos_are_skipped_and_counted() {
    let root = tempfile::tempdir().unwrap();
    write_photos(root.path(), "train", 3);
    std::fs::write(
        root.path().join("train/zz_corrupt.jpg"),
        b"\xFF\xD8 definitely not a jpeg",
    )
    .unwrap();
    std::fs::write(root.path().join("train/zz_empty.jpg"), b"").unwrap();
    let sampler = CropSampler::new(CocoStyleDataset::open(root.path(), "train").unwrap(), 16, 3);
    // Two full epochs: every bad file is met at least once and replaced.
    for step in 0..5 {
        let batch = sampler.batch(step, 2).unwrap();
        assert_eq!(batch.pixels.len(), 2 * 3 * 16 * 16);
    }
    assert!(sampler.skipped() >= 2, "skipped {}", sampler.skipped());
    let bad: Vec<String> = sampler
        .bad_files()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(bad, vec!["zz_corrupt.jpg", "zz_empty.jpg"]);
}
