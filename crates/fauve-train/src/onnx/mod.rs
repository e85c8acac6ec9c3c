//! ONNX export of [`TransformerNet`], verified against ONNX Runtime before it is kept.
//!
//! burn reads ONNX but does not write it, so the file is assembled here from hand-declared
//! protobuf messages ([`proto`]) with a small node builder ([`graph`]). An export is written
//! to a temporary file beside the destination, run in ONNX Runtime on deterministic images
//! of awkward sizes, compared with the burn forward pass, and only then renamed into place:
//! a failed export leaves nothing at the destination.

pub mod graph;
pub mod import;
pub mod proto;
pub mod provenance;
pub mod transformer_graph;
pub mod verify;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use prost::Message;

pub use import::{ImportedModel, import_transformer};
pub use provenance::{Provenance, SizeStage};
pub use transformer_graph::{INPUT_NAME, OUTPUT_NAME, transformer_graph};
pub use verify::{DEFAULT_TOLERANCE, ParityError, check_parity, test_image};

use crate::transformer::{MIN_SIDE, TransformerNet};
use proto::ModelProto;

/// Image sizes `(width, height)` a dynamic-size export is checked on. Between them the
/// sides cover every remainder modulo 4 (67≡3, 45≡1, 38≡2, 22≡2), i.e. every way the
/// stride-2 encoder and the ×2-and-crop decoder can round.
pub const DEFAULT_CHECK_SIZES: [(u32, u32); 2] = [(67, 45), (38, 22)];

/// How to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Written to the file's `metadata_props`.
    pub provenance: Provenance,
    /// `Some((width, height))`: a static `1×3×height×width` input and output (for runtimes or
    /// tools that want fixed shapes). `None`: batch, height and width are symbolic.
    pub fixed_size: Option<(u32, u32)>,
    /// Largest tolerated |ONNX Runtime − burn| on the 0–255 scale.
    pub tolerance: f32,
    /// Sizes checked for a dynamic export (a fixed-size export is checked at its size only).
    pub check_sizes: Vec<(u32, u32)>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            provenance: Provenance::default(),
            fixed_size: None,
            tolerance: DEFAULT_TOLERANCE,
            check_sizes: DEFAULT_CHECK_SIZES.to_vec(),
        }
    }
}

impl ExportOptions {
    /// The sizes the parity check will run at.
    pub fn sizes_to_check(&self) -> Vec<(u32, u32)> {
        match self.fixed_size {
            Some(size) => vec![size],
            None => self.check_sizes.clone(),
        }
    }
}

/// What a successful export wrote and measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExportReport {
    pub path: PathBuf,
    pub bytes: u64,
    /// Largest |ONNX Runtime − burn| seen over all checked sizes (0–255 scale).
    pub max_abs_diff: f32,
    /// `(width, height)` of the images compared.
    pub checked_sizes: Vec<(u32, u32)>,
}

/// The ONNX model of `net` with `options`' provenance and shape (not written anywhere).
pub fn transformer_model(net: &TransformerNet, options: &ExportOptions) -> Result<ModelProto> {
    if let Some((w, h)) = options.fixed_size {
        ensure!(
            w >= MIN_SIDE && h >= MIN_SIDE,
            "fixed size {w}×{h} is below the network's minimum {MIN_SIDE}×{MIN_SIDE}"
        );
    }
    let graph = transformer_graph(net, options.fixed_size).context("building the ONNX graph")?;
    let mut model = graph::model(
        graph,
        env!("CARGO_PKG_VERSION"),
        options.provenance.to_metadata(),
    );
    model.doc_string = "fauve fast style transfer network (Johnson et al. 2016, instance norm): \
                        float32 NCHW RGB 0-255 in, same size out, unclamped"
        .to_owned();
    Ok(model)
}

/// Exports `net` to `path`: builds the model, then [`write_verified`] against `net` itself.
pub fn export_transformer(
    net: &TransformerNet,
    path: &Path,
    options: &ExportOptions,
) -> Result<ExportReport> {
    let model = transformer_model(net, options)?;
    write_verified(&model, net, path, options)
}

/// Writes `model` to a temporary file beside `path`, checks it against `reference` with
/// [`check_parity`] at [`ExportOptions::sizes_to_check`], and renames it to `path` only if
/// the check passes. On any failure the temporary file is removed and `path` is untouched.
pub fn write_verified(
    model: &ModelProto,
    reference: &TransformerNet,
    path: &Path,
    options: &ExportOptions,
) -> Result<ExportReport> {
    let sizes = options.sizes_to_check();
    for &(w, h) in &sizes {
        ensure!(
            w >= MIN_SIDE && h >= MIN_SIDE,
            "check size {w}×{h} is below the network's minimum {MIN_SIDE}×{MIN_SIDE}"
        );
    }
    let temp = write_temp_beside(model, path)?;
    let max_abs_diff = check_parity(temp.path(), reference, &sizes, options.tolerance)
        .with_context(|| {
            format!(
                "{}: export not kept, the parity check failed",
                path.display()
            )
        })?;
    let file = temp.persist(path).map_err(|e| e.error).with_context(|| {
        format!(
            "{}: cannot move the verified export into place",
            path.display()
        )
    })?;
    let bytes = file.metadata().map(|m| m.len()).unwrap_or_default();
    tracing::debug!(path = %path.display(), bytes, max_abs_diff, "ONNX export verified");
    Ok(ExportReport {
        path: path.to_path_buf(),
        bytes,
        max_abs_diff,
        checked_sizes: sizes,
    })
}

/// Writes `model` to `path` without any check (temp file + rename, so never half-written).
/// For fixtures and tools; exports of trained networks go through [`write_verified`].
pub fn write_model(model: &ModelProto, path: &Path) -> Result<()> {
    let temp = write_temp_beside(model, path)?;
    temp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("{}: cannot move the model into place", path.display()))?;
    Ok(())
}

/// Reads and decodes an ONNX file (unknown fields are skipped).
pub fn read_model(path: &Path) -> Result<ModelProto> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    ModelProto::decode(bytes.as_slice())
        .with_context(|| format!("{}: not a valid ONNX protobuf", path.display()))
}

fn write_temp_beside(model: &ModelProto, path: &Path) -> Result<tempfile::NamedTempFile> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    ensure!(
        dir.is_dir(),
        "{}: the destination directory {} does not exist",
        path.display(),
        dir.display()
    );
    let mut temp = tempfile::Builder::new()
        .prefix(".fauve-export-")
        .suffix(".onnx.tmp")
        .tempfile_in(dir)
        .with_context(|| format!("{}: cannot create a temporary file", dir.display()))?;
    temp.write_all(&model.encode_to_vec())
        .and_then(|()| temp.as_file().sync_all())
        .with_context(|| format!("{}: cannot write the model", temp.path().display()))?;
    // Temporary files are created owner-only; a model is an ordinary shareable file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("{}: cannot set permissions", temp.path().display()))?;
    }
    Ok(temp)
}
