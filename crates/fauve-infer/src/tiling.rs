//! Large images by tiling, with instance-norm statistics taken from the whole image.
//!
//! Running the network on a 6000×4000 photo in one piece needs tens of gigabytes of
//! activations. Cutting the photo into tiles bounds memory by the tile size, but a naive cut
//! shows seams: every `InstanceNormalization` normalises a tile with that tile's own
//! mean and variance, so a sky tile and a tree tile come out in different "exposures".
//!
//! The fix is to normalise every tile with the statistics of the whole image. At load time
//! the model's ONNX graph is rewritten into two graphs ([`TiledModel::build`]):
//!
//! 1. the **statistics graph**: the network up to its last instance norm, with the per-channel
//!    mean and (biased) variance of every instance norm's input as outputs;
//! 2. the **tile graph**: the network with every `InstanceNormalization(x, γ, β)` replaced by
//!    `x · a + c`, where `a = γ / √(var + ε)` and `c = β − mean · a` are graph inputs of shape
//!    `[1, C, 1, 1]`, computed here from the statistics of pass 1.
//!
//! Pass 1 runs the statistics graph on the whole image, or, when the image has more pixels
//! than the budget ([`TilingOptions::above_pixels`]), on a copy downscaled to fit it (the
//! statistics are then those of the downscaled image: an approximation, see the README's
//! "Large images"). Pass 2 runs the tile graph on overlapping tiles and blends them with
//! feathered weights, one row of tiles at a time, so the f32 buffers hold one band of rows.
//!
//! Why overlap: reflection padding at a tile's border is not what the network saw in the
//! whole image, and its influence reaches as far as the receptive field (±54 pixels for the
//! Johnson network: 9×9, two stride-2 3×3, ten 3×3 at quarter resolution, two upsampling
//! 3×3, 9×9). Tiles overlap by [`DEFAULT_OVERLAP`] pixels; the outer part of each overlap is
//! discarded and the middle is cross-faded linearly. Tile origins are multiples of
//! [`ALIGN`] so the network's two stride-2 downsamplings see the same pixel grid in a tile as
//! in the whole image. With global statistics, alignment and enough margin, a tile computes
//! exactly what the untiled network computes at its centre pixels.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

use ort::session::{Session, SessionInputValue};
use ort::value::TensorRef;
use prost::Message;

use crate::convert::{rgb_to_tensor, tensor_to_rgb};
use crate::onnx_proto::{
    AttributeProto, AttributeType, GraphProto, ModelProto, NodeProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, data_type, tensor_shape_proto, type_proto,
};
use crate::tensor::ImageTensor;

/// Tile side used when tiling is automatic (`--tile` not given).
pub const DEFAULT_TILE: u32 = 1024;
/// Images with more pixels than this are tiled automatically (2048² = 4.2 MP). This is also
/// the pixel budget of the statistics pass: bigger images are downscaled to it for pass 1.
pub const DEFAULT_TILE_ABOVE_PIXELS: u64 = 2048 * 2048;
/// Pixels shared by neighbouring tiles.
pub const DEFAULT_OVERLAP: u32 = 128;
/// Tile origins are multiples of this: the product of the network's downsampling strides.
pub const ALIGN: u32 = 4;
/// Smallest tile side accepted.
pub const MIN_TILE: u32 = 64;

/// When and how to tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TilingOptions {
    /// `None`: automatic (tile with [`DEFAULT_TILE`] above `above_pixels`); `Some(0)`: never
    /// tile; `Some(n)`: always tile with n×n tiles.
    pub tile: Option<u32>,
    /// Automatic tiling threshold, and the pixel budget of the statistics pass.
    pub above_pixels: u64,
    /// Pixels shared by neighbouring tiles (the blended band plus the discarded margins).
    pub overlap: u32,
    /// For comparison only: normalise each tile with its own statistics (naive tiling,
    /// visible seams). Costs a statistics pass per tile.
    pub per_tile_statistics: bool,
}

impl Default for TilingOptions {
    fn default() -> Self {
        TilingOptions {
            tile: None,
            above_pixels: DEFAULT_TILE_ABOVE_PIXELS,
            overlap: DEFAULT_OVERLAP,
            per_tile_statistics: false,
        }
    }
}

impl TilingOptions {
    /// The tile side to use for a `width × height` image, or `None` to run it whole.
    pub fn tile_for(&self, width: u32, height: u32) -> Option<u32> {
        match self.tile {
            Some(0) => None,
            Some(n) => Some(n),
            None if u64::from(width) * u64::from(height) > self.above_pixels => Some(DEFAULT_TILE),
            None => None,
        }
    }

