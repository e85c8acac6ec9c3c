//! Training checkpoints: the network, Adam's state and where the run stands, in one file that
//! is written atomically and checked on load.
//!
//! Layout: `FAUVECK1`, then three length-prefixed blocks (JSON header, burn module record,
//! burn optimizer record), then a CRC-32 of everything before it. Written to a temporary file
//! in the same folder, synced, then renamed: a crash or a full disk can leave a stray temporary
//! file but never a half-written checkpoint under a checkpoint's name.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use burn::module::Module;
use burn::optim::{ModuleOptimizer, OptimizerRecord};
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::onnx::SizeStage;
use crate::transformer::{TransformerNet, TransformerNetConfig};

const MAGIC: &[u8; 8] = b"FAUVECK1";
const PREFIX: &str = "step-";
const EXTENSION: &str = "ckpt";

/// Where a run stands: everything besides the tensors that `--resume` needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointHeader {
    /// Steps completed; training resumes at this step index.
    pub step: u64,
    /// The effective config (TOML) the run was started with.
    pub config: String,
    /// Wall time spent training so far, across resumes.
    pub elapsed_secs: f64,
    /// Unreadable photos skipped so far.
    pub skipped_images: usize,
    /// The last step's losses (content, style, tv, total), for the record.
    pub losses: [f32; 4],
    /// Steps per crop size so far, in order. Empty in checkpoints written before fauve
    /// recorded it, when every step was at the embedded config's size (see
    /// [`CheckpointHeader::size_stages`]).
    #[serde(default)]
    pub size_stages: Vec<SizeStage>,
}

impl CheckpointHeader {
    /// The steps per crop size that led to this checkpoint.
    pub fn size_stages(&self) -> Result<Vec<SizeStage>> {
        if !self.size_stages.is_empty() {
            return Ok(self.size_stages.clone());
        }
        let config =
            TrainConfig::from_toml(&self.config).context("the checkpoint's embedded config")?;
        Ok(vec![SizeStage {
            image_size: config.data.image_size,
            steps: self.step,
        }])
    }
}

/// A checkpoint read back from disk.
pub struct Checkpoint {
    pub header: CheckpointHeader,
    model: Vec<u8>,
    optimizer: Vec<u8>,
}

impl Checkpoint {
    /// The network with the checkpoint's weights (and parameter ids, which Adam's state uses).
    pub fn network(&self, device: &Device) -> Result<TransformerNet> {
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(self.model.clone()))
            .map_err(|e| anyhow::anyhow!("model record: {e}"))?;
        let config = TrainConfig::from_toml(&self.header.config)
            .context("the checkpoint's embedded config")?;
        TransformerNetConfig::new()
            .with_residual_blocks(config.network.residual_blocks)
            .init(device)
            .try_load_record(record)
            .map_err(|e| anyhow::anyhow!("model record does not fit TransformerNet: {e}"))
    }

    /// Applies the saved Adam state to a fresh optimizer.
    pub fn restore_optimizer(&self, optimizer: ModuleOptimizer) -> Result<ModuleOptimizer> {
        let record = OptimizerRecord::from_bytes(Bytes::from_bytes_vec(self.optimizer.clone()))
            .map_err(|e| anyhow::anyhow!("optimizer record: {e}"))?;
        Ok(optimizer.load_record(record))
    }

    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("{}: cannot read checkpoint", path.display()))?;
        Self::decode(&bytes)
            .with_context(|| format!("{}: not a valid fauve checkpoint", path.display()))
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        ensure!(
            bytes.len() >= MAGIC.len() + 4 && &bytes[..8] == MAGIC,
            "wrong magic (not a checkpoint)"
        );
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        let stored = u32::from_le_bytes(crc.try_into().expect("4 bytes"));
        ensure!(
            crc32fast::hash(body) == stored,
            "checksum mismatch (truncated or corrupted)"
        );
        let mut rest = &body[8..];
        let mut block = || -> Result<Vec<u8>> {
            ensure!(rest.len() >= 8, "truncated");
            let (len, tail) = rest.split_at(8);
            let len = u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize;
            ensure!(tail.len() >= len, "truncated");
            let (data, tail) = tail.split_at(len);
            rest = tail;
            Ok(data.to_vec())
        };
        let header: CheckpointHeader = serde_json::from_slice(&block()?).context("header")?;
        let model = block()?;
        let optimizer = block()?;
        Ok(Self {
            header,
            model,
            optimizer,
        })
    }
}

/// Writes the checkpoint of step `header.step` into `dir` atomically, then keeps only the
/// newest `keep` checkpoints. Returns the checkpoint's path.
pub fn save(
    dir: &Path,
    header: &CheckpointHeader,
    network: &TransformerNet,
    optimizer: &ModuleOptimizer,
    keep: usize,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let model = network
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| anyhow::anyhow!("serialising the network: {e}"))?;
    let optim = optimizer
        .to_record()
        .into_bytes()
        .map_err(|e| anyhow::anyhow!("serialising the optimizer: {e}"))?;
    let mut body = Vec::with_capacity(model.len() + optim.len() + 1024);
    body.extend_from_slice(MAGIC);
    for block in [&serde_json::to_vec(header)?[..], &model[..], &optim[..]] {
        body.extend_from_slice(&(block.len() as u64).to_le_bytes());
        body.extend_from_slice(block);
    }
    body.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());

    let path = dir.join(format!("{PREFIX}{:08}.{EXTENSION}", header.step));
    write_atomically(&path, &body)?;
    prune(dir, keep)?;
    Ok(path)
}

/// Writes `bytes` to `path` through a synced temporary file in the same folder and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".fauve-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("{}: cannot create a temporary file", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("{}: write failed", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("{}: cannot rename into place", path.display()))?;
    Ok(())
}

/// The checkpoints in `dir`, oldest first.
pub fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot list", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| step_of(&p).map(|s| (s, p)))
        .collect();
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// The newest checkpoint in `dir`, if any.
pub fn latest(dir: &Path) -> Result<Option<PathBuf>> {
    Ok(list(dir)?.pop())
}

fn step_of(path: &Path) -> Option<u64> {
    if path.extension()? != EXTENSION {
        return None;
    }
    path.file_stem()?
        .to_str()?
        .strip_prefix(PREFIX)?
        .parse()
        .ok()
}

fn prune(dir: &Path, keep: usize) -> Result<()> {
    let all = list(dir)?;
    if keep == 0 {
        bail!("keep_checkpoints must be at least 1");
    }
    for old in &all[..all.len().saturating_sub(keep)] {
        std::fs::remove_file(old).with_context(|| format!("{}: cannot remove", old.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_from_before_size_stages_puts_every_step_at_the_config_size() {
        let mut config = TrainConfig::default();
        config.data.image_size = 192;
        let old = serde_json::json!({
            "step": 70, "config": config.to_toml(), "elapsed_secs": 1.0,
            "skipped_images": 0, "losses": [1.0, 2.0, 0.0, 3.0],
        });
        let header: CheckpointHeader = serde_json::from_value(old).unwrap();
        assert!(header.size_stages.is_empty());
        assert_eq!(
            header.size_stages().unwrap(),
            vec![SizeStage {
                image_size: 192,
                steps: 70
            }]
        );
    }
}
