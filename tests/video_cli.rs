//! End-to-end tests of `fauve stylize` on videos (ffmpeg), of batches through the pipeline,
//! and of `--device cuda` falling back to the CPU, through the real binary and the shipped
//! `models/starry_night.onnx`.
//!
//! The video tests need `ffmpeg` and `ffprobe`. `.ci/run` installs them; on CI (`CI` set) a
//! missing ffmpeg fails these tests, elsewhere they are skipped with a message.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{fauve, files_in, shipped_model, stderr};

fn starry_night() -> PathBuf {
    shipped_model("starry_night")
}

fn stylize(args: &[&std::ffi::OsStr]) -> Output {
    fauve()
        .arg("stylize")
        .arg("--model")
        .arg(starry_night())
        .args(args)
        .output()
        .expect("run fauve stylize")
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "--json output is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            stderr(output)
        )
    })
}

/// Whether ffmpeg and ffprobe run. Missing: a failure on CI, a skip (with a message) elsewhere.
fn have_ffmpeg(test: &str) -> bool {
    let runs = |tool: &str| {
        Command::new(tool)
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if runs("ffmpeg") && runs("ffprobe") {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: ffmpeg/ffprobe not found, and CI must run the video tests \
         (.ci/run installs them: apt-get install ffmpeg)"
    );
    eprintln!("skipping {test}: ffmpeg/ffprobe not installed (apt-get install ffmpeg)");
    false
}

/// Runs ffmpeg with a command line split on spaces (the temporary paths have none).
fn ffmpeg(command_line: &str) {
    let args: Vec<&str> = command_line.split_whitespace().collect();
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(&args)
        .output()
        .expect("run ffmpeg");
    assert!(
        output.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// ffprobe's view of a file: every stream (frames counted by decoding) and the container.
fn probe(path: &Path) -> serde_json::Value {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-print_format", "json"])
        .args(["-show_streams", "-show_format"])
        .arg(path)
        .output()
        .expect("run ffprobe");
    assert!(output.status.success(), "ffprobe {}", path.display());
    serde_json::from_slice(&output.stdout).unwrap()
}

fn streams<'a>(probe: &'a serde_json::Value, kind: &str) -> Vec<&'a serde_json::Value> {
    probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["codec_type"] == kind)
        .collect()
}

fn number(value: &serde_json::Value) -> f64 {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| value.as_f64())
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