    /// Checks the combination, with a message naming the flags.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(tile) = self.tile.filter(|&t| t != 0) {
            if tile < MIN_TILE {
                return Err(format!(
                    "--tile {tile} is too small: tiles need at least {MIN_TILE} pixels a side (0 turns tiling off)"
                ));
            }
            if tile < self.overlap + MIN_TILE / 2 {
                return Err(format!(
                    "--tile {tile} must exceed the overlap ({} pixels) by at least {}",
                    self.overlap,
                    MIN_TILE / 2
                ));
            }
        }
        if self.above_pixels < u64::from(MIN_TILE * MIN_TILE) {
            return Err(format!(
                "--tile-above {} is too small: at least {} pixels",
                self.above_pixels,
                MIN_TILE * MIN_TILE
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Geometry
// ---------------------------------------------------------------------------------------

/// A range `[start, end)` of one axis covered by a tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn len(&self) -> u32 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// Tiles along one axis of length `len`: `tile` long (the last may be up to `ALIGN − 1`
/// longer), starts multiples of [`ALIGN`], spread evenly so that neighbours share at least
/// `overlap − ALIGN + 1` pixels, the first starting at 0 and the last ending at `len`.
pub fn spans(len: u32, tile: u32, overlap: u32) -> Vec<Span> {
    assert!(tile > overlap, "tile {tile} must exceed overlap {overlap}");
    if len <= tile {
        return vec![Span { start: 0, end: len }];
    }
    let stride = tile - overlap;
    let count = (len - overlap).div_ceil(stride);
    let last = u64::from(len - tile);
    let mut out: Vec<Span> = Vec::with_capacity(count as usize);
    for i in 0..count {
        let ideal = (last * u64::from(i) / u64::from(count - 1)) as u32;
        let start = ideal / ALIGN * ALIGN;
        let end = if i == count - 1 { len } else { start + tile };
        match out.last_mut() {
            // Alignment can round two starts to the same value: one tile, the later end.
            Some(previous) if previous.start == start => previous.end = end,
            _ => out.push(Span { start, end }),
        }
    }
    out
}

/// The feathering of an overlap of `overlap` pixels: `(margin, ramp)`. Each tile ignores the
/// `margin` pixels next to an inner edge (weight ~0), then its weight rises linearly over
/// `ramp` pixels. The ramp is the middle quarter of the overlap, so the margins are 3/8 of it
/// (48 pixels of the default 128, close to the network's 54-pixel reach, where what remains
/// of the border effect is tiny).
pub fn feathering(overlap: u32) -> (f32, f32) {
    let ramp = (overlap as f32 / 4.0).max(1.0);
    let margin = ((overlap as f32 - ramp) / 2.0).max(0.0);
    (margin, ramp)
}

/// Per span, the blending weight of each of its pixels: ramps at inner edges (none at the
/// image's borders), normalised so that at every position the weights of the covering spans
/// sum to 1. The 2-D weight of a tile is the product of its column and row weights, which
/// then also sums to 1 everywhere.
pub fn span_weights(spans: &[Span], len: u32, overlap: u32) -> Vec<Vec<f32>> {
    let (margin, ramp) = feathering(overlap);
    // Never exactly 0: a pixel only covered by tile margins (not possible with `spans`) still
    // gets a defined value.
    let edge = |distance: u32| ((distance as f32 + 0.5 - margin) / ramp).clamp(1e-6, 1.0);
    let mut weights: Vec<Vec<f32>> = spans
        .iter()
        .map(|s| {
            (s.start..s.end)
                .map(|x| {
                    let left = if s.start == 0 { 1.0 } else { edge(x - s.start) };
                    let right = if s.end == len {
                        1.0
                    } else {
                        edge(s.end - 1 - x)
                    };
                    left.min(right)
                })
                .collect()
        })
        .collect();
    let mut total = vec![0.0f32; len as usize];
    for (s, w) in spans.iter().zip(&weights) {
        for (t, v) in total[s.start as usize..s.end as usize].iter_mut().zip(w) {
            *t += v;
        }
    }
    for (s, w) in spans.iter().zip(&mut weights) {
        for (v, t) in w.iter_mut().zip(&total[s.start as usize..s.end as usize]) {
            *v /= t;
        }
    }
    weights
}

// ---------------------------------------------------------------------------------------
// Graph rewriting
// ---------------------------------------------------------------------------------------

const PREFIX: &str = "fauve.tiling";

/// One `InstanceNormalization` of the model, with the names the rewritten graphs give it.
#[derive(Debug, Clone)]
struct Norm {
    node_index: usize,
    x: String,
    y: String,
    gamma: Vec<f32>,
    beta: Vec<f32>,
    epsilon: f32,
    mean_output: String,
    var_output: String,
    scale_input: String,
    shift_input: String,
}

/// Per-channel statistics of one instance norm's input.
#[derive(Debug, Clone, PartialEq)]
pub struct NormStats {
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
}

/// The two rewritten models, as ONNX bytes.
struct Rewritten {
    stats: Vec<u8>,
    tile: Vec<u8>,
    norms: Vec<Norm>,
}

fn is_default_domain(domain: &str) -> bool {
    domain.is_empty() || domain == "ai.onnx"
}

fn float_values(t: &TensorProto) -> Option<Vec<f32>> {
    if t.data_type != Some(data_type::FLOAT) {
        return None;
    }
    match &t.raw_data {
        Some(raw) if !raw.is_empty() => {
            if raw.len() % 4 != 0 {
                return None;
            }
            Some(
                raw.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            )
        }
        _ => Some(t.float_data.clone()),
    }
}

fn float_type(dims: Option<&[i64]>) -> TypeProto {
    TypeProto {
        value: Some(type_proto::Value::TensorType(type_proto::Tensor {
            elem_type: Some(data_type::FLOAT),
            shape: dims.map(|dims| TensorShapeProto {
                dim: dims
                    .iter()
                    .map(|&d| tensor_shape_proto::Dimension {
                        value: Some(tensor_shape_proto::dimension::Value::DimValue(d)),
                        denotation: String::new(),
                    })
                    .collect(),
            }),
        })),
        denotation: String::new(),
    }
}

fn value_info(name: &str, dims: Option<&[i64]>) -> ValueInfoProto {
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(float_type(dims)),
        doc_string: String::new(),
    }
}

fn node(
    op: &str,
    name: &str,
    inputs: &[&str],
    output: &str,
    attributes: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.to_string()],
        name: name.to_string(),
        op_type: op.to_string(),
        domain: String::new(),
        attribute: attributes,
        doc_string: String::new(),
    }
}

