use burn::prelude::*;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use serde::{Deserialize, Serialize};

use super::{ContentLoss, StyleLoss, total_variation};
use crate::vgg::{Features, Vgg, VggDepth, VggError};

/// Layer choices and weights of the perceptual loss. Serde-friendly: every field has a
/// default, so a TOML table may give only what it changes.
///
/// # Scale of the weights
/// Losses are computed on features expressed at torchvision's scale whatever the weight file:
/// with a Caffe-convention VGG, whose features are about [`Preprocess::feature_scale`] (≈57)
/// times larger, the content loss is divided by that factor squared and the style loss by its
/// fourth power (Grams are quadratic in the features). So the same weights mean about the
/// same thing with either kind of file, and the defaults are those published for
/// torchvision-preprocessed VGGs.
///
/// [`Preprocess::feature_scale`]: crate::vgg::Preprocess::feature_scale
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PerceptualLossConfig {
    /// Loss network. Default `vgg16` (Johnson et al.).
    pub vgg: VggDepth,
    /// Layers of the content loss. Default `["relu2_2"]`.
    pub content_layers: Vec<String>,
    /// Layers of the style loss. Default `["relu1_2", "relu2_2", "relu3_3", "relu4_3"]`.
    pub style_layers: Vec<String>,
    /// One weight per style layer; empty (the default) means 1 for each.
    pub style_layer_weights: Vec<f32>,
    /// Default 1e5 (pytorch/examples' fast_neural_style).
    pub content_weight: f32,
    /// Default 1e10 (pytorch/examples' fast_neural_style).
    pub style_weight: f32,
    /// Weight of [`total_variation`] on 0–1 pixels. Default 0: instance-normalised transformer
    /// networks do not need it (pytorch/examples uses none). Johnson et al.'s 1e-6 on summed
    /// 0–255 pixels corresponds to roughly 4e5 here for 256² training images.
    pub tv_weight: f32,
    /// When set, the style image is resized (bilinear, aspect kept) so its longer side has
    /// this many pixels before its Grams are computed, as Johnson et al.'s `style_image_size`.
    /// Default none: the image is used as given.
    pub style_size: Option<usize>,
}

impl Default for PerceptualLossConfig {
    fn default() -> Self {
        Self::johnson()
    }
}

