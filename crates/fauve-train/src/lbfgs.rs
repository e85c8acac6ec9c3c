//! Limited-memory BFGS (Nocedal 1980; Liu & Nocedal 1989) on a flat `f32` vector, one
//! iteration at a time, as `torch.optim.LBFGS` and Torch7's `optim.lbfgs` (which Gatys-style
//! implementations use).
//!
//! Why not burn's `LBFGS`: it optimises a `Module`'s parameters inside one `step` call that
//! runs many iterations, so there is no point between iterations to report losses, save
//! frames or snapshot the image without re-evaluating the objective. Here the caller drives
//! the loop ([`Lbfgs::iterate`]) and every function evaluation is counted.
//!
//! Vectors live on the host: an image of 256×171 is 131k values, so the two-loop recursion
//! costs a few milliseconds, against ~0.5 s for one VGG forward + backward. Vectors are `f32`
//! (history memory), dot products are accumulated in `f64`.

use std::collections::VecDeque;

/// How far to move along the L-BFGS direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineSearch {
    /// Step of `learning_rate` and no check, one evaluation per iteration: what Torch7
    /// neural-style and PyTorch's `LBFGS(line_search_fn=None)` do. Can increase the loss.
    Fixed,
    /// Backtracking until the Armijo (sufficient decrease) condition holds, shrinking by
    /// safeguarded quadratic interpolation. The first trial is the full step, which L-BFGS
    /// usually accepts, so this costs one evaluation most iterations and never lets the loss
    /// grow.
    Backtracking,
}

#[derive(Debug, Clone)]
pub struct LbfgsConfig {
    /// Number of (s, y) pairs kept. Default 100 (PyTorch's default).
    pub history: usize,
    /// Step length along the direction (PyTorch's `lr`). Default 1: the quasi-Newton
    /// direction is already scaled.
    pub learning_rate: f64,
    pub line_search: LineSearch,
    /// Stop when the largest gradient component is at most this. Default 1e-7.
    pub tolerance_grad: f64,
    /// Stop when a step changes the loss and every coordinate by less than this. Default 1e-9.
    pub tolerance_change: f64,
    /// Trials of the backtracking search before giving up. Default 20.
    pub max_line_search: usize,
}

impl Default for LbfgsConfig {
    fn default() -> Self {
        Self {
            history: 100,
            learning_rate: 1.0,
            line_search: LineSearch::Backtracking,
            tolerance_grad: 1e-7,
            tolerance_change: 1e-9,
            max_line_search: 20,
        }
    }
}

/// The function being minimised: value and gradient at a point.
pub trait Objective {
    fn evaluate(&mut self, x: &[f32]) -> (f64, Vec<f32>);
}

impl<F: FnMut(&[f32]) -> (f64, Vec<f32>)> Objective for F {
    fn evaluate(&mut self, x: &[f32]) -> (f64, Vec<f32>) {
        self(x)
    }
}

/// What one [`Lbfgs::iterate`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Progress {
    /// Moved to a new point (possibly with a higher loss under [`LineSearch::Fixed`]).
    Moved,
    /// Converged or stalled; `iterate` will do nothing more. The reason is for messages.
    Stopped(StopReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The gradient is (numerically) zero.
    GradientTolerance,
    /// The last step changed neither the loss nor the point.
    ChangeTolerance,
    /// The direction is not a descent direction even after a reset.
    NoDescent,
    /// The backtracking search found no decrease.
    LineSearchFailed,
    /// The objective returned a non-finite value at the accepted point.
    NonFinite,
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::GradientTolerance => "gradient below tolerance",
            Self::ChangeTolerance => "loss and image no longer change",
            Self::NoDescent => "no descent direction",
            Self::LineSearchFailed => "line search found no decrease",
            Self::NonFinite => "the loss became non-finite",
        })
    }
}

/// One (s, y) curvature pair with ρ = 1 / yᵀs.
struct Pair {
    s: Vec<f32>,
    y: Vec<f32>,
    rho: f64,
}

/// The optimiser's state: the current point, its loss and gradient, and the curvature history.
pub struct Lbfgs {
    config: LbfgsConfig,
    x: Vec<f32>,
    loss: f64,
    grad: Vec<f32>,
    history: VecDeque<Pair>,
    iterations: usize,
    evaluations: usize,
    stopped: Option<StopReason>,
}

impl Lbfgs {
    /// Evaluates the objective at `x0` (one evaluation) and gets ready to iterate.
    pub fn start(config: LbfgsConfig, x0: Vec<f32>, objective: &mut impl Objective) -> Self {
        let (loss, grad) = objective.evaluate(&x0);
        assert_eq!(
            grad.len(),
            x0.len(),
            "the gradient must have the point's length"
        );
        let stopped = match loss.is_finite() {
            true => None,
            false => Some(StopReason::NonFinite),
        };
        Self {
            config,
            x: x0,
            loss,
            grad,
            history: VecDeque::new(),
            iterations: 0,
            evaluations: 1,
            stopped,
        }
    }

    pub fn x(&self) -> &[f32] {
        &self.x
    }

    pub fn into_x(self) -> Vec<f32> {
        self.x
    }

    /// Loss at [`x`](Self::x).
    pub fn loss(&self) -> f64 {
        self.loss
    }

    pub fn gradient(&self) -> &[f32] {
        &self.grad
    }

    /// Iterations done (accepted steps).
    pub fn iterations(&self) -> usize {
        self.iterations
    }

    /// Objective evaluations so far, the start's included.
    pub fn evaluations(&self) -> usize {
        self.evaluations
    }

