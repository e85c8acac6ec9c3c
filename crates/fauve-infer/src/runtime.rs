//! Finding libonnxruntime and initialising ONNX Runtime once per process.
//!
//! `ort` is built with `load-dynamic`: nothing is linked at build time and no binary is
//! downloaded, so at run time we must find a `libonnxruntime.so` ourselves. The one that is
//! easiest to install anywhere is the one inside the `onnxruntime` PyPI wheel
//! (`onnxruntime/capi/libonnxruntime.so.1.x.y`), so besides `ORT_DYLIB_PATH` and the
//! executable's directory we look where pip puts it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use ort::environment::Environment;

use crate::error::InferError;

/// How to get a runtime, repeated in every "not found" error so the fix is one copy-paste away.
pub const INSTALL_HINT: &str = "install it with `python3 -m pip install onnxruntime==1.32.0` \
    (or `onnxruntime-gpu==1.32.0` for CUDA), or point ORT_DYLIB_PATH at a libonnxruntime.so";

/// The process-wide ONNX Runtime: the library it was loaded from and its environment.
#[derive(Debug)]
pub struct Runtime {
    pub library: PathBuf,
    pub environment: Environment,
}

/// ONNX Runtime can be loaded only once per process (it's a global `dlopen` plus one
/// environment), so the outcome — success or the error message — is remembered.
static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// Returns the process's ONNX Runtime, loading it on first use.
pub fn runtime() -> Result<&'static Runtime, InferError> {
    RUNTIME
        .get_or_init(init)
        .as_ref()
        .map_err(|reason| InferError::Runtime(reason.clone()))
}

/// Errors are plain messages: they are stored for the life of the process and wrapped in
/// [`InferError::Runtime`] each time they are returned.
fn init() -> Result<Runtime, String> {
    let library =
        find_library().ok_or_else(|| format!("libonnxruntime was not found; {INSTALL_HINT}"))?;
    tracing::debug!(library = %library.display(), "loading ONNX Runtime");
    let builder = ort::init_from(&library).map_err(|e| {
        format!(
            "could not load ONNX Runtime from {}: {e}; {INSTALL_HINT}",
            library.display()
        )
    })?;
    let environment = builder
        .with_name("fauve")
        .with_telemetry(false)
        .build()
        .map_err(|e| {
            format!(
                "could not create an ONNX Runtime environment from {}: {e}",
                library.display()
            )
        })?;
    Ok(Runtime {
        library,
        environment,
    })
}

/// The first libonnxruntime found, in the documented order.
pub fn find_library() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        // An explicit choice is honoured even if wrong: loading it then reports why it failed,
        // which is more useful than silently picking another runtime.
        return Some(PathBuf::from(path));
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        && let Some(lib) = library_in(&dir)
    {
        return Some(lib);
    }
    for capi in candidate_capi_dirs() {
        if let Some(lib) = library_in(&capi) {
            return Some(lib);
        }
    }
    python_capi_dir().and_then(|capi| library_in(&capi))
}

/// `libonnxruntime.so*` in `dir`, preferring the most specific (versioned) name, since the
/// wheel ships only `libonnxruntime.so.1.32.0` and no unversioned symlink.
fn library_in(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.is_file()
                && path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(is_runtime_library_name)
        })
        .collect();
    found.sort();
    found.pop()
}

fn is_runtime_library_name(name: &str) -> bool {
    if cfg!(target_os = "macos") {
        name.starts_with("libonnxruntime.") && name.ends_with(".dylib")
    } else if cfg!(windows) {
        name.eq_ignore_ascii_case("onnxruntime.dll")
    } else {
        name == "libonnxruntime.so" || name.starts_with("libonnxruntime.so.")
    }
}

/// `onnxruntime/capi` folders under the usual Python prefixes, in the documented order.
/// `onnxruntime-gpu` installs the same `onnxruntime/` package, so it is found too.
fn candidate_capi_dirs() -> Vec<PathBuf> {
    let mut site_packages: Vec<PathBuf> = Vec::new();
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV") {
        site_packages.extend(glob_dirs(&format!(
            "{}/lib/python3*/site-packages",
            venv.to_string_lossy()
        )));
    }
    if let Some(home) = std::env::var_os("HOME") {
        let home = home.to_string_lossy();
        site_packages.extend(glob_dirs(&format!(
            "{home}/.local/lib/python3*/site-packages"
        )));
        site_packages.extend(glob_dirs(&format!(
            "{home}/.pyenv/versions/*/lib/python3*/site-packages"
        )));
    }
    site_packages.extend(glob_dirs("/usr/local/lib/python3*/site-packages"));
    site_packages.extend(glob_dirs("/usr/local/lib/python3*/dist-packages"));
    site_packages.push(PathBuf::from("/usr/lib/python3/dist-packages"));
    site_packages
        .into_iter()
        .map(|dir| dir.join("onnxruntime").join("capi"))
        .collect()
}

/// Directories matching a `*` pattern, newest-looking (lexically last) first.
fn glob_dirs(pattern: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = match glob::glob(pattern) {
        Ok(paths) => paths
            .filter_map(Result::ok)
            .filter(|p| p.is_dir())
            .collect(),
        Err(_) => Vec::new(),
    };
    dirs.sort();
    dirs.reverse();
    dirs
}

/// Last resort: ask the `python3` on PATH where its `onnxruntime` package lives.
fn python_capi_dir() -> Option<PathBuf> {
    let output = Command::new("python3")
        .args([
            "-c",
            "import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))",
        ])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let dir = String::from_utf8(output.stdout).ok()?;
    Some(PathBuf::from(dir.trim()).join("capi"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_versioned_and_plain_library_names() {
        assert!(is_runtime_library_name("libonnxruntime.so"));
        assert!(is_runtime_library_name("libonnxruntime.so.1.32.0"));
        assert!(!is_runtime_library_name(
            "libonnxruntime_providers_shared.so"
        ));
    }

    #[test]
    fn library_in_prefers_the_versioned_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("libonnxruntime_providers_shared.so"), b"").unwrap();
        std::fs::write(dir.path().join("libonnxruntime.so.1.32.0"), b"").unwrap();
        let found = library_in(dir.path()).unwrap();
        assert_eq!(found.file_name().unwrap(), "libonnxruntime.so.1.32.0");
    }

    #[test]
    fn library_in_an_empty_dir_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(library_in(dir.path()).is_none());
    }
}