#[test]
fn a_video_keeps_its_frame_count_duration_and_audio() {
    if !have_ffmpeg("a_video_keeps_its_frame_count_duration_and_audio") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("clip.mp4");
    // 1 s at 10 fps, 96×64, with a 440 Hz tone as AAC.
    ffmpeg(&format!(
        "-f lavfi -i testsrc2=size=96x64:rate=10:duration=1 -f lavfi -i sine=frequency=440:duration=1 \
         -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest {}",
        input.display()
    ));
    let out = dir.path().join("styled.mp4");
    let output = stylize(&[
        input.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "--json".as_ref(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));

    let got = probe(&out);
    let video = streams(&got, "video");
    assert_eq!(video.len(), 1, "{got}");
    assert_eq!(number(&video[0]["nb_read_frames"]), 10.0, "frame count");
    assert_eq!(
        (video[0]["width"].as_u64(), video[0]["height"].as_u64()),
        (Some(96), Some(64))
    );
    let duration = number(&video[0]["duration"]);
    assert!(
        (duration - 1.0).abs() <= 0.1,
        "video lasts {duration} s, not 1 s ± one frame"
    );
    let audio = streams(&got, "audio");
    assert_eq!(audio.len(), 1, "the audio stream must be kept: {got}");
    assert_eq!(audio[0]["codec_name"], "aac");
    let total = number(&got["format"]["duration"]);
    assert!((total - 1.0).abs() <= 0.1, "file lasts {total} s");

    // The report says the same, and that AAC went into mp4 as it was.
    let report = json(&output);
    let stats = &report["images"][0]["video"];
    assert_eq!(stats["frames"], 10);
    assert_eq!(stats["audio"], "copied (aac)");
    assert!(report["images"][0]["times"]["run_ms"].as_f64().unwrap() > 0.0);
    // Only the input and the output: no temporary file left.
    assert_eq!(files_in(dir.path()), ["clip.mp4", "styled.mp4"]);

    // The frames are stylised like photos: frame 5 of the output against frame 5 of the
    // input stylised on its own (up to H.264's loss).
    let frame = dir.path().join("frame.png");
    let out_frame = dir.path().join("out_frame.png");
    let styled_frame = dir.path().join("styled_frame.png");
    for (video, png) in [(&input, &frame), (&out, &out_frame)] {
        ffmpeg(&format!(
            "-i {} -vf select=eq(n\\,5) -frames:v 1 {}",
            video.display(),
            png.display()
        ));
    }
    let output = stylize(&[frame.as_os_str(), "-o".as_ref(), styled_frame.as_os_str()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let a = image::open(&out_frame).unwrap().to_rgb8();
    let b = image::open(&styled_frame).unwrap().to_rgb8();
    let mean = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).abs())
        .sum::<f64>()
        / a.as_raw().len() as f64;
    assert!(
        mean < 12.0,
        "frame 5 differs from the photo stylisation by {mean} on average"
    );
}

#[test]
fn max_size_scales_odd_videos_to_even_sizes_and_a_video_without_audio_stays_silent() {
    if !have_ffmpeg(
        "max_size_scales_odd_videos_to_even_sizes_and_a_video_without_audio_stays_silent",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("odd.avi");
    // 97×65 MJPEG in AVI (odd sizes are fine there), 6 frames at 12 fps, no audio.
    ffmpeg(&format!(
        "-f lavfi -i testsrc2=size=97x65:rate=12:duration=0.5 -c:v mjpeg {}",
        input.display()
    ));
    let out_dir = dir.path().join("out");
    let output = stylize(&[
        input.as_os_str(),
        "-o".as_ref(),
        out_dir.as_os_str(),
        "--max-size".as_ref(),
        "60".as_ref(),
        "--preserve-color".as_ref(),
        "--strength".as_ref(),
        "0.7".as_ref(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    // avi is read, written as mp4; 97×65 bounded to 60 on the long side → 60×40.
    assert_eq!(files_in(&out_dir), ["odd.mp4"]);
    let got = probe(&out_dir.join("odd.mp4"));
    let video = streams(&got, "video");
    assert_eq!(
        (video[0]["width"].as_u64(), video[0]["height"].as_u64()),
        (Some(60), Some(40))
    );
    assert_eq!(number(&video[0]["nb_read_frames"]), 6.0);
    assert_eq!(video[0]["pix_fmt"], "yuv420p");
    assert!(streams(&got, "audio").is_empty());
}

#[test]
fn a_corrupt_video_is_refused_by_name_and_leaves_nothing() {
    if !have_ffmpeg("a_corrupt_video_is_refused_by_name_and_leaves_nothing") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("broken.mp4");
    std::fs::write(&input, b"this is not a video at all").unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let output = stylize(&[
        input.as_os_str(),
        "-o".as_ref(),
        out_dir.join("x.mp4").as_os_str(),
    ]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("broken.mp4") && err.contains("not a readable video"),
        "{err}"
    );
    assert_eq!(files_in(&out_dir), Vec::<String>::new());

    // An audio-only file named .mp4 is not a video either.
    let tone = dir.path().join("tone.mp4");
    ffmpeg(&format!(
        "-f lavfi -i sine=duration=0.3 -c:a aac {}",
        tone.display()
    ));
    let output = stylize(&[
        tone.as_os_str(),
        "-o".as_ref(),
        out_dir.join("y.mp4").as_os_str(),
    ]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("tone.mp4") && err.contains("no video stream (found: audio)"),
        "{err}"
    );
    assert_eq!(files_in(&out_dir), Vec::<String>::new());
}

#[test]
fn a_missing_ffmpeg_says_how_to_install_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("clip.mp4");
    std::fs::write(&input, b"whatever").unwrap();
    let output = fauve()
        .env("FAUVE_FFPROBE", "/nonexistent-fauve/ffprobe")
        .env("FAUVE_FFMPEG", "/nonexistent-fauve/ffmpeg")
        .arg("stylize")
        .arg("--model")
        .arg(starry_night())
        .arg(&input)
        .arg("-o")
        .arg(dir.path().join("out.mp4"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("clip.mp4"), "{err}");
    assert!(
        err.contains("install ffmpeg: apt-get install ffmpeg"),
        "{err}"
    );
    assert_eq!(files_in(dir.path()), ["clip.mp4"]);
}

#[test]
fn videos_and_images_must_keep_their_kind() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("photo.png");
    image::RgbImage::from_pixel(16, 16, image::Rgb([9, 99, 199]))
        .save(&photo)
        .unwrap();
    let output = stylize(&[
        photo.as_os_str(),
        "-o".as_ref(),
        dir.path().join("photo.mp4").as_os_str(),
    ]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("not a video"),
        "{}",
        stderr(&output)
    );
    let clip = dir.path().join("clip.mov");
    std::fs::write(&clip, b"x").unwrap();
    let output = stylize(&[
        clip.as_os_str(),
        "-o".as_ref(),
        dir.path().join("clip.png").as_os_str(),
    ]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("a video's output must be a video"),
        "{}",
        stderr(&output)
    );
    assert_eq!(files_in(dir.path()), ["clip.mov", "photo.png"]);
}

#[test]
fn a_batch_through_the_pipeline_reports_every_input_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    for (i, name) in ["a.png", "b.jpg", "bad.png", "c.webp", "d.png"]
        .iter()
        .enumerate()
    {
        let path = dir.path().join(name);
        if *name == "bad.png" {
            std::fs::write(&path, b"\x89PNG truncated").unwrap();
        } else {
            let side = 24 + 4 * i as u32;
            image::RgbImage::from_fn(side, side + 2, |x, y| {
                image::Rgb([(x * 10) as u8, (y * 7) as u8, (i * 50) as u8])
            })
            .save(&path)
            .unwrap();
        }
        inputs.push(path);
    }
    let out_dir = dir.path().join("out");
    let mut args: Vec<&std::ffi::OsStr> = inputs.iter().map(|p| p.as_os_str()).collect();
    args.extend(["-o".as_ref(), out_dir.as_os_str(), "--json".as_ref()]);
    let output = stylize(&args);
    assert!(!output.status.success(), "one input is bad");
    let report = json(&output);
    let images = report["images"].as_array().unwrap();
    let names: Vec<String> = images
        .iter()
        .map(|r| {
            Path::new(r["input"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(names, ["a.png", "b.jpg", "bad.png", "c.webp", "d.png"]);
    assert_eq!(
        (report["succeeded"].as_u64(), report["failed"].as_u64()),
        (Some(4), Some(1))
    );
    for (i, r) in images.iter().enumerate() {
        if i == 2 {
            assert!(r["error"].as_str().unwrap().contains("bad.png"));
            continue;
        }
        let side = 24 + 4 * i as u64;
        assert_eq!(
            (r["width"].as_u64(), r["height"].as_u64()),
            (Some(side), Some(side + 2))
        );
        assert!(r["times"]["run_ms"].as_f64().unwrap() > 0.0);
        assert!(r["times"]["decode_ms"].as_f64().unwrap() > 0.0);
        assert!(r["times"]["encode_ms"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(files_in(&out_dir), ["a.png", "b.jpg", "c.webp", "d.png"]);
    assert!(
        stderr(&output).contains("1 of 5 inputs failed"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_unavailable_cuda_device_falls_back_to_the_cpu_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("photo.png");
    image::RgbImage::from_pixel(16, 16, image::Rgb([9, 99, 199]))
        .save(&photo)
        .unwrap();
    let out = dir.path().join("out.png");
    let output = stylize(&[
        photo.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "--device".as_ref(),
        "cuda".as_ref(),
        "--json".as_ref(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(out.exists());
    let report = json(&output);
    if report["device"] == "cuda:0" {
        return; // a CUDA build on a machine with a working GPU runtime: nothing to fall back from
    }
    assert_eq!(report["device"], "cpu");
    let err = stderr(&output);
    assert!(
        err.contains("warning: --device cuda:0 is not available: "),
        "{err}"
    );
    assert!(err.contains("running on the CPU instead"), "{err}");
    let reason = report["device_fallback"].as_str().unwrap();
    assert!(
        err.contains(reason),
        "the warning and the report give the same reason"
    );
}

#[test]
fn a_rotated_video_comes_out_upright() {
    if !have_ffmpeg("a_rotated_video_comes_out_upright") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let stored = dir.path().join("stored.mp4");
    ffmpeg(&format!(
        "-f lavfi -i testsrc2=size=96x64:rate=10:duration=0.5 -c:v libx264 -pix_fmt yuv420p {}",
        stored.display()
    ));
    // The same frames, tagged to be shown turned by 90° (as phones record portrait video).
    let rotated = dir.path().join("rotated.mp4");
    ffmpeg(&format!(
        "-i {} -c copy -metadata:s:v:0 rotate=90 {}",
        stored.display(),
        rotated.display()
    ));
    let out = dir.path().join("out.mp4");
    let output = stylize(&[rotated.as_os_str(), "-o".as_ref(), out.as_os_str()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let got = probe(&out);
    let video = streams(&got, "video");
    assert_eq!(
        (video[0]["width"].as_u64(), video[0]["height"].as_u64()),
        (Some(64), Some(96))
    );
    assert_eq!(number(&video[0]["nb_read_frames"]), 5.0);
}