impl PerceptualLossConfig {
    /// Johnson et al.'s choice with pytorch/examples' weights: VGG16, content `relu2_2`,
    /// style `relu1_2, relu2_2, relu3_3, relu4_3`, content 1e5, style 1e10, no TV.
    pub fn johnson() -> Self {
        Self {
            vgg: VggDepth::Vgg16,
            content_layers: vec!["relu2_2".into()],
            style_layers: ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]
                .map(String::from)
                .to_vec(),
            style_layer_weights: Vec::new(),
            content_weight: 1e5,
            style_weight: 1e10,
            tv_weight: 0.0,
            style_size: None,
        }
    }

    /// Gatys et al.'s choice: VGG19, content `relu4_2`, style `relu1_1 … relu5_1`, with the
    /// PyTorch neural-transfer tutorial's weights (content 1, style 1e6), no TV.
    pub fn gatys() -> Self {
        Self {
            vgg: VggDepth::Vgg19,
            content_layers: vec!["relu4_2".into()],
            style_layers: ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
                .map(String::from)
                .to_vec(),
            style_layer_weights: Vec::new(),
            content_weight: 1.0,
            style_weight: 1e6,
            tv_weight: 0.0,
            style_size: None,
        }
    }

    /// Every layer the loss reads, content first, without repeats.
    pub fn layers(&self) -> Vec<String> {
        let mut all: Vec<String> = Vec::new();
        for l in self.content_layers.iter().chain(&self.style_layers) {
            if !all.contains(l) {
                all.push(l.clone());
            }
        }
        all
    }

    /// The deepest layer the loss reads: load the VGG up to it and no further.
    pub fn deepest_layer(&self) -> Result<String, VggError> {
        let mut deepest = (0, String::new());
        for l in self.layers() {
            let n = self.vgg.convs_needed_for(&l)?;
            if n > deepest.0 {
                deepest = (n, l);
            }
        }
        if deepest.0 == 0 {
            Err(VggError::NothingRequested)
        } else {
            Ok(deepest.1)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LossError {
    // Not `#[from]`: that would also make it the source and print it twice under `{:#}`.
    #[error("perceptual loss: {0}")]
    Vgg(VggError),
    #[error("the loss is configured for {configured} but the VGG given is {given}")]
    WrongVgg {
        configured: VggDepth,
        given: VggDepth,
    },
    #[error("{weights} style layer weights given for {layers} style layers")]
    StyleWeightCount { weights: usize, layers: usize },
    #[error("the loss needs at least one content layer and one style layer")]
    NoLayers,
    #[error("the style image must be [1, 3, H, W], got {0:?}")]
    StyleImageShape([usize; 4]),
}

impl From<VggError> for LossError {
    fn from(error: VggError) -> Self {
        LossError::Vgg(error)
    }
}

/// The components of the loss, each already multiplied by its weight, so
/// `total = content + style + tv`. Each is a one-element tensor on the output's graph.
#[derive(Debug, Clone)]
pub struct LossParts {
    pub content: Tensor<1>,
    pub style: Tensor<1>,
    pub tv: Tensor<1>,
    pub total: Tensor<1>,
}

impl LossParts {
    /// Every part times `factor` (a shard's share of its batch; 1 leaves the graph as it is).
    pub fn scaled(self, factor: f32) -> Self {
        if factor == 1.0 {
            return self;
        }
        Self {
            content: self.content * factor,
            style: self.style * factor,
            tv: self.tv * factor,
            total: self.total * factor,
        }
    }
}

/// The VGG, the layer choices, the weights and the style target: everything needed to say
/// how well an image renders a content image in the style.
#[derive(Debug, Clone)]
pub struct PerceptualLoss {
    vgg: Vgg,
    config: PerceptualLossConfig,
    content: ContentLoss,
    style: StyleLoss,
    /// Divisors taking content and style MSEs to torchvision's feature scale.
    content_scale: f32,
    style_scale: f32,
}

impl PerceptualLoss {
    /// Checks the configuration against `vgg` and computes the style Grams of `style_image`
    /// (RGB 0–255, `[1, 3, H, W]`), once.
    pub fn new(
        vgg: Vgg,
        config: PerceptualLossConfig,
        style_image: Tensor<4>,
    ) -> Result<Self, LossError> {
        if vgg.depth() != config.vgg {
            return Err(LossError::WrongVgg {
                configured: config.vgg,
                given: vgg.depth(),
            });
        }
        if config.content_layers.is_empty() || config.style_layers.is_empty() {
            return Err(LossError::NoLayers);
        }
        let layer_weights = match config.style_layer_weights.len() {
            0 => vec![1.0; config.style_layers.len()],
            n if n == config.style_layers.len() => config.style_layer_weights.clone(),
            n => {
                return Err(LossError::StyleWeightCount {
                    weights: n,
                    layers: config.style_layers.len(),
                });
            }
        };
        vgg.check_layers(&config.layers())?;
        let dims = style_image.dims();
        if dims[0] != 1 || dims[1] != 3 {
            return Err(LossError::StyleImageShape(dims));
        }
        let style_image = match config.style_size {
            Some(size) => resize_longer_side(style_image.detach(), size),
            None => style_image.detach(),
        };
        let style_features = vgg.features(style_image, &config.style_layers)?.detach();
        let style_layers: Vec<(String, f32)> = config
            .style_layers
            .iter()
            .cloned()
            .zip(layer_weights)
            .collect();
        let style = StyleLoss::new(&style_features, &style_layers);
        let scale = vgg.preprocess().feature_scale();
        Ok(Self {
            content: ContentLoss::new(config.content_layers.clone()),
            style,
            content_scale: scale * scale,
            style_scale: scale.powi(4),
            vgg,
            config,
        })
    }

    pub fn config(&self) -> &PerceptualLossConfig {
        &self.config
    }

    pub fn vgg(&self) -> &Vgg {
        &self.vgg
    }

    pub fn style_loss(&self) -> &StyleLoss {
        &self.style
    }

    /// The content image's features at the content layers, detached: compute them once when
    /// the content image does not change (Gatys optimisation) and pass them to
    /// [`forward_with_target`](Self::forward_with_target).
    pub fn content_target(&self, content_image: Tensor<4>) -> Features {
        self.vgg
            .features(content_image.detach(), &self.config.content_layers)
            .expect("content layers were checked in PerceptualLoss::new")
            .detach()
    }

    /// The loss of `output` (RGB 0–255, `[N, 3, H, W]`) against `content_image` (same shape).
    pub fn forward(&self, output: Tensor<4>, content_image: Tensor<4>) -> LossParts {
        let target = self.content_target(content_image);
        self.forward_with_target(output, &target)
    }

    /// The loss of `output` against precomputed content features (see
    /// [`content_target`](Self::content_target)). The VGG runs once on `output`, only as deep
    /// as the deepest content or style layer.
    pub fn forward_with_target(&self, output: Tensor<4>, content_target: &Features) -> LossParts {
        self.evaluate(output, content_target).0
    }

    /// [`forward`](Self::forward), and the style part split by layer: `(layer, weighted term)`
    /// in the configured order, summing to `style`. Scoring uses it to show where an output
    /// falls short of the painting (fine texture in the shallow layers, larger motifs deeper).
    pub fn forward_by_layer(
        &self,
        output: Tensor<4>,
        content_image: Tensor<4>,
    ) -> (LossParts, Vec<(String, Tensor<1>)>) {
        let target = self.content_target(content_image);
        let (parts, raw_terms) = self.evaluate(output, &target);
        let factor = self.config.style_weight / self.style_scale;
        let names = self.style.layers().map(str::to_string);
        let terms = raw_terms.into_iter().map(|t| t.mul_scalar(factor));
        (parts, names.zip(terms).collect())
    }

    /// The parts, and the style terms by layer they were summed from, before the style weight
    /// (scaling them is left to [`forward_by_layer`](Self::forward_by_layer), off the training
    /// path).
    fn evaluate(
        &self,
        output: Tensor<4>,
        content_target: &Features,
    ) -> (LossParts, Vec<Tensor<1>>) {
        let features = self
            .vgg
            .features(output.clone(), &self.config.layers())
            .expect("layers were checked in PerceptualLoss::new");
        let content = self
            .content
            .forward(&features, content_target)
            .mul_scalar(self.config.content_weight / self.content_scale);
        let raw_terms = self.style.per_layer(&features);
        let style = raw_terms
            .iter()
            .cloned()
            .reduce(|a, b| a + b)
            .expect("PerceptualLoss::new checked there is a style layer")
            .mul_scalar(self.config.style_weight / self.style_scale);
        // With no TV weight, skip its graph (four full-image temporaries) and give a zero on
        // the same graph.
        let tv = if self.config.tv_weight == 0.0 {
            content.clone().mul_scalar(0.0)
        } else {
            total_variation(output.div_scalar(255.0)).mul_scalar(self.config.tv_weight)
        };
        let total = content.clone() + style.clone() + tv.clone();
        let parts = LossParts {
            content,
            style,
            tv,
            total,
        };
        (parts, raw_terms)
    }
}

/// Bilinear resize so the longer side is `size` pixels, keeping the aspect ratio.
fn resize_longer_side(image: Tensor<4>, size: usize) -> Tensor<4> {
    let [_, _, h, w] = image.dims();
    let longer = h.max(w);
    if longer == size {
        return image;
    }
    let scale = size as f64 / longer as f64;
    let out = [
        ((h as f64 * scale).round() as usize).max(1),
        ((w as f64 * scale).round() as usize).max(1),
    ];
    let mut options = InterpolateOptions::new(InterpolateMode::Bilinear).with_align_corners(false);
    options.output_size = Some(out);
    interpolate(image, options)
}
