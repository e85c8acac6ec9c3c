//! Videos through ffmpeg: `ffprobe` reads the stream's size, rate, length and audio; one
//! `ffmpeg` decodes frames to raw RGB on a pipe, the network styles each one, a second
//! `ffmpeg` encodes them and takes the audio from the input.
//!
//! ```text
//! ffmpeg -i in.mp4 … rawvideo rgb24 ─▶ reader ─▶ network ─▶ writer ─▶ ffmpeg … -i in.mp4 out.mp4
//!                                      (the same three-stage pipeline as a batch of photos)
//! ```
//!
//! - Frames are scaled by the decoding ffmpeg (`--max-size`), to even sizes (H.264 yuv420p
//!   needs them), at a constant rate (the stream's average), so the output has the input's
//!   duration.
//! - Video: H.264 (libx264, yuv420p, CRF 18) in mp4/m4v/mov/mkv, VP9 in webm. Audio: every
//!   audio stream of the input, copied when the container takes its codec, else re-encoded
//!   (AAC; Opus in webm).
//! - The output is written to a temporary file beside it and renamed at the end: a failure
//!   or an interruption leaves nothing behind.
//! - `ffmpeg`/`ffprobe` are found on `PATH`, or at `$FAUVE_FFMPEG` / `$FAUVE_FFPROBE`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use image::RgbImage;

use crate::batch::{AHEAD, pipelined, run_network};
use crate::convert::{rgb_to_tensor, tensor_to_rgb};
use crate::error::InferError;
use crate::model::StyleModel;
use crate::pipeline::StageTimes;
use crate::postprocess::BlendOptions;
use crate::tensor::ImageTensor;

/// Extensions read as videos. (GIF stays an image: its first frame.)
pub const VIDEO_EXTENSIONS: &[&str] = &["mp4", "m4v", "mov", "mkv", "webm", "avi"];

/// Containers written; another video input (avi) is written as mp4.
pub const OUTPUT_VIDEO_EXTENSIONS: &[&str] = &["mp4", "m4v", "mov", "mkv", "webm"];

/// What to say when ffmpeg is missing.
pub const FFMPEG_HINT: &str = "install ffmpeg: apt-get install ffmpeg \
    (or point FAUVE_FFMPEG and FAUVE_FFPROBE at the programs)";

/// CRF of the H.264 encode: visually lossless enough that the codec does not mask the style.
pub const X264_CRF: u32 = 18;

fn extension_of(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// Whether `path` names a video by its extension.
pub fn is_video_path(path: &Path) -> bool {
    extension_of(path).is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.as_str()))
}

/// Whether fauve can write a video to `path` (by its extension).
pub fn is_output_video_path(path: &Path) -> bool {
    extension_of(path).is_some_and(|e| OUTPUT_VIDEO_EXTENSIONS.contains(&e.as_str()))
}

/// The extension a video input's output keeps: its own when writable, else mp4.
pub fn output_extension_for(input: &Path) -> String {
    extension_of(input)
        .filter(|e| OUTPUT_VIDEO_EXTENSIONS.contains(&e.as_str()))
        .unwrap_or_else(|| "mp4".into())
}

fn tool(name: &str, env: &str) -> PathBuf {
    std::env::var_os(env)
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from(name), PathBuf::from)
}

/// Starts `command`, turning "not found" into the install hint.
fn spawn(command: &mut Command, input: &Path) -> Result<Child, InferError> {
    command.spawn().map_err(|e| {
        let program = command.get_program().to_string_lossy().into_owned();
        InferError::Video {
            path: input.to_path_buf(),
            reason: if e.kind() == std::io::ErrorKind::NotFound {
                format!("{program} not found; {FFMPEG_HINT}")
            } else {
                format!("cannot run {program}: {e}")
            },
        }
    })
}

