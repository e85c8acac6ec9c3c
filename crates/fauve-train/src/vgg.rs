//! The loss network: a frozen VGG (Simonyan & Zisserman) used as a feature extractor.
//!
//! Johnson et al. measure their perceptual losses with VGG16, Gatys et al. with VGG19; both
//! are here. Only the convolutional part (torchvision's `features`) is kept: the classifier is
//! never needed for style transfer.
//!
//! The weights are plain tensors, not `Param`s: they are constants, so a backward pass sends
//! gradients to the input image (or the network that produced it) and never to the VGG.
//!
//! Input convention: RGB, 0–255, NCHW — the same as the style networks' input and output. The
//! file's own preprocessing ([`Preprocess`]) is applied inside [`Vgg::features`].

mod allocator;
mod layers;
mod preprocess;

pub use allocator::retain_freed_memory;
pub use layers::{ConvSpec, LayerKind, VggDepth, VggLayer, layer_table};
pub use preprocess::Preprocess;

use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};

/// Errors about the VGG's structure (as opposed to its weight files, see `weights`).
#[derive(Debug, thiserror::Error)]
pub enum VggError {
    #[error("unknown {depth} layer `{name}`: expected one of {known}")]
    UnknownLayer {
        depth: VggDepth,
        name: String,
        known: String,
    },
    #[error(
        "{depth} layer `{name}` needs the first {needed} convolutions but this network was \
         loaded with only {loaded}; load it up to `{name}` or deeper"
    )]
    NotLoaded {
        depth: VggDepth,
        name: String,
        needed: usize,
        loaded: usize,
    },
    #[error("no layers requested")]
    NothingRequested,
}

/// One convolution's weights, OIHW, as torchvision stores them.
#[derive(Debug, Clone)]
pub struct ConvWeights {
    pub weight: Tensor<4>,
    pub bias: Tensor<1>,
}

/// A VGG16 or VGG19 feature extractor holding the first `convs.len()` convolutions.
///
/// Holding a prefix is deliberate: a content loss at `relu2_2` only needs 4 of the 13
/// convolutions, which makes loading and tests much cheaper.
#[derive(Debug, Clone)]
pub struct Vgg {
    depth: VggDepth,
    preprocess: Preprocess,
    /// Convolutions in order; `convs[0]` already has the preprocessing's scale and channel
    /// order folded in (see [`Preprocess::fold_into_first_conv`]).
    convs: Vec<ConvWeights>,
}

/// Features returned by [`Vgg::features`], by layer name, in network order.
#[derive(Debug, Clone)]
pub struct Features {
    entries: Vec<(String, Tensor<4>)>,
}

impl Features {
    /// Features from (layer name, `[N, C, H, W]`) pairs: for losses computed on feature maps
    /// that did not come from [`Vgg::features`] (tests, other extractors).
    pub fn from_entries(entries: Vec<(String, Tensor<4>)>) -> Self {
        Self { entries }
    }

    /// The feature map of `name` (`[N, C, H, W]`), if it was requested.
    pub fn get(&self, name: &str) -> Option<&Tensor<4>> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    /// Like [`get`](Self::get) but panics with the missing name: for callers that requested
    /// the layer themselves, where absence is a bug.
    pub fn expect(&self, name: &str) -> &Tensor<4> {
        self.get(name)
            .unwrap_or_else(|| panic!("feature `{name}` was not requested from the VGG"))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor<4>)> {
        self.entries.iter().map(|(n, t)| (n.as_str(), t))
    }

    /// Every feature cut from the autodiff graph: targets that must not be differentiated.
    pub fn detach(self) -> Self {
        Self {
            entries: self
                .entries
                .into_iter()
                .map(|(n, t)| (n, t.detach()))
                .collect(),
        }
    }
}

impl Vgg {
    /// Builds a VGG from raw convolution weights as stored in the file (before folding the
    /// preprocessing). `convs` may be a prefix of the network's convolutions.
    ///
    /// Panics if there are more convolutions than the network has or their shapes are wrong:
    /// `weights` checks files and reports those as errors before calling this.
    pub fn from_convs(
        depth: VggDepth,
        preprocess: Preprocess,
        mut convs: Vec<ConvWeights>,
    ) -> Self {
        let specs = depth.convs();
        assert!(
            convs.len() <= specs.len(),
            "{depth} has only {} convolutions",
            specs.len()
        );
        for (c, spec) in convs.iter().zip(&specs) {
            assert_eq!(
                c.weight.dims(),
                spec.weight_shape(),
                "{} weight shape",
                spec.name
            );
            assert_eq!(
                c.bias.dims(),
                [spec.out_channels],
                "{} bias shape",
                spec.name
            );
        }
        if let Some(first) = convs.first_mut() {
            first.weight = preprocess.fold_into_first_conv(first.weight.clone());
        }
        Self {
            depth,
            preprocess,
            convs,
        }
    }

