//! Reading an exported model back into a [`TransformerNet`]: the exporter's inverse.
//!
//! Why: an ONNX file is what survives of a run once its checkpoints are gone (a wiped scratch
//! disk, a model shipped without them). With its weights and embedded provenance (config,
//! steps per crop size) `fauve train --init-from` carries its training on; only Adam's moment
//! estimates are lost.
//!
//! Parameters are matched by name (the exporter names initializers after the module paths,
//! `res3.conv1.conv2d.weight`, `in4.weight`…) and shape, so any other file, or one with a
//! layer missing, is refused with the layer named rather than loaded half.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;

use super::proto::{TensorProto, data_type};
use super::{Provenance, read_model};
use crate::averaging::with_values;
use crate::transformer::{JOHNSON_RESIDUAL_BLOCKS, TransformerNet, TransformerNetConfig};

/// A model read back: the network and where it came from.
#[derive(Debug)]
pub struct ImportedModel {
    pub network: TransformerNet,
    pub provenance: Provenance,
}

/// Reads the fauve model at `path` into a network on `device`.
pub fn import_transformer(path: &Path, device: &Device) -> Result<ImportedModel> {
    let model = read_model(path)?;
    let metadata: BTreeMap<String, String> = model
        .metadata_props
        .iter()
        .map(|p| (p.key.clone(), p.value.clone()))
        .collect();
    let provenance = Provenance::from_metadata(&metadata)
        .with_context(|| format!("{}: its provenance", path.display()))?;
    let graph = model
        .graph
        .with_context(|| format!("{}: the model has no graph", path.display()))?;
    let initializers = graph
        .initializer
        .into_iter()
        .filter(|t| t.data_type == Some(data_type::FLOAT))
        .map(|t| (t.name.clone(), t))
        .collect();
    let mut loader = NamedParams {
        initializers,
        path: Vec::new(),
        error: None,
    };
    // As many residual blocks as the file names (`res1`…`resN`); one missing in between is
    // then refused by name below, rather than the blocks after it left out.
    let blocks = loader
        .initializers
        .keys()
        .filter_map(|name| {
            name.strip_prefix("res")?
                .split_once('.')?
                .0
                .parse::<usize>()
                .ok()
        })
        .max()
        .unwrap_or(0)
        .max(JOHNSON_RESIDUAL_BLOCKS);
    let network = TransformerNetConfig::new()
        .with_residual_blocks(blocks)
        .init(device)
        .map(&mut loader);
    if let Some(error) = loader.error {
        bail!("{}: not a fauve style network: {error}", path.display());
    }
    Ok(ImportedModel {
        network,
        provenance,
    })
}

/// Replaces each float parameter with the initializer of the same name, recording the first
/// mismatch (the mapper cannot fail, so the error is checked after the walk).
struct NamedParams {
    initializers: HashMap<String, TensorProto>,
    path: Vec<String>,
    error: Option<String>,
}

impl NamedParams {
    /// The ONNX name of the parameter at the current path. Instance norms call their scale and
    /// shift `gamma` and `beta` in burn, `weight` and `bias` in PyTorch and in the export;
    /// blocks after the fifth (`extra_res.0`…) are `res6`… there.
    fn onnx_name(&self) -> String {
        let mut parts: Vec<String> = self.path.clone();
        if parts.len() > 1 && parts[0] == "extra_res" {
            if let Ok(i) = parts[1].parse::<usize>() {
                let block = format!("res{}", JOHNSON_RESIDUAL_BLOCKS + 1 + i);
                parts.splice(0..2, [block]);
            }
        }
        let mut parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        if let Some(last) = parts.last_mut() {
            *last = match *last {
                "gamma" => "weight",
                "beta" => "bias",
                other => other,
            };
        }
        parts.join(".")
    }

    fn values(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, String> {
        let tensor = self
            .initializers
            .get(name)
            .ok_or_else(|| format!("it has no float initializer `{name}`"))?;
        let dims: Vec<usize> = tensor.dims.iter().map(|&d| d as usize).collect();
        if dims != shape {
            return Err(format!(
                "`{name}` has shape {dims:?} where the network has {shape:?}"
            ));
        }
        let values: Vec<f32> = match &tensor.raw_data {
            Some(raw) => raw
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            None => tensor.float_data.clone(),
        };
        if values.len() != shape.iter().product::<usize>() {
            return Err(format!(
                "`{name}` holds {} values for shape {shape:?}",
                values.len()
            ));
        }
        if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
            return Err(format!("`{name}` holds a non-finite value ({bad})"));
        }
        Ok(values)
    }
}

impl ModuleMapper for NamedParams {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_owned());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if self.error.is_some() {
            return param;
        }
        let name = self.onnx_name();
        let shape = param.val().dims().to_vec();
        match self.values(&name, &shape) {
            Ok(values) => with_values(param, values),
            Err(error) => {
                self.error = Some(error);
                param
            }
        }
    }
}

/// The steps `provenance` says the network was trained, checked against its per-size record.
pub fn trained_steps(provenance: &Provenance) -> Result<u64> {
    let steps = provenance
        .iterations
        .context("the model does not say how many steps it was trained (fauve.iterations)")?;
    if let Some(stages) = &provenance.size_stages {
        let staged: u64 = stages.iter().map(|s| s.steps).sum();
        ensure!(
            staged == steps,
            "the model's steps per crop size add up to {staged}, not its {steps} iterations"
        );
    }
    Ok(steps)
}