/// A video's first video stream, as ffprobe sees it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VideoInfo {
    /// Displayed size (rotation metadata applied, as ffmpeg's decoder applies it).
    pub width: u32,
    pub height: u32,
    /// Frame rate as a fraction (`30000/1001`).
    pub fps_num: u32,
    pub fps_den: u32,
    /// Seconds, from the stream or else the container.
    pub duration: Option<f64>,
    /// The stream's frame count if the container says, else duration × rate (an estimate).
    pub frames: Option<u64>,
    /// Codec of each audio stream (`aac`, `opus`...).
    pub audio_codecs: Vec<String>,
}

impl VideoInfo {
    pub fn fps(&self) -> f64 {
        f64::from(self.fps_num) / f64::from(self.fps_den)
    }
}

/// Runs ffprobe on `path`.
pub fn probe(path: &Path) -> Result<VideoInfo, InferError> {
    let error = |reason: String| InferError::Video {
        path: path.to_path_buf(),
        reason,
    };
    if !path.is_file() {
        return Err(error("no such file".into()));
    }
    let output = spawn(
        Command::new(tool("ffprobe", "FAUVE_FFPROBE"))
            .args(["-v", "error", "-print_format", "json"])
            .args(["-show_format", "-show_streams"])
            .arg(path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        path,
    )?
    .wait_with_output()
    .map_err(|e| error(format!("ffprobe failed: {e}")))?;
    if !output.status.success() {
        return Err(error(format!(
            "not a readable video: {}",
            last_lines(&String::from_utf8_lossy(&output.stderr))
        )));
    }
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| error(format!("unexpected ffprobe output: {e}")))?;
    parse_probe(&json).map_err(error)
}

/// The interesting part of `ffprobe -show_format -show_streams -print_format json`.
fn parse_probe(json: &serde_json::Value) -> Result<VideoInfo, String> {
    let streams = json["streams"].as_array().cloned().unwrap_or_default();
    let is_cover_art = |s: &serde_json::Value| s["disposition"]["attached_pic"].as_i64() == Some(1);
    let video = streams
        .iter()
        .find(|s| s["codec_type"] == "video" && !is_cover_art(s))
        .ok_or_else(|| {
            let kinds: Vec<&str> = streams
                .iter()
                .filter_map(|s| s["codec_type"].as_str())
                .collect();
            format!(
                "not a readable video: no video stream (found: {})",
                if kinds.is_empty() {
                    "nothing".to_string()
                } else {
                    kinds.join(", ")
                }
            )
        })?;
    let dim = |key: &str| {
        video[key]
            .as_u64()
            .filter(|&n| n > 0)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("not a readable video: the video stream has no {key}"))
    };
    let (mut width, mut height) = (dim("width")?, dim("height")?);
    if rotation(video).is_some_and(|r| (r.round() as i64).rem_euclid(180) == 90) {
        std::mem::swap(&mut width, &mut height);
    }
    let (fps_num, fps_den) = [&video["avg_frame_rate"], &video["r_frame_rate"]]
        .into_iter()
        .find_map(|v| v.as_str().and_then(parse_rate))
        .ok_or("not a readable video: the video stream has no frame rate")?;
    let number = |v: &serde_json::Value| -> Option<f64> {
        v.as_str()
            .and_then(|s| s.parse().ok())
            .or_else(|| v.as_f64())
            .filter(|d: &f64| d.is_finite() && *d > 0.0)
    };
    let duration = number(&video["duration"]).or_else(|| number(&json["format"]["duration"]));
    let frames = number(&video["nb_frames"])
        .map(|n| n as u64)
        .or_else(|| duration.map(|d| (d * f64::from(fps_num) / f64::from(fps_den)).round() as u64));
    let audio_codecs = streams
        .iter()
        .filter(|s| s["codec_type"] == "audio")
        .map(|s| s["codec_name"].as_str().unwrap_or("unknown").to_string())
        .collect();
    Ok(VideoInfo {
        width,
        height,
        fps_num,
        fps_den,
        duration,
        frames,
        audio_codecs,
    })
}