fn attribute_int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: Some(AttributeType::Int as i32),
        i: Some(value),
        ..Default::default()
    }
}

fn attribute_ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: Some(AttributeType::Ints as i32),
        ints: values.to_vec(),
        ..Default::default()
    }
}

/// `ReduceMean(x)` over H and W, keeping dims: axes are an attribute before opset 18, an
/// input from 18 on.
fn reduce_mean(opset: i64, name: &str, x: &str, output: &str, axes_name: &str) -> NodeProto {
    if opset >= 18 {
        node(
            "ReduceMean",
            name,
            &[x, axes_name],
            output,
            vec![attribute_int("keepdims", 1)],
        )
    } else {
        node(
            "ReduceMean",
            name,
            &[x],
            output,
            vec![
                attribute_ints("axes", &[2, 3]),
                attribute_int("keepdims", 1),
            ],
        )
    }
}

/// Drops the nodes and initializers no graph output depends on. Graphs with subgraphs
/// (If/Loop/Scan) are left whole: their captured names are not tracked.
fn prune(graph: &mut GraphProto) {
    if graph.node.iter().any(|n| {
        n.attribute
            .iter()
            .any(|a| a.g.is_some() || !a.graphs.is_empty())
    }) {
        return;
    }
    let mut needed: HashSet<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    let mut keep = vec![false; graph.node.len()];
    for (i, n) in graph.node.iter().enumerate().rev() {
        if n.output.iter().any(|o| needed.contains(o)) {
            keep[i] = true;
            needed.extend(n.input.iter().filter(|s| !s.is_empty()).cloned());
        }
    }
    let mut index = 0;
    graph.node.retain(|_| {
        index += 1;
        keep[index - 1]
    });
    graph.initializer.retain(|t| needed.contains(&t.name));
}

