//! Logging: human-readable lines on stderr, plus (for long jobs such as training) a full log
//! file that can be switched on once the run folder is known.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{EnvFilter, fmt};

static LOG_FILE: Mutex<Option<File>> = Mutex::new(None);

/// Installs the global subscriber. `verbose`: 0 info for fauve, 1 debug, 2+ trace.
pub fn init(verbose: u8) {
    let default_level = match verbose {
        0 => "warn,fauve=info,fauve_cli=info,fauve_infer=info,fauve_train=info",
        1 => "info,fauve_cli=debug,fauve_infer=debug,fauve_train=debug",
        _ => "trace",
    };
    let stderr_filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let stderr = fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_filter(stderr_filter);
    let file = fmt::layer()
        .with_ansi(false)
        .with_writer(|| FileSink)
        .with_filter(EnvFilter::new(
            "info,fauve_cli=debug,fauve_infer=debug,fauve_train=debug",
        ))
        .with_filter(LevelFilter::DEBUG);
    tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .init();
}

/// Also writes every log line to `path` (appending) until the guard is dropped.
pub fn log_to_file(path: &Path) -> Result<LogFileGuard> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("{}: cannot open the log file", path.display()))?;
    *LOG_FILE.lock().expect("log file lock") = Some(file);
    Ok(LogFileGuard)
}

pub struct LogFileGuard;

impl Drop for LogFileGuard {
    fn drop(&mut self) {
        if let Some(mut file) = LOG_FILE.lock().expect("log file lock").take() {
            let _ = file.flush();
        }
    }
}

struct FileSink;

impl Write for FileSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match LOG_FILE.lock().expect("log file lock").as_mut() {
            Some(file) => file.write(buf),
            None => Ok(buf.len()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match LOG_FILE.lock().expect("log file lock").as_mut() {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}
