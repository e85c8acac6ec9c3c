//! Gatys et al. (2016) style transfer by optimisation: the pixels of one image are the
//! parameters, and they are moved to minimise the same [`PerceptualLoss`] the fast networks
//! are trained with. This is the slow, per-image reference the fast networks approximate
//! (Johnson et al. 2016, Fig. 5), and `fauve compare` measures both with this one loss.
//!
//! The image is on the networks' scale (RGB, 0–255) and every evaluation sees it clamped to
//! that range: the optimiser's variables may stray outside, but the loss, the reported
//! history and the returned image are those of the clamped pixels, which is what a saved
//! file holds. Left unclamped, L-BFGS pushes pixels far past 0 and 255 after ~50 iterations
//! and the written (clamped) image scores worse than the loss it reported (measured on the
//! starry_night comparison: 9.4e5 at 50 iterations, 1.15e6 at 100).

use std::time::Instant;

use anyhow::{Result, ensure};
use burn::prelude::*;
use fauve_infer::ImageTensor;

use crate::lbfgs::{Lbfgs, LbfgsConfig, Objective, Progress};
use crate::loss::PerceptualLoss;
use crate::metrics::LossValues;
use crate::transformer::image_to_tensor;
use crate::vgg::Features;

/// Which optimiser moves the pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// L-BFGS ([`crate::lbfgs`]): Gatys et al.'s choice, the fastest to converge per evaluation.
    Lbfgs,
    /// Adam with [`OptimizeOptions::adam_learning_rate`] in pixel units (0–255 scale).
    Adam,
}

/// Where the pixels start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// The content photo itself (converges fastest, keeps the most content).
    Content,
    /// Uniform white noise on 0–255 from [`OptimizeOptions::seed`] (Gatys et al.'s start).
    Noise,
}

#[derive(Debug, Clone)]
pub struct OptimizeOptions {
    pub method: Method,
    /// L-BFGS iterations or Adam steps. An L-BFGS iteration costs one objective evaluation
    /// when its first trial step is accepted, more when the line search backtracks.
    pub iterations: usize,
    pub init: Init,
    pub seed: u64,
    /// Adam's step size on the 0–255 pixel scale. Default 10: about 4 % of the range per
    /// step at first, the usual choice for pixel optimisation at this scale.
    pub adam_learning_rate: f64,
    pub lbfgs: LbfgsConfig,
}

impl Default for OptimizeOptions {
    fn default() -> Self {
        Self {
            method: Method::Lbfgs,
            iterations: 300,
            init: Init::Content,
            seed: 0,
            adam_learning_rate: 10.0,
            lbfgs: LbfgsConfig::default(),
        }
    }
}

/// The state after one iteration (iteration 0 is the starting image).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IterationReport {
    pub iteration: usize,
    /// Objective evaluations (VGG forward + backward) so far.
    pub evaluations: usize,
    /// Seconds since the optimisation started (content features included).
    pub elapsed_secs: f64,
    /// The loss of the current image (its pixels clamped to 0–255).
    pub losses: LossValues,
}

#[derive(Debug, Clone)]
pub struct OptimizeResult {
    /// The last image, clamped to 0–255 (not rounded).
    pub image: ImageTensor,
    /// One entry per iteration, iteration 0 (the start) first.
    pub history: Vec<IterationReport>,
    pub elapsed_secs: f64,
    pub evaluations: usize,
    /// Set when L-BFGS stopped before the requested iterations (converged or stalled).
    pub stopped_early: Option<String>,
}

impl OptimizeResult {
    pub fn last(&self) -> &IterationReport {
        self.history
            .last()
            .expect("the history holds at least the start")
    }
}

