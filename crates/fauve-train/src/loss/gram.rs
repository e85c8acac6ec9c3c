use burn::prelude::*;

/// Gram matrix of a feature map: `[N, C, H, W]` → `[N, C, C]`, `G[n,i,j] = Σ_hw F[n,i,hw]·F[n,j,hw]`
/// divided by `C·H·W` (Johnson et al.'s normalisation), so that layers of different sizes and
/// images of different sizes give comparable values.
pub fn gram_matrix(features: Tensor<4>) -> Tensor<3> {
    let [n, c, h, w] = features.dims();
    let f = features.reshape([n, c, h * w]);
    let ft = f.clone().swap_dims(1, 2);
    f.matmul(ft).div_scalar((c * h * w) as f32)
}
