//! `fauve stylize clip.mp4`: one video through `fauve_infer::video`, with a progress bar
//! (frames, frames/s, ETA) and Ctrl-C stopping cleanly (no output left behind).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fauve_infer::video::{VideoOptions, VideoStats, probe, stylize_video};
use fauve_infer::{InferError, StyleModel};
use indicatif::{ProgressBar, ProgressStyle};

/// Set by the first Ctrl-C: the video being stylised stops at its next frame, its temporary
/// output is removed, the batch ends. A second Ctrl-C exits at once.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs the Ctrl-C handler (once; stylising videos only, so photos keep the default).
pub fn catch_interrupts() {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    let result = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: stopping (Ctrl-C again to quit at once)");
    });
    if let Err(e) = result {
        tracing::warn!("cannot catch Ctrl-C: {e}");
    }
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Stylises `input` into `output`, drawing a progress bar on stderr (when it is a terminal).
pub fn stylize(
    model: &mut StyleModel,
    input: &Path,
    output: &Path,
    options: &VideoOptions,
) -> Result<VideoStats, InferError> {
    // Probed here for the bar's length; stylize_video probes again (a few ms) for itself.
    let total = probe(input)?.frames;
    let bar = match total {
        Some(frames) => ProgressBar::new(frames).with_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {pos}/{len} frames, {per_sec}, ETA {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{msg} {spinner} {pos} frames, {per_sec}")
                .expect("valid template"),
        ),
    };
    bar.set_message(
        input
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
    );
    bar.enable_steady_tick(Duration::from_millis(250));
    let result = stylize_video(
        model,
        input,
        output,
        options,
        &|frames| bar.set_position(frames),
        &INTERRUPTED,
    );
    bar.finish_and_clear();
    result
}
