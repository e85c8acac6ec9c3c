//! Resolving `--style NAME` to a shipped model file `NAME.onnx`.
//!
//! Searched, in order: `./models`, `$FAUVE_MODELS`, and the repository's `models/` relative
//! to the executable (`<exe dir>/../../models`, which is where it is for `cargo build`
//! binaries in `target/{debug,release}`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::InferError;

/// The directories searched for `NAME.onnx`, in order (only those that exist).
pub fn model_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("models")];
    if let Some(dir) = std::env::var_os("FAUVE_MODELS").filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(dir));
    }
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        dirs.push(exe_dir.join("..").join("..").join("models"));
    }
    dirs.into_iter().filter(|d| d.is_dir()).collect()
}

/// The style names available in `dirs` (file stems of `*.onnx`), sorted and deduplicated.
pub fn available_styles(dirs: &[PathBuf]) -> Vec<String> {
    let mut names = BTreeSet::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if path.extension().is_some_and(|e| e == "onnx")
                && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
            {
                names.insert(stem.to_string());
            }
        }
    }
    names.into_iter().collect()
}

/// `NAME.onnx` from the first directory that has it; otherwise an error listing the styles
/// that do exist and where we looked.
pub fn find_style(name: &str) -> Result<PathBuf, InferError> {
    find_style_in(name, &model_dirs())
}

pub fn find_style_in(name: &str, dirs: &[PathBuf]) -> Result<PathBuf, InferError> {
    // A style is a bare name: refuse paths so `--style ../x` can't escape the models folder.
    let is_bare_name =
        !name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != "..";
    if is_bare_name {
        for dir in dirs {
            let candidate = dir.join(format!("{name}.onnx"));
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    let available = available_styles(dirs);
    let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    Err(InferError::UnknownStyle {
        name: name.to_string(),
        available: if available.is_empty() {
            "none".into()
        } else {
            available.join(", ")
        },
        searched: if searched.is_empty() {
            "no models directory found (./models, $FAUVE_MODELS)".into()
        } else {
            searched.join(", ")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_styles_in_order_and_lists_them_when_unknown() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        std::fs::write(first.path().join("candy.onnx"), b"").unwrap();
        std::fs::write(second.path().join("candy.onnx"), b"").unwrap();
        std::fs::write(second.path().join("mosaic.onnx"), b"").unwrap();
        let dirs = vec![first.path().to_path_buf(), second.path().to_path_buf()];
        assert_eq!(
            find_style_in("candy", &dirs).unwrap(),
            first.path().join("candy.onnx")
        );
        assert_eq!(
            find_style_in("mosaic", &dirs).unwrap(),
            second.path().join("mosaic.onnx")
        );
        let err = find_style_in("udnie", &dirs).unwrap_err().to_string();
        assert!(
            err.contains("udnie") && err.contains("candy, mosaic"),
            "{err}"
        );
        assert!(find_style_in("../candy", &dirs).is_err());
    }
}
