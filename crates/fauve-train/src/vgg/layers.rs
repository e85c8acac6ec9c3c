//! The VGG layer table: which layers exist, their names, and where torchvision stores their
//! weights (`features.N`).

use serde::{Deserialize, Serialize};

use super::VggError;

/// Which VGG: 16 weight layers (Johnson et al.'s loss network) or 19 (Gatys et al.'s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum VggDepth {
    #[default]
    Vgg16,
    Vgg19,
}

impl std::fmt::Display for VggDepth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            VggDepth::Vgg16 => "VGG16",
            VggDepth::Vgg19 => "VGG19",
        })
    }
}

/// A 3×3, stride 1, padding 1 convolution of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvSpec {
    /// `convX_Y`.
    pub name: String,
    pub in_channels: usize,
    pub out_channels: usize,
    /// Position in torchvision's `features` Sequential: the weight is `features.{index}.weight`.
    pub features_index: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerKind {
    Conv(ConvSpec),
    Relu,
    /// 2×2 max pooling, stride 2.
    MaxPool,
}

/// One entry of the table, named as in the papers: `convX_Y`, `reluX_Y`, `poolX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VggLayer {
    pub name: String,
    pub kind: LayerKind,
}

/// Output channels of the five blocks, shared by both depths.
const BLOCK_CHANNELS: [usize; 5] = [64, 128, 256, 512, 512];

impl VggDepth {
    /// Convolutions per block.
    fn block_convs(self) -> [usize; 5] {
        match self {
            VggDepth::Vgg16 => [2, 2, 3, 3, 3],
            VggDepth::Vgg19 => [2, 2, 4, 4, 4],
        }
    }

    /// The convolutions in order.
    pub fn convs(self) -> Vec<ConvSpec> {
        layer_table(self)
            .into_iter()
            .filter_map(|l| match l.kind {
                LayerKind::Conv(spec) => Some(spec),
                _ => None,
            })
            .collect()
    }

    /// How many convolutions must run to produce layer `name`.
    pub fn convs_needed_for(self, name: &str) -> Result<usize, VggError> {
        let mut convs = 0;
        for layer in layer_table(self) {
            if matches!(layer.kind, LayerKind::Conv(_)) {
                convs += 1;
            }
            if layer.name == name {
                return Ok(convs);
            }
        }
        Err(VggError::UnknownLayer {
            depth: self,
            name: name.to_string(),
            known: layer_table(self)
                .iter()
                .map(|l| l.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// The full layer sequence of `depth`, in torchvision's `features` order: each convolution is
/// followed by its ReLU, each block by a max pool.
pub fn layer_table(depth: VggDepth) -> Vec<VggLayer> {
    let mut layers = Vec::new();
    let mut in_channels = 3;
    let mut features_index = 0;
    for (block, (&out_channels, &count)) in BLOCK_CHANNELS
        .iter()
        .zip(depth.block_convs().iter())
        .enumerate()
    {
        let b = block + 1;
        for c in 1..=count {
            layers.push(VggLayer {
                name: format!("conv{b}_{c}"),
                kind: LayerKind::Conv(ConvSpec {
                    name: format!("conv{b}_{c}"),
                    in_channels,
                    out_channels,
                    features_index,
                }),
            });
            layers.push(VggLayer {
                name: format!("relu{b}_{c}"),
                kind: LayerKind::Relu,
            });
            features_index += 2;
            in_channels = out_channels;
        }
        layers.push(VggLayer {
            name: format!("pool{b}"),
            kind: LayerKind::MaxPool,
        });
        features_index += 1;
    }
    layers
}