/// Builds the statistics and tile graphs of `bytes` (see the module docs).
fn rewrite(bytes: &[u8]) -> Result<Rewritten, String> {
    let model =
        ModelProto::decode(bytes).map_err(|e| format!("cannot parse the ONNX file: {e}"))?;
    // Our messages declare only part of onnx.proto; fields they lack would silently vanish
    // in the rewritten models. A re-encoding of the same size means nothing was dropped.
    if model.encoded_len() != bytes.len() {
        return Err(format!(
            "the model uses ONNX fields fauve's tiler does not handle (re-encoded {} of {} bytes)",
            model.encoded_len(),
            bytes.len()
        ));
    }
    let opset = model
        .opset_import
        .iter()
        .find(|o| is_default_domain(&o.domain))
        .and_then(|o| o.version)
        .unwrap_or(1);
    let graph = model.graph.as_ref().ok_or("the model has no graph")?;
    let initializers: HashMap<&str, &TensorProto> = graph
        .initializer
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();

    let mut norms = Vec::new();
    for (node_index, n) in graph.node.iter().enumerate() {
        if n.op_type != "InstanceNormalization" || !is_default_domain(&n.domain) {
            continue;
        }
        let label = if n.name.is_empty() {
            n.output.first().cloned().unwrap_or_default()
        } else {
            n.name.clone()
        };
        let ([x, scale, bias], [y]) = (n.input.as_slice(), n.output.as_slice()) else {
            return Err(format!(
                "InstanceNormalization {label:?} does not have 3 inputs and 1 output"
            ));
        };
        let constant = |name: &str| {
            initializers
                .get(name)
                .and_then(|t| float_values(t))
                .ok_or_else(|| {
                    format!("InstanceNormalization {label:?}: {name:?} is not a float initializer")
                })
        };
        let (gamma, beta) = (constant(scale)?, constant(bias)?);
        if gamma.len() != beta.len() || gamma.is_empty() {
            return Err(format!(
                "InstanceNormalization {label:?}: scale and bias sizes differ"
            ));
        }
        let epsilon = n
            .attribute
            .iter()
            .find(|a| a.name == "epsilon")
            .and_then(|a| a.f)
            .unwrap_or(1e-5);
        let k = norms.len();
        norms.push(Norm {
            node_index,
            x: x.clone(),
            y: y.clone(),
            gamma,
            beta,
            epsilon,
            mean_output: format!("{PREFIX}.{k}.mean"),
            var_output: format!("{PREFIX}.{k}.var"),
            scale_input: format!("{PREFIX}.{k}.scale"),
            shift_input: format!("{PREFIX}.{k}.shift"),
        });
    }

    let axes_name = format!("{PREFIX}.axes");
    let mut stats = model.clone();
    let g = stats.graph.as_mut().expect("checked above");
    let mut nodes = Vec::with_capacity(g.node.len() + 4 * norms.len());
    let mut pending = norms.iter().peekable();
    for (i, original) in std::mem::take(&mut g.node).into_iter().enumerate() {
        nodes.push(original);
        if let Some(norm) = pending.next_if(|n| n.node_index == i) {
            // Right after the norm, so the runtime can free x as in the original network.
            let centred = format!("{}.centred", norm.mean_output);
            let squared = format!("{}.squared", norm.mean_output);
            nodes.push(reduce_mean(
                opset,
                &norm.mean_output,
                &norm.x,
                &norm.mean_output,
                &axes_name,
            ));
            nodes.push(node(
                "Sub",
                &centred,
                &[&norm.x, &norm.mean_output],
                &centred,
                vec![],
            ));
            nodes.push(node(
                "Mul",
                &squared,
                &[&centred, &centred],
                &squared,
                vec![],
            ));
            nodes.push(reduce_mean(
                opset,
                &norm.var_output,
                &squared,
                &norm.var_output,
                &axes_name,
            ));
        }
    }
    g.node = nodes;
    if opset >= 18 {
        g.initializer.push(TensorProto {
            dims: vec![2],
            data_type: Some(data_type::INT64),
            name: axes_name.clone(),
            raw_data: Some([2i64, 3].iter().flat_map(|v| v.to_le_bytes()).collect()),
            ..Default::default()
        });
    }
    g.output = norms
        .iter()
        .flat_map(|n| {
            [
                value_info(&n.mean_output, None),
                value_info(&n.var_output, None),
            ]
        })
        .collect();
    prune(g);

    let mut tile = model;
    let g = tile.graph.as_mut().expect("checked above");
    let mut nodes = Vec::with_capacity(g.node.len() + norms.len());
    let mut pending = norms.iter().peekable();
    for (i, original) in std::mem::take(&mut g.node).into_iter().enumerate() {
        match pending.next_if(|n| n.node_index == i) {
            Some(norm) => {
                let scaled = format!("{}.scaled", norm.scale_input);
                nodes.push(node(
                    "Mul",
                    &scaled,
                    &[&norm.x, &norm.scale_input],
                    &scaled,
                    vec![],
                ));
                nodes.push(node(
                    "Add",
                    &norm.shift_input,
                    &[&scaled, &norm.shift_input],
                    &norm.y,
                    vec![],
                ));
            }
            None => nodes.push(original),
        }
    }
    g.node = nodes;
    for norm in &norms {
        let dims = [1, norm.gamma.len() as i64, 1, 1];
        g.input.push(value_info(&norm.scale_input, Some(&dims)));
        g.input.push(value_info(&norm.shift_input, Some(&dims)));
    }
    prune(g);

    Ok(Rewritten {
        stats: stats.encode_to_vec(),
        tile: tile.encode_to_vec(),
        norms,
    })
}

// ---------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------

/// Which of the two rewritten graphs a session is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphRole {
    /// Pass 1: run once per image, on up to the pixel budget.
    Statistics,
    /// Pass 2: run once per tile, on tiles of one size.
    Tiles,
}

/// A style network rewritten for tiling: its statistics and tile sessions.
pub struct TiledModel {
    stats: Session,
    tile: Session,
    input_name: String,
    output_name: String,
    norms: Vec<Norm>,
}

impl std::fmt::Debug for TiledModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TiledModel")
            .field("norms", &self.norms.len())
            .finish_non_exhaustive()
    }
}

/// Per norm, the `(a, c)` of `x · a + c`.
type Affine = Vec<(Vec<f32>, Vec<f32>)>;