/// Degrees of rotation from the display matrix side data or the older `rotate` tag.
fn rotation(stream: &serde_json::Value) -> Option<f64> {
    let from_side_data = stream["side_data_list"].as_array().and_then(|list| {
        list.iter().find_map(|d| {
            d["rotation"]
                .as_f64()
                .or_else(|| d["rotation"].as_i64().map(|r| r as f64))
        })
    });
    from_side_data.or_else(|| {
        stream["tags"]["rotate"]
            .as_str()
            .and_then(|r| r.parse().ok())
    })
}

/// `"30000/1001"` → (30000, 1001); `"0/0"` (unknown) → None.
fn parse_rate(text: &str) -> Option<(u32, u32)> {
    let (num, den) = text.split_once('/').unwrap_or((text, "1"));
    let (num, den): (u32, u32) = (num.trim().parse().ok()?, den.trim().parse().ok()?);
    (num > 0 && den > 0).then_some((num, den))
}

/// The frame size fauve works at: the displayed size bounded by `max_size` (longest side,
/// aspect kept), rounded down to even numbers for yuv420p.
pub fn frame_size(width: u32, height: u32, max_size: Option<u32>) -> (u32, u32) {
    let (mut w, mut h) = (f64::from(width), f64::from(height));
    if let Some(max) = max_size.filter(|&m| m > 0) {
        let longest = w.max(h);
        if longest > f64::from(max) {
            let scale = f64::from(max) / longest;
            w = (w * scale).round();
            h = (h * scale).round();
        }
    }
    let even = |v: f64| ((v as u32) & !1).max(2);
    (even(w), even(h))
}

/// Options of one video stylisation.
#[derive(Debug, Clone, Copy, Default)]
pub struct VideoOptions {
    pub max_size: Option<u32>,
    pub blend: BlendOptions,
}

/// What stylising a video did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VideoStats {
    /// Size of the frames stylised and written.
    pub width: u32,
    pub height: u32,
    pub frames: u64,
    /// The output's frame rate.
    pub fps: f64,
    /// Wall time of the whole video, seconds, and frames stylised per second of it.
    pub seconds: f64,
    pub frames_per_second: f64,
    /// Sums over all frames: reading + conversion, network, blend + conversion + handing to
    /// the encoder.
    pub times: StageTimes,
    /// What happened to the audio: `"none"`, `"copied (aac)"`, `"re-encoded (aac → aac)"`.
    pub audio: String,
}

/// Audio codecs each output container takes as they are.
fn copyable(container: &str, codec: &str) -> bool {
    match container {
        "mkv" => true,
        "webm" => matches!(codec, "opus" | "vorbis"),
        "mov" => matches!(
            codec,
            "aac" | "mp3" | "alac" | "ac3" | "eac3" | "pcm_s16le" | "pcm_s24le"
        ),
        _ => matches!(codec, "aac" | "mp3" | "alac" | "ac3" | "eac3"),
    }
}

/// ffmpeg arguments for the output: video codec, audio handling, muxer. Also says what
/// happens to the audio, for the report.
fn output_args(container: &str, audio_codecs: &[String]) -> (Vec<String>, String) {
    let mut args: Vec<String> = Vec::new();
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    if container == "webm" {
        args.extend(s(&[
            "-c:v",
            "libvpx-vp9",
            "-crf",
            "31",
            "-b:v",
            "0",
            "-row-mt",
            "1",
        ]));
    } else {
        args.extend(s(&["-c:v", "libx264", "-preset", "medium"]));
        args.extend(["-crf".to_string(), X264_CRF.to_string()]);
    }
    args.extend(s(&["-pix_fmt", "yuv420p"]));
    let audio = if audio_codecs.is_empty() {
        "none".to_string()
    } else if audio_codecs.iter().all(|c| copyable(container, c)) {
        args.extend(s(&["-c:a", "copy"]));
        format!("copied ({})", audio_codecs.join(", "))
    } else {
        let (encoder, name) = if container == "webm" {
            ("libopus", "opus")
        } else {
            ("aac", "aac")
        };
        args.extend(s(&["-c:a", encoder]));
        format!("re-encoded ({} → {name})", audio_codecs.join(", "))
    };
    let muxer = match container {
        "mov" => "mov",
        "mkv" => "matroska",
        "webm" => "webm",
        _ => "mp4",
    };
    if matches!(muxer, "mp4" | "mov") {
        args.extend(s(&["-movflags", "+faststart"]));
    }
    args.extend(["-f".to_string(), muxer.to_string()]);
    (args, audio)
}