    /// A VGG with random (He-initialised) weights up to `deepest` (or whole): for benchmarks
    /// and tests, where the values don't matter but the shapes and the cost do.
    pub fn random(
        depth: VggDepth,
        deepest: Option<&str>,
        preprocess: Preprocess,
        device: &Device,
    ) -> Result<Self, VggError> {
        let count = match deepest {
            Some(name) => depth.convs_needed_for(name)?,
            None => depth.convs().len(),
        };
        let convs = depth
            .convs()
            .into_iter()
            .take(count)
            .map(|spec| {
                let fan_in = (spec.in_channels * 9) as f64;
                let std = (2.0 / fan_in).sqrt();
                ConvWeights {
                    weight: Tensor::random(
                        spec.weight_shape(),
                        burn::tensor::Distribution::Normal(0.0, std),
                        device,
                    ),
                    bias: Tensor::zeros([spec.out_channels], device),
                }
            })
            .collect();
        Ok(Self::from_convs(depth, preprocess, convs))
    }

    pub fn depth(&self) -> VggDepth {
        self.depth
    }

    pub fn preprocess(&self) -> Preprocess {
        self.preprocess
    }

    /// The loaded convolutions (`convs[0]` with the preprocessing folded in).
    pub fn convs(&self) -> &[ConvWeights] {
        &self.convs
    }

    /// How many convolutions are loaded (a prefix of [`VggDepth::convs`]).
    pub fn loaded_convs(&self) -> usize {
        self.convs.len()
    }

    /// Checks that every name exists and is within the loaded prefix; returns the number of
    /// convolutions the deepest one needs. A shortfall is reported for the deepest layer, so
    /// the message says how far to load.
    pub fn check_layers<S: AsRef<str>>(&self, names: &[S]) -> Result<usize, VggError> {
        let mut deepest: Option<(usize, &str)> = None;
        for name in names {
            let name = name.as_ref();
            let n = self.depth.convs_needed_for(name)?;
            if deepest.is_none_or(|(d, _)| n > d) {
                deepest = Some((n, name));
            }
        }
        let (needed, name) = deepest.ok_or(VggError::NothingRequested)?;
        if needed > self.convs.len() {
            return Err(VggError::NotLoaded {
                depth: self.depth,
                name: name.to_string(),
                needed,
                loaded: self.convs.len(),
            });
        }
        Ok(needed)
    }

    /// Runs the network on `image` (RGB, 0–255, `[N, 3, H, W]`) only as far as the deepest of
    /// `layers`, returning those layers' outputs (`reluX_Y`, `convX_Y` or `poolX`).
    ///
    /// Gradients flow to `image` only: the weights are constants.
    pub fn features<S: AsRef<str>>(
        &self,
        image: Tensor<4>,
        layers: &[S],
    ) -> Result<Features, VggError> {
        self.check_layers(layers)?;
        let wanted = |name: &str| layers.iter().any(|l| l.as_ref() == name);
        let mut remaining = layers.len();
        let mut entries = Vec::with_capacity(layers.len());

        let autodiff = image.is_autodiff();
        let mut x = self.preprocess.center(image);
        let mut conv_index = 0;
        for layer in layer_table(self.depth) {
            if remaining == 0 {
                break;
            }
            x = match layer.kind {
                LayerKind::Conv(_) => {
                    let w = &self.convs[conv_index];
                    conv_index += 1;
                    conv2d(
                        x,
                        constant_like(w.weight.clone(), autodiff),
                        Some(constant_like(w.bias.clone(), autodiff)),
                        ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
                    )
                }
                LayerKind::Relu => relu(x),
                // torchvision: MaxPool2d(kernel_size=2, stride=2), floor mode.
                LayerKind::MaxPool => max_pool2d(x, MaxPoolOptions::new([2, 2])),
            };
            if wanted(&layer.name) {
                // A layer requested twice is returned once.
                remaining -= layers.iter().filter(|l| l.as_ref() == layer.name).count();
                entries.push((layer.name.clone(), x.clone()));
            }
        }
        Ok(Features { entries })
    }
}

/// The weights live off the autodiff graph; an autodiff input needs them lifted onto it (as
/// untracked leaves, so no gradient is kept for them), a plain input needs them plain.
fn constant_like<const D: usize>(t: Tensor<D>, autodiff: bool) -> Tensor<D> {
    match (autodiff, t.is_autodiff()) {
        (true, false) => t.autodiff(),
        (false, true) => t.inner(),
        _ => t,
    }
}

impl ConvSpec {
    pub fn weight_shape(&self) -> [usize; 4] {
        [self.out_channels, self.in_channels, 3, 3]
    }
}
