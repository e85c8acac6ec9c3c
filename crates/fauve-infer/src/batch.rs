//! Many images (or video frames) as a three-stage pipeline, so that decoding and encoding
//! overlap with the network:
//!
//! ```text
//!  reader thread              calling thread             writer thread
//!  read + decode + tensor ─▶  ONNX Runtime session  ─▶  blend + RGB8 + encode + write
//! ```
//!
//! The stages hand items over through bounded channels ([`AHEAD`] deep), so the reader is at
//! most a couple of images ahead (memory stays bounded) and the writer at most a couple behind.
//! Items go through in order, so results come out in input order. The session stays on the
//! calling thread: it is the only stage that needs `&mut StyleModel`.
//!
//! [`pipelined`] is the generic part (also used for video frames, see `video`);
//! [`stylize_files`] is `fauve stylize` over many files: same per-file behaviour as
//! [`crate::stylize_file`] (errors are per file, outputs written atomically, stage timings).

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Instant;

use image::{GrayImage, RgbImage};

use crate::convert::{rgb_to_tensor, tensor_to_rgb};
use crate::decode::decode_file;
use crate::encode::{OutputFormat, encode_to_vec, write_atomically};
use crate::error::InferError;
use crate::model::StyleModel;
use crate::pipeline::{StageTimes, StylizeOptions, Stylized};
use crate::postprocess::BlendOptions;
use crate::tensor::ImageTensor;

/// Items waiting in each channel between two stages. With one more being worked on by the
/// stage before, the reader is at most two images ahead of the network.
pub const AHEAD: usize = 1;

/// Runs `source` on a reader thread, `stage` on the calling thread and `sink` on a writer
/// thread, connected by channels of `ahead` items; returns when every item has been through
/// all three, or as soon as `sink` returns `false` (it wants no more: a fatal error). Then the
/// reader stops at its next item too, and nothing more is run.
///
/// Panics in the reader or writer are propagated when the pipeline ends.
pub fn pipelined<A, B, I, S, W>(ahead: usize, source: I, mut stage: S, mut sink: W)
where
    A: Send,
    B: Send,
    I: Iterator<Item = A> + Send,
    S: FnMut(A) -> B,
    W: FnMut(B) -> bool + Send,
{
    std::thread::scope(|scope| {
        let (to_stage, from_reader): (SyncSender<A>, Receiver<A>) = sync_channel(ahead);
        let (to_writer, from_stage): (SyncSender<B>, Receiver<B>) = sync_channel(ahead);
        std::thread::Builder::new()
            .name("fauve-reader".into())
            .spawn_scoped(scope, move || {
                for item in source {
                    if to_stage.send(item).is_err() {
                        return; // the network stage stopped
                    }
                }
            })
            .expect("spawning the reader thread");
        std::thread::Builder::new()
            .name("fauve-writer".into())
            .spawn_scoped(scope, move || {
                for item in from_stage {
                    if !sink(item) {
                        return; // dropping the receiver stops the network stage
                    }
                }
            })
            .expect("spawning the writer thread");
        for item in from_reader {
            if to_writer.send(stage(item)).is_err() {
                break; // the writer stopped; dropping `from_reader` stops the reader
            }
        }
    });
}

/// One file to stylise and where to write it (format from its extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub input: PathBuf,
    pub output: PathBuf,
}

/// Stylises every job through the three-stage pipeline. `done(i, result)` is called for each
/// job in order (on the writer thread), as soon as its output is written or it failed; a
/// failed job does not stop the others.
pub fn stylize_files<F>(model: &mut StyleModel, jobs: &[Job], options: &StylizeOptions, mut done: F)
where
    F: FnMut(usize, Result<Stylized, InferError>) + Send,
{
    let blend = options.blend;
    let decode = options.decode;
    let source = jobs.iter().map(|job| read_stage(job, &decode, blend));
    pipelined(
        AHEAD,
        source.enumerate(),
        |(i, read)| (i, read.and_then(|photo| run_stage(model, photo))),
        |(i, ran)| {
            let job = &jobs[i];
            done(
                i,
                ran.and_then(|ran| write_stage(&job.input, &job.output, ran, blend)),
            );
            true
        },
    );
}

/// A decoded photo on its way to the network.
pub struct Photo {
    name: PathBuf,
    format: OutputFormat,
    width: u32,
    height: u32,
    alpha: Option<GrayImage>,
    /// The photo as a tensor, or its RGB8 pixels untouched when the network is skipped.
    pixels: Pixels,
    times: StageTimes,
}

enum Pixels {
    Tensor(ImageTensor),
    /// `--strength 0`: written as decoded, bit-identical through a lossless format.
    Untouched(RgbImage),
}

/// A photo and, unless skipped, the network's raw output.
pub struct Ran {
    photo: Photo,
    output: Option<ImageTensor>,
}

/// Reader stage: output format check (so a bad `-o` costs no decoding), read, decode,
/// orientation/resize, conversion to a tensor.
fn read_stage(
    job: &Job,
    decode: &crate::DecodeOptions,
    blend: BlendOptions,
) -> Result<Photo, InferError> {
    let format = OutputFormat::from_path(&job.output)?;
    let started = Instant::now();
    let decoded = decode_file(&job.input, decode)?;
    let (width, height) = decoded.rgb.dimensions();
    let pixels = if blend.skips_network() {
        Pixels::Untouched(decoded.rgb)
    } else {
        Pixels::Tensor(rgb_to_tensor(&decoded.rgb))
    };
    Ok(Photo {
        name: job.input.clone(),
        format,
        width,
        height,
        alpha: decoded.alpha,
        pixels,
        times: StageTimes {
            decode_ms: ms_since(started),
            ..StageTimes::default()
        },
    })
}