/// Keeps the last few kilobytes a child writes on stderr (read on a thread, so the child
/// never blocks on a full pipe).
fn drain(stderr: Option<ChildStderr>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(mut stderr) = stderr {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                text.extend_from_slice(&chunk[..n]);
                if text.len() > 16_384 {
                    text.drain(..text.len() - 8192);
                }
            }
        }
        String::from_utf8_lossy(&text).into_owned()
    })
}

/// The last lines of a tool's error output, on one line.
fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let tail = &lines[lines.len().saturating_sub(3)..];
    if tail.is_empty() {
        "(no message)".into()
    } else {
        tail.join(" / ")
    }
}

/// Kills a child on drop unless it was waited for: no ffmpeg outlives a failed run.
struct Reaped(Option<Child>);

impl Reaped {
    fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        let mut child = self.0.take().expect("waited once");
        child.wait()
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Stylises the video `input` into `output` (container from its extension). `progress` is
/// called with the number of frames written so far; `cancel` stops the run (an error, and
/// no output) at the next frame.
pub fn stylize_video(
    model: &mut StyleModel,
    input: &Path,
    output: &Path,
    options: &VideoOptions,
    progress: &(dyn Fn(u64) + Sync),
    cancel: &AtomicBool,
) -> Result<VideoStats, InferError> {
    let started = Instant::now();
    let error = |reason: String| InferError::Video {
        path: input.to_path_buf(),
        reason,
    };
    let container = extension_of(output)
        .filter(|e| OUTPUT_VIDEO_EXTENSIONS.contains(&e.as_str()))
        .ok_or_else(|| InferError::Video {
            path: output.to_path_buf(),
            reason: format!(
                "unsupported video output format (use .{})",
                OUTPUT_VIDEO_EXTENSIONS.join(", .")
            ),
        })?;
    let info = probe(input)?;
    let (width, height) = frame_size(info.width, info.height, options.max_size);
    model.check_input_size(input, width, height)?;

    let write_error = |reason: String| InferError::Write {
        path: output.to_path_buf(),
        reason,
    };
    if output.is_dir() {
        return Err(write_error("it is a directory".into()));
    }
    let dir = match output.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".fauve-")
        .suffix(&format!(".partial.{container}"))
        .tempfile_in(&dir)
        .map_err(|e| write_error(format!("cannot create a file in {}: {e}", dir.display())))?;

    let rate = format!("{}/{}", info.fps_num, info.fps_den);
    let mut decoder = Command::new(tool("ffmpeg", "FAUVE_FFMPEG"));
    decoder
        .args(["-nostdin", "-hide_banner", "-v", "error", "-i"])
        .arg(input)
        .args(["-map", "0:v:0", "-vf"])
        .arg(format!("scale={width}:{height},setsar=1"))
        .args(["-fps_mode", "cfr", "-r", &rate])
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut decoder = Reaped(Some(spawn(&mut decoder, input)?));
    let decoder_log = drain(decoder.0.as_mut().and_then(|c| c.stderr.take()));
    let mut frames_out = decoder
        .0
        .as_mut()
        .and_then(|c| c.stdout.take())
        .expect("piped stdout");