impl TiledModel {
    /// Rewrites the ONNX model `bytes` (input `input_name`, output `output_name`) and builds
    /// its two sessions with `session`. The error says why the model cannot be tiled.
    pub fn build(
        bytes: &[u8],
        input_name: &str,
        output_name: &str,
        mut session: impl FnMut(&[u8], GraphRole) -> Result<Session, String>,
    ) -> Result<TiledModel, String> {
        let rewritten = rewrite(bytes)?;
        let stats = session(&rewritten.stats, GraphRole::Statistics)
            .map_err(|e| format!("statistics graph: {e}"))?;
        let tile =
            session(&rewritten.tile, GraphRole::Tiles).map_err(|e| format!("tile graph: {e}"))?;
        Ok(TiledModel {
            stats,
            tile,
            input_name: input_name.to_string(),
            output_name: output_name.to_string(),
            norms: rewritten.norms,
        })
    }

    /// How many instance norms the model has (their statistics are shared between tiles).
    pub fn norm_count(&self) -> usize {
        self.norms.len()
    }

    /// Pass 1: every instance norm's input statistics on `image`.
    pub fn statistics(&mut self, image: &ImageTensor) -> Result<Vec<NormStats>, String> {
        if self.norms.is_empty() {
            return Ok(Vec::new());
        }
        let shape = image.shape().map(|d| d as i64);
        let value = TensorRef::from_array_view((shape, image.data.as_slice()))
            .map_err(|e| e.to_string())?;
        let outputs = self
            .stats
            .run(ort::inputs![self.input_name.as_str() => value])
            .map_err(|e| e.to_string())?;
        let read = |name: &str, channels: usize| -> Result<Vec<f32>, String> {
            let value = outputs
                .get(name)
                .ok_or_else(|| format!("no output {name:?}"))?;
            let (_, data) = value
                .try_extract_tensor::<f32>()
                .map_err(|e| e.to_string())?;
            if data.len() != channels {
                return Err(format!(
                    "{name}: expected {channels} values, got {}",
                    data.len()
                ));
            }
            Ok(data.to_vec())
        };
        self.norms
            .iter()
            .map(|n| {
                Ok(NormStats {
                    mean: read(&n.mean_output, n.gamma.len())?,
                    var: read(&n.var_output, n.gamma.len())?,
                })
            })
            .collect()
    }

    /// Folds statistics and each norm's γ, β, ε into per-channel `(a, c)`.
    fn affine(&self, stats: &[NormStats]) -> Affine {
        self.norms
            .iter()
            .zip(stats)
            .map(|(n, s)| {
                let mut a = Vec::with_capacity(n.gamma.len());
                let mut c = Vec::with_capacity(n.gamma.len());
                for ch in 0..n.gamma.len() {
                    let inv = 1.0 / (f64::from(s.var[ch]) + f64::from(n.epsilon)).sqrt();
                    let scale = f64::from(n.gamma[ch]) * inv;
                    a.push(scale as f32);
                    c.push((f64::from(n.beta[ch]) - f64::from(s.mean[ch]) * scale) as f32);
                }
                (a, c)
            })
            .collect()
    }

    /// Pass 2 on one tile, normalised with `affine`.
    fn run_tile(&mut self, tile: &ImageTensor, affine: &Affine) -> Result<ImageTensor, String> {
        let shape = tile.shape().map(|d| d as i64);
        let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> =
            Vec::with_capacity(1 + 2 * affine.len());
        inputs.push((
            Cow::from(self.input_name.as_str()),
            TensorRef::from_array_view((shape, tile.data.as_slice()))
                .map_err(|e| e.to_string())?
                .into(),
        ));
        for (n, (a, c)) in self.norms.iter().zip(affine) {
            let shape = [1i64, a.len() as i64, 1, 1];
            inputs.push((
                Cow::from(n.scale_input.as_str()),
                TensorRef::from_array_view((shape, a.as_slice()))
                    .map_err(|e| e.to_string())?
                    .into(),
            ));
            inputs.push((
                Cow::from(n.shift_input.as_str()),
                TensorRef::from_array_view((shape, c.as_slice()))
                    .map_err(|e| e.to_string())?
                    .into(),
            ));
        }
        let outputs = self.tile.run(inputs).map_err(|e| e.to_string())?;
        let output = outputs
            .get(&self.output_name)
            .ok_or_else(|| format!("the tile graph returned no output {:?}", self.output_name))?;
        let (shape, data) = output
            .try_extract_tensor::<f32>()
            .map_err(|e| e.to_string())?;
        match **shape {
            [1, 3, h, w] if h as u32 == tile.height && w as u32 == tile.width => {
                Ok(ImageTensor::new(tile.width, tile.height, data.to_vec()))
            }
            _ => Err(format!(
                "expected a tile output of shape [1, 3, {}, {}], got {shape}",
                tile.height, tile.width
            )),
        }
    }
}