/// Optimises an image of `content`'s size so that `loss` of it against `content` is minimal.
///
/// `device` is where the VGG runs (its autodiff twin is used for gradients; `loss` must have
/// been built on that device or its autodiff twin). `on_iteration` sees every iteration's
/// report and image, the start (iteration 0) included: for progress bars and frames.
pub fn optimize(
    loss: &PerceptualLoss,
    content: &ImageTensor,
    device: &Device,
    options: &OptimizeOptions,
    mut on_iteration: impl FnMut(&IterationReport, &ImageTensor),
) -> Result<OptimizeResult> {
    ensure!(
        options.iterations > 0,
        "the number of iterations must be at least 1"
    );
    let started = Instant::now();
    let mut objective = PixelObjective::new(loss, content, device);
    let x0 = match options.init {
        Init::Content => content.data.clone(),
        Init::Noise => uniform_noise(content.data.len(), options.seed),
    };
    let (width, height) = (content.width, content.height);
    let mut history = Vec::with_capacity(options.iterations + 1);
    let mut report = |iteration: usize, evaluations: usize, losses: LossValues, x: &[f32]| {
        let r = IterationReport {
            iteration,
            evaluations,
            elapsed_secs: started.elapsed().as_secs_f64(),
            losses,
        };
        on_iteration(&r, &ImageTensor::new(width, height, clamp_pixels(x)));
        history.push(r);
    };

    let (x, evaluations, stopped_early) = match options.method {
        Method::Lbfgs => {
            let mut lbfgs = Lbfgs::start(options.lbfgs.clone(), x0, &mut objective);
            report(0, 1, objective.last, lbfgs.x());
            let mut stopped = None;
            for iteration in 1..=options.iterations {
                match lbfgs.iterate(&mut objective) {
                    Progress::Moved => {
                        report(iteration, lbfgs.evaluations(), objective.last, lbfgs.x())
                    }
                    Progress::Stopped(reason) => {
                        stopped = Some(format!(
                            "stopped after {} iterations: {reason}",
                            iteration - 1
                        ));
                        break;
                    }
                }
            }
            let evaluations = lbfgs.evaluations();
            (lbfgs.into_x(), evaluations, stopped)
        }
        Method::Adam => {
            let mut adam = Adam::new(x0, options.adam_learning_rate);
            let mut stopped = None;
            for iteration in 0..=options.iterations {
                let (total, grad) = objective.evaluate(&adam.x);
                report(iteration, iteration + 1, objective.last, &adam.x);
                if !total.is_finite() {
                    stopped = Some(format!(
                        "stopped at iteration {iteration}: the loss became non-finite"
                    ));
                    break;
                }
                // The last evaluation only scores the final image.
                if iteration < options.iterations {
                    adam.step(&grad);
                    // Projected Adam: the variables themselves stay in range.
                    adam.x = clamp_pixels(&adam.x);
                }
            }
            let evaluations = history.len();
            (adam.x, evaluations, stopped)
        }
    };
    ensure!(
        history.last().is_some_and(|r| r.losses.is_finite()),
        "the loss became non-finite while optimising ({})",
        history
            .last()
            .map_or(String::new(), |r| r.losses.to_string())
    );
    Ok(OptimizeResult {
        image: ImageTensor::new(width, height, clamp_pixels(&x)),
        elapsed_secs: started.elapsed().as_secs_f64(),
        evaluations,
        history,
        stopped_early,
    })
}

/// The loss of `output` against `content` (both RGB 0–255, same size), without gradients:
/// how every image is scored by `fauve compare`, whatever produced it.
pub fn score(
    loss: &PerceptualLoss,
    output: &ImageTensor,
    content: &ImageTensor,
    device: &Device,
) -> Result<LossValues> {
    Ok(score_by_layer(loss, output, content, device)?.losses)
}

/// What [`score`] measures, with the style part also given layer by layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub losses: LossValues,
    /// `(layer, weighted style term)` in the configured order; they sum to `losses.style`.
    pub style_by_layer: Vec<(String, f32)>,
}

/// [`score`], keeping the style loss's split by layer (one VGG pass for both).
pub fn score_by_layer(
    loss: &PerceptualLoss,
    output: &ImageTensor,
    content: &ImageTensor,
    device: &Device,
) -> Result<Score> {
    ensure!(
        (output.width, output.height) == (content.width, content.height),
        "cannot score a {}×{} image against a {}×{} content image",
        output.width,
        output.height,
        content.width,
        content.height
    );
    let device = device.clone().inner();
    let (parts, style_terms) = loss.forward_by_layer(
        image_to_tensor(output, &device),
        image_to_tensor(content, &device),
    );
    let (names, terms): (Vec<String>, Vec<Tensor<1>>) = style_terms
        .into_iter()
        .map(|(name, term)| (name, term.reshape([1])))
        .unzip();
    let values = Tensor::cat(terms, 0).into_data().convert::<f32>();
    Ok(Score {
        losses: LossValues::read(&parts),
        style_by_layer: names.into_iter().zip(values.iter::<f32>()).collect(),
    })
}