/// Network stage (the calling thread): size check, then the session.
fn run_stage(model: &mut StyleModel, mut photo: Photo) -> Result<Ran, InferError> {
    model.check_input_size(&photo.name, photo.width, photo.height)?;
    let Pixels::Tensor(tensor) = &photo.pixels else {
        return Ok(Ran {
            photo,
            output: None,
        });
    };
    let started = Instant::now();
    let output = run_network(model, tensor)?;
    photo.times.run_ms = ms_since(started);
    Ok(Ran {
        photo,
        output: Some(output),
    })
}

/// The network on one photo: the single place the batch and video paths call the session.
pub fn run_network(model: &mut StyleModel, photo: &ImageTensor) -> Result<ImageTensor, InferError> {
    model.run(photo)
}

/// Writer stage: blend with the photo, RGB8, encode, atomic write.
fn write_stage(
    input: &Path,
    output: &Path,
    ran: Ran,
    blend: BlendOptions,
) -> Result<Stylized, InferError> {
    let started = Instant::now();
    let Ran { photo, output: net } = ran;
    let rgb = match (photo.pixels, net) {
        (Pixels::Tensor(tensor), Some(mut stylized)) => {
            blend.apply(&mut stylized, &tensor);
            tensor_to_rgb(&stylized)
        }
        (Pixels::Untouched(rgb), _) => rgb,
        (Pixels::Tensor(_), None) => unreachable!("run_stage runs every tensor"),
    };
    let bytes =
        encode_to_vec(&rgb, photo.alpha.as_ref(), photo.format).map_err(|e| InferError::Write {
            path: input.to_path_buf(),
            reason: format!("encoding {:?} failed: {e}", photo.format),
        })?;
    write_atomically(output, &bytes)?;
    let mut times = photo.times;
    times.encode_ms = ms_since(started);
    Ok(Stylized {
        width: photo.width,
        height: photo.height,
        times,
    })
}

fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SessionOptions;
    use crate::test_models::{image_axes, single_op_model, write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn pipelined_keeps_order_and_overlaps_the_stages() {
        // Each stage sleeps 30 ms per item: in sequence 10 items take 900 ms, overlapped
        // about 10 × 30 + 2 × 30 = 360 ms.
        let pause = Duration::from_millis(30);
        let mut seen = Vec::new();
        let started = Instant::now();
        pipelined(
            AHEAD,
            (0..10).inspect(|_| std::thread::sleep(pause)),
            |i| {
                std::thread::sleep(pause);
                i * 10
            },
            |x| {
                std::thread::sleep(pause);
                seen.push(x);
                true
            },
        );
        let elapsed = started.elapsed();
        assert_eq!(seen, (0..10).map(|i| i * 10).collect::<Vec<_>>());
        assert!(elapsed < Duration::from_millis(700), "took {elapsed:?}");
    }

    #[test]
    fn a_sink_that_stops_stops_the_reader_and_the_stage() {
        let read = AtomicUsize::new(0);
        let ran = AtomicUsize::new(0);
        pipelined(
            AHEAD,
            (0..1000).inspect(|_| {
                read.fetch_add(1, Ordering::SeqCst);
            }),
            |i| {
                ran.fetch_add(1, Ordering::SeqCst);
                i
            },
            |i| i < 3,
        );
        // At most a few items beyond the one that stopped it, never the whole source.
        assert!(read.load(Ordering::SeqCst) < 10);
        assert!(ran.load(Ordering::SeqCst) < 10);
    }

    #[test]
    fn a_batch_reports_every_file_in_order_and_goes_past_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let model_path = write(
            dir.path(),
            "identity.onnx",
            &single_op_model("Identity", &image_axes(), &image_axes(), &[]),
        );
        let mut model = StyleModel::load(&model_path, &SessionOptions::default()).unwrap();
        let mut jobs = Vec::new();
        for i in 0..5u32 {
            let input = dir.path().join(format!("in{i}.png"));
            if i == 2 {
                std::fs::write(&input, b"not an image").unwrap();
            } else {
                let size = 16 + i;
                let rgb = RgbImage::from_fn(size, size + 1, |x, y| {
                    image::Rgb([(x * 9) as u8, (y * 13) as u8, (i * 40) as u8])
                });
                rgb.save(&input).unwrap();
            }
            jobs.push(Job {
                input,
                output: dir.path().join(format!("out{i}.png")),
            });
        }
        let mut results = Vec::new();
        stylize_files(
            &mut model,
            &jobs,
            &StylizeOptions::default(),
            |i, result| results.push((i, result)),
        );
        assert_eq!(
            results.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        for (i, result) in &results {
            let job = &jobs[*i];
            if *i == 2 {
                let message = result.as_ref().unwrap_err().to_string();
                assert!(message.contains("in2.png"), "{message}");
                assert!(!job.output.exists());
            } else {
                let stylized = result.as_ref().unwrap();
                assert_eq!(
                    (stylized.width, stylized.height),
                    (16 + *i as u32, 17 + *i as u32)
                );
                // The identity network: the output is the photo.
                let written = image::open(&job.output).unwrap().to_rgb8();
                let original = image::open(&job.input).unwrap().to_rgb8();
                assert_eq!(written, original);
            }
        }
    }
}