    pub fn stopped(&self) -> Option<StopReason> {
        self.stopped
    }

    /// One L-BFGS iteration: direction from the two-loop recursion, a step along it, and a
    /// history update.
    pub fn iterate(&mut self, objective: &mut impl Objective) -> Progress {
        if let Some(reason) = self.stopped {
            return Progress::Stopped(reason);
        }
        if max_abs(&self.grad) <= self.config.tolerance_grad {
            return self.stop(StopReason::GradientTolerance);
        }
        let mut direction = self.direction();
        let mut slope = dot(&self.grad, &direction);
        if slope > -self.config.tolerance_change {
            // A stale history can give an uphill direction: forget it and go down the gradient.
            self.history.clear();
            direction = self.grad.iter().map(|g| -g).collect();
            slope = dot(&self.grad, &direction);
            if slope > -self.config.tolerance_change {
                return self.stop(StopReason::NoDescent);
            }
        }
        // With no curvature yet the direction is the raw gradient, whose scale is unknown:
        // PyTorch's first step, min(1, 1/‖g‖₁)·lr, keeps it from jumping far.
        let step = match self.history.is_empty() {
            true => (1.0 / l1(&self.grad)).min(1.0) * self.config.learning_rate,
            false => self.config.learning_rate,
        };
        let Some((t, x_new, loss_new, grad_new)) =
            self.line_search(objective, &direction, slope, step)
        else {
            return self.stop(StopReason::LineSearchFailed);
        };
        if !loss_new.is_finite() {
            return self.stop(StopReason::NonFinite);
        }

        let s: Vec<f32> = direction.iter().map(|d| (t * *d as f64) as f32).collect();
        let y: Vec<f32> = grad_new
            .iter()
            .zip(&self.grad)
            .map(|(a, b)| a - b)
            .collect();
        let ys = dot(&y, &s);
        // Only pairs with positive curvature keep the inverse-Hessian estimate positive definite.
        if ys > 1e-10 {
            if self.history.len() == self.config.history {
                self.history.pop_front();
            }
            self.history.push_back(Pair {
                s,
                y,
                rho: 1.0 / ys,
            });
        }
        let loss_change = (loss_new - self.loss).abs();
        let moved = t * max_abs(&direction);
        self.x = x_new;
        self.loss = loss_new;
        self.grad = grad_new;
        self.iterations += 1;
        if loss_change < self.config.tolerance_change && moved < self.config.tolerance_change {
            self.stopped = Some(StopReason::ChangeTolerance);
        }
        Progress::Moved
    }

    fn stop(&mut self, reason: StopReason) -> Progress {
        self.stopped = Some(reason);
        Progress::Stopped(reason)
    }

    /// −H·g by the two-loop recursion, H₀ = (yᵀs / yᵀy)·I from the newest pair.
    fn direction(&self) -> Vec<f32> {
        let mut q: Vec<f64> = self.grad.iter().map(|g| -(*g as f64)).collect();
        let mut alphas = vec![0.0; self.history.len()];
        for (i, pair) in self.history.iter().enumerate().rev() {
            let alpha = pair.rho * dot_mixed(&pair.s, &q);
            alphas[i] = alpha;
            axpy(&mut q, -alpha, &pair.y);
        }
        if let Some(newest) = self.history.back() {
            let gamma = 1.0 / (newest.rho * dot(&newest.y, &newest.y));
            q.iter_mut().for_each(|v| *v *= gamma);
        }
        for (pair, alpha) in self.history.iter().zip(alphas) {
            let beta = pair.rho * dot_mixed(&pair.y, &q);
            axpy(&mut q, alpha - beta, &pair.s);
        }
        q.into_iter().map(|v| v as f32).collect()
    }

    /// Returns (step, point, loss, gradient) of the accepted trial.
    fn line_search(
        &mut self,
        objective: &mut impl Objective,
        direction: &[f32],
        slope: f64,
        first_step: f64,
    ) -> Option<(f64, Vec<f32>, f64, Vec<f32>)> {
        const ARMIJO_C1: f64 = 1e-4;
        let mut t = first_step;
        for _ in 0..self.config.max_line_search.max(1) {
            let x_new: Vec<f32> = self
                .x
                .iter()
                .zip(direction)
                .map(|(x, d)| (*x as f64 + t * *d as f64) as f32)
                .collect();
            let (loss, grad) = objective.evaluate(&x_new);
            self.evaluations += 1;
            if self.config.line_search == LineSearch::Fixed {
                return Some((t, x_new, loss, grad));
            }
            if loss.is_finite() && loss <= self.loss + ARMIJO_C1 * t * slope {
                return Some((t, x_new, loss, grad));
            }
            // Minimum of the quadratic through f(0), f'(0) and f(t), kept within [0.1t, 0.5t]
            // so the search neither stalls nor collapses.
            let shrunk = match loss.is_finite() {
                true => -slope * t * t / (2.0 * (loss - self.loss - slope * t)),
                false => 0.1 * t,
            };
            t = shrunk.clamp(0.1 * t, 0.5 * t);
        }
        None
    }
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

fn dot_mixed(a: &[f32], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * y).sum()
}

fn axpy(y: &mut [f64], a: f64, x: &[f32]) {
    y.iter_mut().zip(x).for_each(|(y, x)| *y += a * *x as f64);
}

fn max_abs(v: &[f32]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs() as f64))
}

fn l1(v: &[f32]) -> f64 {
    v.iter().map(|x| x.abs() as f64).sum()
}