    let (codec_args, audio) = output_args(&container, &info.audio_codecs);
    let mut encoder = Command::new(tool("ffmpeg", "FAUVE_FFMPEG"));
    encoder
        .args(["-nostdin", "-hide_banner", "-v", "error", "-y"])
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s"])
        .arg(format!("{width}x{height}"))
        .args(["-framerate", &rate, "-i", "pipe:0", "-i"])
        .arg(input)
        .args(["-map", "0:v:0", "-map", "1:a?", "-map_metadata", "1"])
        .args(&codec_args)
        .arg(temp.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut encoder = Reaped(Some(spawn(&mut encoder, input)?));
    let encoder_log = drain(encoder.0.as_mut().and_then(|c| c.stderr.take()));
    let mut frames_in = encoder
        .0
        .as_mut()
        .and_then(|c| c.stdin.take())
        .expect("piped stdin");

    // Reader: raw frames off the decoder's pipe, as tensors.
    let frame_bytes = width as usize * height as usize * 3;
    let mut read_error: Option<String> = None;
    let source = std::iter::from_fn(|| {
        if cancel.load(Ordering::SeqCst) {
            return None;
        }
        let read_started = Instant::now();
        let mut pixels = vec![0u8; frame_bytes];
        match read_full(&mut frames_out, &mut pixels) {
            Ok(0) => None,
            Ok(n) if n < frame_bytes => {
                read_error = Some(format!(
                    "the decoder stopped mid-frame ({n} of {frame_bytes} bytes)"
                ));
                None
            }
            Ok(_) => {
                let rgb = RgbImage::from_raw(width, height, pixels).expect("sized above");
                let tensor = rgb_to_tensor(&rgb);
                Some((tensor, read_started.elapsed().as_secs_f64() * 1000.0))
            }
            Err(e) => {
                read_error = Some(format!("reading decoded frames failed: {e}"));
                None
            }
        }
    });

    let blend = options.blend;
    let mut frames_written = 0u64;
    let mut times = StageTimes::default();
    let mut run_ms = 0.0;
    let mut stage_error: Option<InferError> = None;
    let mut sink_error: Option<String> = None;
    pipelined(
        AHEAD,
        source,
        |(photo, read_ms): (ImageTensor, f64)| {
            if blend.skips_network() || stage_error.is_some() {
                return Ok((photo, None, read_ms));
            }
            let run_started = Instant::now();
            match run_network(model, &photo) {
                Ok(stylized) => {
                    run_ms += run_started.elapsed().as_secs_f64() * 1000.0;
                    Ok((photo, Some(stylized), read_ms))
                }
                Err(e) => {
                    stage_error = Some(e);
                    Err(())
                }
            }
        },
        |ran: Result<(ImageTensor, Option<ImageTensor>, f64), ()>| {
            let Ok((photo, stylized, read_ms)) = ran else {
                return false;
            };
            let write_started = Instant::now();
            let rgb = match stylized {
                Some(mut stylized) => {
                    blend.apply(&mut stylized, &photo);
                    tensor_to_rgb(&stylized)
                }
                None => tensor_to_rgb(&photo),
            };
            if let Err(e) = frames_in.write_all(rgb.as_raw()) {
                sink_error = Some(format!("the encoder stopped taking frames: {e}"));
                return false;
            }
            times.decode_ms += read_ms;
            times.encode_ms += write_started.elapsed().as_secs_f64() * 1000.0;
            frames_written += 1;
            progress(frames_written);
            true
        },
    );
    times.run_ms = run_ms;
    // End of the encoder's input: it finishes the file. Closing the decoder's pipe makes a
    // decoder we stopped listening to (after an error) exit instead of blocking.
    drop(frames_in);
    drop(frames_out);

    if let Some(e) = stage_error {
        return Err(e);
    }
    if cancel.load(Ordering::SeqCst) {
        return Err(error("interrupted; no output written".into()));
    }
    let encoded = encoder.wait();
    let encoder_log = encoder_log.join().unwrap_or_default();
    if let Some(reason) = sink_error {
        return Err(write_error(format!(
            "{reason}: {}",
            last_lines(&encoder_log)
        )));
    }
    let decoded = decoder.wait();
    let decoder_log = decoder_log.join().unwrap_or_default();
    if !decoded.as_ref().is_ok_and(|s| s.success()) || read_error.is_some() {
        let reason = read_error.unwrap_or_else(|| last_lines(&decoder_log));
        return Err(error(format!("decoding failed: {reason}")));
    }
    if !encoded.as_ref().is_ok_and(|s| s.success()) {
        return Err(write_error(format!(
            "encoding failed: {}",
            last_lines(&encoder_log)
        )));
    }
    if frames_written == 0 {
        return Err(error(
            "not a readable video: no frames could be decoded".into(),
        ));
    }
    if cancel.load(Ordering::SeqCst) {
        return Err(error("interrupted; no output written".into()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(0o644));
    }
    temp.persist(output)
        .map_err(|e| write_error(e.error.to_string()))?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(VideoStats {
        width,
        height,
        frames: frames_written,
        fps: info.fps(),
        seconds,
        frames_per_second: frames_written as f64 / seconds,
        times,
        audio,
    })
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_sizes_are_bounded_and_even() {
        assert_eq!(frame_size(1920, 1080, Some(512)), (512, 288));
        assert_eq!(frame_size(97, 65, None), (96, 64));
        assert_eq!(frame_size(1080, 1920, Some(500)), (280, 500));
        assert_eq!(frame_size(640, 480, Some(1024)), (640, 480));
    }

    #[test]
    fn rates_parse_and_unknown_ones_are_refused() {
        assert_eq!(parse_rate("30000/1001"), Some((30000, 1001)));
        assert_eq!(parse_rate("25"), Some((25, 1)));
        assert_eq!(parse_rate("0/0"), None);
    }

    #[test]
    fn probe_output_is_read_with_rotation_and_audio() {
        let json = serde_json::json!({
            "streams": [
                {"codec_type": "video", "width": 1920, "height": 1080,
                 "avg_frame_rate": "30/1", "r_frame_rate": "30/1", "nb_frames": "90",
                 "duration": "3.0", "side_data_list": [{"rotation": -90}]},
                {"codec_type": "audio", "codec_name": "aac"}
            ],
            "format": {"duration": "3.02"}
        });
        let info = parse_probe(&json).unwrap();
        assert_eq!((info.width, info.height), (1080, 1920));
        assert_eq!((info.fps_num, info.fps_den, info.frames), (30, 1, Some(90)));
        assert_eq!(info.audio_codecs, ["aac"]);
        let audio_only = serde_json::json!({"streams": [{"codec_type": "audio"}]});
        let message = parse_probe(&audio_only).unwrap_err();
        assert!(
            message.contains("no video stream (found: audio)"),
            "{message}"
        );
    }

    #[test]
    fn audio_is_copied_only_where_the_container_takes_it() {
        let (args, audio) = output_args("mp4", &["aac".into()]);
        assert!(args.windows(2).any(|w| w == ["-c:a", "copy"]));
        assert_eq!(audio, "copied (aac)");
        let (args, audio) = output_args("mp4", &["opus".into()]);
        assert!(args.windows(2).any(|w| w == ["-c:a", "aac"]));
        assert_eq!(audio, "re-encoded (opus → aac)");
        let (args, _) = output_args("webm", &["aac".into()]);
        assert!(args.windows(2).any(|w| w == ["-c:a", "libopus"]));
        assert!(args.windows(2).any(|w| w == ["-c:v", "libvpx-vp9"]));
        let (args, audio) = output_args("mkv", &[]);
        assert_eq!(audio, "none");
        assert!(!args.iter().any(|a| a == "-c:a"));
    }

    #[test]
    fn video_paths_are_recognised_by_extension() {
        assert!(is_video_path(Path::new("a/clip.MP4")));
        assert!(is_video_path(Path::new("clip.avi")));
        assert!(!is_video_path(Path::new("anim.gif")));
        assert_eq!(output_extension_for(Path::new("clip.avi")), "mp4");
        assert_eq!(output_extension_for(Path::new("clip.webm")), "webm");
    }
}
