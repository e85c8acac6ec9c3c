//! Helpers shared by the end-to-end tests of the `fauve` binary (`stylize_cli`, `video_cli`,
//! `tiling_cli`); each test binary uses a subset.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `fauve` binary, independent of the developer's environment.
pub fn fauve() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fauve"));
    command
        .env_remove("FAUVE_MODELS")
        .env_remove("RUST_LOG")
        .env_remove("FAUVE_FFMPEG")
        .env_remove("FAUVE_FFPROBE");
    command
}

/// A model shipped in the repository's `models/`.
pub fn shipped_model(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../models/{name}.onnx"))
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Files in `dir` (empty if it does not exist), to prove nothing, not even a temporary file,
/// was left behind.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
