use burn::prelude::*;

/// Mean squared error over every element, as torch's `mse_loss` (reduction `mean`).
///
/// `target` may live off the autodiff graph (a precomputed target): it is lifted onto
/// `output`'s as a constant.
pub fn mse<const D: usize>(output: Tensor<D>, target: Tensor<D>) -> Tensor<1> {
    let target = match (output.is_autodiff(), target.is_autodiff()) {
        (true, false) => target.autodiff(),
        (false, true) => target.inner(),
        _ => target,
    };
    (output - target).square().mean()
}