/// What a tiled run did, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct TiledTimes {
    pub tile: u32,
    pub overlap: u32,
    pub tile_count: usize,
    /// Pass 1 (including downscaling the photo for it).
    pub statistics_ms: f64,
    /// Pass 2's network runs.
    pub tiles_ms: f64,
    /// Cropping the tiles and adding them, weighted, into the output.
    pub blend_ms: f64,
}

/// The `w × h` region of `image` at `(x0, y0)`.
fn crop(image: &ImageTensor, x0: u32, y0: u32, w: u32, h: u32) -> ImageTensor {
    let (src_w, src_h) = (image.width as usize, image.height as usize);
    let (w, h) = (w as usize, h as usize);
    let mut data = Vec::with_capacity(3 * w * h);
    for plane in image.data.chunks_exact(src_w * src_h) {
        for y in y0 as usize..y0 as usize + h {
            data.extend_from_slice(&plane[y * src_w + x0 as usize..][..w]);
        }
    }
    ImageTensor::new(w as u32, h as u32, data)
}

/// The image pass 1 runs on: the photo itself if it fits `budget` pixels, else a copy
/// downscaled (area-averaged, from the RGB8 values the photo came from) to fit.
fn statistics_image(image: &ImageTensor, budget: u64) -> Cow<'_, ImageTensor> {
    let (w, h) = (image.width, image.height);
    let pixels = u64::from(w) * u64::from(h);
    if pixels <= budget {
        return Cow::Borrowed(image);
    }
    let scale = (budget as f64 / pixels as f64).sqrt();
    let sw = ((f64::from(w) * scale).floor() as u32).max(crate::model::MIN_SIDE);
    let sh = ((f64::from(h) * scale).floor() as u32).max(crate::model::MIN_SIDE);
    tracing::debug!(width = sw, height = sh, "statistics from a downscaled copy");
    let rgb = tensor_to_rgb(image);
    let small = image::imageops::resize(&rgb, sw, sh, image::imageops::FilterType::Triangle);
    drop(rgb);
    Cow::Owned(rgb_to_tensor(&small))
}

/// Runs the network on `input` tile by tile (see the module docs) and returns its raw
/// output (unclamped, like an untiled run) at the input's size.
pub fn stylize_tiled(
    model: &mut TiledModel,
    input: &ImageTensor,
    tile: u32,
    options: &TilingOptions,
) -> Result<(ImageTensor, TiledTimes), String> {
    let (width, height) = (input.width, input.height);
    let overlap = options.overlap.min(tile.saturating_sub(1));
    let mut times = TiledTimes {
        tile,
        overlap,
        ..TiledTimes::default()
    };

    let started = Instant::now();
    let global = if options.per_tile_statistics {
        None
    } else {
        let image = statistics_image(input, options.above_pixels);
        let stats = model.statistics(&image)?;
        Some(model.affine(&stats))
    };
    times.statistics_ms = ms_since(started);

    let columns = spans(width, tile, overlap);
    let rows = spans(height, tile, overlap);
    let column_weights = span_weights(&columns, width, overlap);
    let row_weights = span_weights(&rows, height, overlap);
    tracing::debug!(
        columns = columns.len(),
        rows = rows.len(),
        tile,
        overlap,
        "tiling"
    );

    let plane = width as usize * height as usize;
    let mut out = vec![0.0f32; 3 * plane];
    for (row, row_w) in rows.iter().zip(&row_weights) {
        for (column, column_w) in columns.iter().zip(&column_weights) {
            let crop_started = Instant::now();
            let tile_input = crop(input, column.start, row.start, column.len(), row.len());
            times.blend_ms += ms_since(crop_started);

            let run_started = Instant::now();
            let own;
            let affine = match &global {
                Some(affine) => affine,
                None => {
                    let stats = model.statistics(&tile_input)?;
                    own = model.affine(&stats);
                    &own
                }
            };
            let output = model.run_tile(&tile_input, affine)?;
            times.tiles_ms += ms_since(run_started);
            times.tile_count += 1;

            let add_started = Instant::now();
            let (tw, th) = (column.len() as usize, row.len() as usize);
            for (c, target_plane) in out.chunks_exact_mut(plane).enumerate() {
                let source = &output.data[c * tw * th..][..tw * th];
                for (y, &wy) in row_w.iter().enumerate() {
                    let start = (row.start as usize + y) * width as usize + column.start as usize;
                    let target = &mut target_plane[start..][..tw];
                    for ((t, &s), &wx) in
                        target.iter_mut().zip(&source[y * tw..][..tw]).zip(column_w)
                    {
                        *t += s * (wx * wy);
                    }
                }
            }
            times.blend_ms += ms_since(add_started);
        }
    }
    Ok((ImageTensor::new(width, height, out), times))
}

fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_the_axis_aligned_and_overlapping() {
        for len in [8u32, 100, 256, 257, 300, 511, 1000, 1024, 1025, 4000, 6000] {
            for (tile, overlap) in [
                (256u32, 128u32),
                (512, 128),
                (1024, 128),
                (200, 64),
                (96, 32),
            ] {
                let s = spans(len, tile, overlap);
                assert_eq!(s[0].start, 0, "{len} {tile}");
                assert_eq!(s.last().unwrap().end, len, "{len} {tile}");
                for span in &s {
                    assert_eq!(span.start % ALIGN, 0);
                    assert!(
                        span.len() <= tile.max(len.min(tile)) + ALIGN - 1,
                        "{span:?}"
                    );
                    assert!(span.len() >= tile.min(len), "{span:?}");
                }
                for pair in s.windows(2) {
                    assert!(pair[1].start > pair[0].start);
                    assert!(
                        pair[0].end >= pair[1].start + overlap - (ALIGN - 1),
                        "{len} {tile} {overlap}: {pair:?}"
                    );
                }
            }
        }
        assert_eq!(
            spans(1000, 1024, 128),
            vec![Span {
                start: 0,
                end: 1000
            }]
        );
    }

    #[test]
    fn weights_sum_to_one_and_border_pixels_are_full() {
        for (len, tile, overlap) in [
            (1024u32, 256u32, 128u32),
            (1024, 512, 128),
            (6000, 1024, 128),
            (300, 96, 32),
            (257, 200, 64),
        ] {
            let s = spans(len, tile, overlap);
            let w = span_weights(&s, len, overlap);
            let mut total = vec![0.0f32; len as usize];
            for (span, weights) in s.iter().zip(&w) {
                assert_eq!(weights.len(), span.len() as usize);
                for (x, v) in (span.start..span.end).zip(weights) {
                    assert!((0.0..=1.0).contains(v));
                    total[x as usize] += v;
                }
            }
            assert!(total.iter().all(|t| (t - 1.0).abs() < 1e-5), "{len} {tile}");
            // The image's own borders belong to the first and last tiles alone.
            assert_eq!(w[0][0], 1.0);
            assert_eq!(*w.last().unwrap().last().unwrap(), 1.0);
        }
    }

    #[test]
    fn inner_tile_edges_carry_almost_no_weight() {
        let s = spans(1024, 512, 128);
        let w = span_weights(&s, 1024, 128);
        let (margin, _) = feathering(128);
        // Tile 0's right margin and tile 1's left margin are (nearly) ignored.
        let last = w[0].len() - 1;
        assert!(w[0][last] < 1e-4 && w[1][0] < 1e-4);
        assert!(w[0][last - margin as usize + 1] < 1e-4);
        // Full weight away from the overlap.
        assert_eq!(w[0][100], 1.0);
    }

    #[test]
    fn options_choose_and_validate() {
        let auto = TilingOptions::default();
        assert_eq!(auto.tile_for(2048, 2048), None);
        assert_eq!(auto.tile_for(6000, 4000), Some(DEFAULT_TILE));
        let off = TilingOptions {
            tile: Some(0),
            ..auto
        };
        assert_eq!(off.tile_for(6000, 4000), None);
        let forced = TilingOptions {
            tile: Some(256),
            ..auto
        };
        assert_eq!(forced.tile_for(100, 100), Some(256));
        assert!(forced.validate().is_ok());
        assert!(
            TilingOptions {
                tile: Some(32),
                ..auto
            }
            .validate()
            .is_err()
        );
        assert!(
            TilingOptions {
                tile: Some(150),
                ..auto
            }
            .validate()
            .is_err()
        );
        assert!(
            TilingOptions {
                above_pixels: 10,
                ..auto
            }
            .validate()
            .is_err()
        );
    }
}

/// The graph rewrite on a one-norm model, through ONNX Runtime, for both ways opsets pass
/// `ReduceMean`'s axes (needs ONNX Runtime, like the CLI).
#[cfg(test)]
mod runtime_tests {
    use super::*;
    use crate::onnx_proto::OperatorSetIdProto;

    const GAMMA: [f32; 3] = [1.5, -0.5, 2.0];
    const BETA: [f32; 3] = [10.0, 0.0, -3.0];
    const EPSILON: f32 = 1e-3;

    fn floats(name: &str, values: &[f32]) -> TensorProto {
        TensorProto {
            dims: vec![values.len() as i64],
            data_type: Some(data_type::FLOAT),
            name: name.into(),
            raw_data: Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
            ..Default::default()
        }
    }

    fn image_info(name: &str) -> ValueInfoProto {
        let dim = |value| tensor_shape_proto::Dimension {
            value: Some(value),
            denotation: String::new(),
        };
        use tensor_shape_proto::dimension::Value::{DimParam, DimValue};
        let mut info = value_info(name, None);
        if let Some(type_proto::Value::TensorType(t)) =
            info.r#type.as_mut().and_then(|t| t.value.as_mut())
        {
            t.shape = Some(TensorShapeProto {
                dim: vec![
                    dim(DimParam("batch".into())),
                    dim(DimValue(3)),
                    dim(DimParam("height".into())),
                    dim(DimParam("width".into())),
                ],
            });
        }
        info
    }