/// Loss and gradient of the pixels, remembering the components of the last evaluation: one
/// evaluation is one VGG forward + backward (what `benches/lbfgs_eval.rs` times).
pub struct PixelObjective<'a> {
    loss: &'a PerceptualLoss,
    target: Features,
    shape: [usize; 4],
    device: Device,
    last: LossValues,
}

impl<'a> PixelObjective<'a> {
    /// Computes the content target once; `device` is made autodiff.
    pub fn new(loss: &'a PerceptualLoss, content: &ImageTensor, device: &Device) -> Self {
        let device = device.clone().autodiff();
        // The content never changes: its features are computed once.
        let target = loss.content_target(image_to_tensor(content, &device));
        let nan = LossValues {
            content: f32::NAN,
            style: f32::NAN,
            tv: f32::NAN,
            total: f32::NAN,
        };
        Self {
            loss,
            target,
            shape: content.shape(),
            device,
            last: nan,
        }
    }

    /// The loss components of the last evaluation (NaN before the first).
    pub fn last(&self) -> LossValues {
        self.last
    }
}

/// The pixels as a file holds them: clamped to 0–255.
pub fn clamp_pixels(x: &[f32]) -> Vec<f32> {
    x.iter().map(|v| v.clamp(0.0, 255.0)).collect()
}

/// f(clamp(x)): the loss of the clamped image. Its gradient is the loss's gradient where a
/// pixel lies within 0–255 (bounds included, so pixels starting at 0 or 255 can move back
/// in) and zero outside, where moving the variable does not change the image. The function
/// stays continuous, so L-BFGS's line search still guarantees that it decreases.
impl Objective for PixelObjective<'_> {
    fn evaluate(&mut self, x: &[f32]) -> (f64, Vec<f32>) {
        let image: Tensor<4> =
            Tensor::from_data(TensorData::new(clamp_pixels(x), self.shape), &self.device)
                .require_grad();
        let parts = self.loss.forward_with_target(image.clone(), &self.target);
        self.last = LossValues::read(&parts);
        let grads = parts.total.backward();
        let grad = image.grad(&grads).expect("the image requires a gradient");
        let mut grad = grad
            .into_data()
            .try_into_vec::<f32>()
            .expect("gradients are f32");
        for (g, v) in grad.iter_mut().zip(x) {
            if !(0.0..=255.0).contains(v) {
                *g = 0.0;
            }
        }
        (self.last.total as f64, grad)
    }
}

/// Adam (Kingma & Ba 2015) on the flat pixel vector, β = (0.9, 0.999), ε = 1e-8.
struct Adam {
    x: Vec<f32>,
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
    learning_rate: f64,
}

impl Adam {
    fn new(x: Vec<f32>, learning_rate: f64) -> Self {
        let n = x.len();
        Self {
            x,
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
            learning_rate,
        }
    }

    fn step(&mut self, grad: &[f32]) {
        const B1: f64 = 0.9;
        const B2: f64 = 0.999;
        self.t += 1;
        let (c1, c2) = (1.0 - B1.powi(self.t), 1.0 - B2.powi(self.t));
        for (((x, m), v), g) in self
            .x
            .iter_mut()
            .zip(&mut self.m)
            .zip(&mut self.v)
            .zip(grad)
        {
            let g = *g as f64;
            *m = B1 * *m + (1.0 - B1) * g;
            *v = B2 * *v + (1.0 - B2) * g * g;
            *x -= (self.learning_rate * (*m / c1) / ((*v / c2).sqrt() + 1e-8)) as f32;
        }
    }
}

/// `n` values uniform on [0, 255) from `seed` (splitmix64): the same noise on every machine
/// and backend, which burn's global RNG does not promise.
pub fn uniform_noise(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 40) as f32 / (1u64 << 24) as f32 * 255.0
        })
        .collect()
}