    /// input → InstanceNormalization(γ, β, ε) → output.
    fn norm_model(opset: i64) -> Vec<u8> {
        let mut norm = node(
            "InstanceNormalization",
            "in1",
            &["input", "g", "b"],
            "output",
            vec![],
        );
        norm.attribute.push(AttributeProto {
            name: "epsilon".into(),
            r#type: Some(AttributeType::Float as i32),
            f: Some(EPSILON),
            ..Default::default()
        });
        ModelProto {
            ir_version: Some(8),
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: Some(opset),
            }],
            producer_name: "tiling-tests".into(),
            graph: Some(GraphProto {
                node: vec![norm],
                name: "norm".into(),
                initializer: vec![floats("g", &GAMMA), floats("b", &BETA)],
                input: vec![image_info("input")],
                output: vec![image_info("output")],
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec()
    }

    fn build(opset: i64) -> TiledModel {
        let runtime = crate::runtime::runtime().expect("ONNX Runtime");
        TiledModel::build(&norm_model(opset), "input", "output", |graph, _| {
            Session::builder(&runtime.environment)
                .map_err(|e| e.to_string())?
                .with_intra_threads(1)
                .map_err(|e| e.to_string())?
                .commit_from_memory(graph)
                .map_err(|e| e.to_string())
        })
        .expect("rewrite and build")
    }

    fn picture(width: u32, height: u32) -> ImageTensor {
        let data = (0..3 * width * height)
            .map(|i| {
                let (c, p) = (i / (width * height), i % (width * height));
                let (x, y) = (p % width, p / width);
                // A gradient (tiles differ) with some texture.
                (x + y + c * 20) as f32 + ((x * 7 + y * 3) % 11) as f32
            })
            .collect();
        ImageTensor::new(width, height, data)
    }

    /// The instance norm of `image` over the whole image, computed here.
    fn expected(image: &ImageTensor) -> (Vec<NormStats>, ImageTensor) {
        let plane = (image.width * image.height) as usize;
        let mut mean = Vec::new();
        let mut var = Vec::new();
        let mut out = Vec::new();
        for (c, values) in image.data.chunks_exact(plane).enumerate() {
            let m = values.iter().map(|&v| f64::from(v)).sum::<f64>() / plane as f64;
            let v = values
                .iter()
                .map(|&x| (f64::from(x) - m).powi(2))
                .sum::<f64>()
                / plane as f64;
            mean.push(m as f32);
            var.push(v as f32);
            let inv = 1.0 / (v + f64::from(EPSILON)).sqrt();
            out.extend(values.iter().map(|&x| {
                ((f64::from(x) - m) * inv * f64::from(GAMMA[c]) + f64::from(BETA[c])) as f32
            }));
        }
        (
            vec![NormStats { mean, var }],
            ImageTensor::new(image.width, image.height, out),
        )
    }

    #[test]
    fn statistics_and_tiles_reproduce_the_whole_image_norm_for_opsets_17_and_18() {
        for opset in [17, 18] {
            let mut model = build(opset);
            assert_eq!(model.norm_count(), 1);
            let image = picture(150, 97);
            let (stats, whole) = expected(&image);
            let got = model.statistics(&image).unwrap();
            for (a, b) in got[0].mean.iter().zip(&stats[0].mean) {
                assert!((a - b).abs() < 1e-3, "opset {opset}: mean {a} vs {b}");
            }
            for (a, b) in got[0].var.iter().zip(&stats[0].var) {
                assert!((a - b).abs() / b < 1e-4, "opset {opset}: var {a} vs {b}");
            }
            // A pointwise network once the statistics are fixed: tiles give the whole-image
            // result exactly, wherever the seams are.
            let options = TilingOptions {
                tile: Some(64),
                overlap: 16,
                ..TilingOptions::default()
            };
            let (tiled, times) = stylize_tiled(&mut model, &image, 64, &options).unwrap();
            assert_eq!(
                times.tile_count,
                spans(150, 64, 16).len() * spans(97, 64, 16).len()
            );
            assert!(tiled.max_abs_diff(&whole) < 1e-3, "opset {opset}");
            // Per-tile statistics differ (the gradient makes every tile's mean different).
            let naive = TilingOptions {
                per_tile_statistics: true,
                ..options
            };
            let (naive, _) = stylize_tiled(&mut model, &image, 64, &naive).unwrap();
            assert!(naive.max_abs_diff(&whole) > 1.0);
        }
    }

    #[test]
    fn a_norm_without_constant_parameters_cannot_be_tiled() {
        let mut model = ModelProto::decode(norm_model(17).as_slice()).unwrap();
        model.graph.as_mut().unwrap().initializer.clear();
        let err = rewrite(&model.encode_to_vec()).err().unwrap();
        assert!(err.contains("not a float initializer"), "{err}");
    }
}
