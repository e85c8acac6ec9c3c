//! `TransformerNet`: the feed-forward style network of Johnson et al. (2016), in the layout of
//! pytorch/examples' `fast_neural_style` (instance norm instead of batch norm, reflection
//! padding, nearest ×2 upsampling followed by a convolution instead of transposed
//! convolutions).
//!
//! ```text
//! input 3×H×W (RGB, 0–255)
//!   conv1 9×9  3→32  s1 · in1 · relu      H×W            (size recorded: s1)
//!   conv2 3×3 32→64  s2 · in2 · relu      ⌈H/2⌉×⌈W/2⌉    (size recorded: s2)
//!   conv3 3×3 64→128 s2 · in3 · relu      ⌈H/4⌉×⌈W/4⌉
//!   res1…resN: x + in(conv3(relu(in(conv3(x)))))   N = 5 (Johnson et al.) or more
//!   deconv1: up×2, crop to s2, conv 3×3 128→64 · in4 · relu
//!   deconv2: up×2, crop to s1, conv 3×3 64→32  · in5 · relu
//!   deconv3: conv 9×9 32→3                 H×W, unclamped
//! ```
//!
//! Every convolution reads a reflection-padded input (padding k/2), so no zero border
//! darkens the edges. Cropping after each upsampling makes any H×W work (not only multiples
//! of 4) and returns exactly the input size. The smallest input is 5×5: the 9×9 convolutions
//! pad by 4, and reflection needs a side of at least 5 (see [`MIN_SIDE`]).
//!
//! Field names mirror the PyTorch example's `state_dict` keys (`conv1.conv2d.weight`,
//! `in1.weight`, `res1.conv1.conv2d.weight`, `deconv1.conv2d.weight`…); the ONNX exporter
//! names its initializers the same way.

use anyhow::{Context, Result, ensure};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{InstanceNorm, InstanceNormConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions, PadMode};
use fauve_infer::ImageTensor;

/// Re-exported so crates without a direct burn dependency (the CLI) can pick a device.
pub use burn::tensor::Device;

/// Smallest height or width the network accepts: the 9×9 convolutions reflect-pad by 4,
/// which needs at least 5 pixels on that side.
pub const MIN_SIDE: u32 = 5;

/// Epsilon of every instance norm (PyTorch's default, which ONNX `InstanceNormalization`
/// gets as its `epsilon` attribute).
pub const INSTANCE_NORM_EPSILON: f64 = 1e-5;

/// Johnson et al.'s number of residual blocks, the fewest a [`TransformerNet`] has.
pub const JOHNSON_RESIDUAL_BLOCKS: usize = 5;

/// Construction settings. The seed alone decides every initial weight, independently of
/// the backend's global RNG, so the same seed gives the same network on CPU and GPU.
#[derive(Config, Debug)]
pub struct TransformerNetConfig {
    #[config(default = 0)]
    pub seed: u64,
    /// Residual blocks at quarter resolution, at least [`JOHNSON_RESIDUAL_BLOCKS`].
    #[config(default = 5)]
    pub residual_blocks: usize,
}

impl TransformerNetConfig {
    pub fn init(&self, device: &Device) -> TransformerNet {
        let mut rng = SplitMix64::new(self.seed);
        let conv = |rng: &mut SplitMix64, c_in, c_out, k, stride| {
            ConvLayer::new(c_in, c_out, k, stride, rng, device)
        };
        let conv1 = conv(&mut rng, 3, 32, 9, 1);
        let conv2 = conv(&mut rng, 32, 64, 3, 2);
        let conv3 = conv(&mut rng, 64, 128, 3, 2);
        let mut res = || ResidualBlock::new(128, &mut rng, device);
        let (res1, res2, res3, res4, res5) = (res(), res(), res(), res(), res());
        let extra_res = (JOHNSON_RESIDUAL_BLOCKS..self.residual_blocks)
            .map(|_| res())
            .collect();
        let deconv1 = UpsampleConvLayer::from(conv(&mut rng, 128, 64, 3, 1));
        let deconv2 = UpsampleConvLayer::from(conv(&mut rng, 64, 32, 3, 1));
        let deconv3 = conv(&mut rng, 32, 3, 9, 1);
        TransformerNet {
            conv1,
            in1: instance_norm(32, device),
            conv2,
            in2: instance_norm(64, device),
            conv3,
            in3: instance_norm(128, device),
            res1,
            res2,
            res3,
            res4,
            res5,
            extra_res,
            deconv1,
            in4: instance_norm(64, device),
            deconv2,
            in5: instance_norm(32, device),
            deconv3,
        }
    }
}

/// The style transformer network. Input and output: `[batch, 3, H, W]`, RGB on 0–255.
#[derive(Module, Debug)]
pub struct TransformerNet {
    pub conv1: ConvLayer,
    pub in1: InstanceNorm,
    pub conv2: ConvLayer,
    pub in2: InstanceNorm,
    pub conv3: ConvLayer,
    pub in3: InstanceNorm,
    pub res1: ResidualBlock,
    pub res2: ResidualBlock,
    pub res3: ResidualBlock,
    pub res4: ResidualBlock,
    pub res5: ResidualBlock,
    /// Blocks after the fifth, `res6`… in the export; empty in Johnson et al.'s network.
    /// Kept apart from `res1`…`res5` so checkpoints of five-block runs still load.
    pub extra_res: Vec<ResidualBlock>,
    pub deconv1: UpsampleConvLayer,
    pub in4: InstanceNorm,
    pub deconv2: UpsampleConvLayer,
    pub in5: InstanceNorm,
    pub deconv3: ConvLayer,
}

impl TransformerNet {
    /// A freshly initialised network (seed 0).
    pub fn new(device: &Device) -> Self {
        TransformerNetConfig::new().init(device)
    }

    /// A freshly initialised network from `seed`.
    pub fn seeded(seed: u64, device: &Device) -> Self {
        TransformerNetConfig::new().with_seed(seed).init(device)
    }

    /// Stylises a batch `[N, 3, H, W]` (0–255) into the same shape; H, W ≥ [`MIN_SIDE`].
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = input.dims();
        assert!(
            h >= MIN_SIDE as usize && w >= MIN_SIDE as usize,
            "TransformerNet needs at least {MIN_SIDE}×{MIN_SIDE} pixels, got {w}×{h}"
        );
        let x = relu(self.in1.forward(self.conv1.forward(input)));
        let full_size = [h, w];
        let x = relu(self.in2.forward(self.conv2.forward(x)));
        let [_, _, h2, w2] = x.dims();
        let x = relu(self.in3.forward(self.conv3.forward(x)));
        let x = self
            .residual_blocks()
            .into_iter()
            .fold(x, |x, block| block.forward(x));
        let x = relu(self.in4.forward(self.deconv1.forward(x, [h2, w2])));
        let x = relu(self.in5.forward(self.deconv2.forward(x, full_size)));
        self.deconv3.forward(x)
    }

    /// The blocks in forward order, for exporters that walk the network.
    pub fn residual_blocks(&self) -> Vec<&ResidualBlock> {
        [&self.res1, &self.res2, &self.res3, &self.res4, &self.res5]
            .into_iter()
            .chain(&self.extra_res)
            .collect()
    }

    /// The same network with `blocks` residual blocks, the new ones appended after the last
    /// and initialised (from `seed`) to the identity: their second instance norm has scale and
    /// shift 0, so `x + 0` and the output is unchanged until training moves that scale.
    ///
    /// Why: to give a trained network more capacity at the scale the deepest style layer
    /// measures (each block widens the receptive field by 16 input pixels) without losing
    /// what it has learnt — training starts where the smaller network stopped (the zero-scale
    /// start of residual branches, as in Goyal et al. 2017).
    pub fn deepened(mut self, blocks: usize, seed: u64) -> Result<Self> {
        let have = self.residual_blocks().len();
        ensure!(
            blocks >= have,
            "the network has {have} residual blocks; it can gain blocks, not lose them \
             (asked for {blocks})"
        );
        let device = self.conv1.conv2d.weight.device();
        let channels = self.res5.in2.num_channels;
        let mut rng = SplitMix64::new(seed);
        for _ in have..blocks {
            let mut block = ResidualBlock::new(channels, &mut rng, &device);
            block.in2.gamma = Some(burn::module::Param::from_tensor(Tensor::zeros(
                [channels],
                &device,
            )));
            self.extra_res.push(block);
        }
        Ok(self)
    }

    /// Runs one image through the network on the device its weights live on.
    pub fn stylize(&self, image: &ImageTensor) -> Result<ImageTensor> {
        ensure!(
            image.width >= MIN_SIDE && image.height >= MIN_SIDE,
            "a {}×{} image is too small: the network needs at least {MIN_SIDE}×{MIN_SIDE} pixels",
            image.width,
            image.height
        );
        let device = self.conv1.conv2d.weight.device();
        let output = self.forward(image_to_tensor(image, &device));
        tensor_to_image(output)
    }
}

/// Reflection padding of `kernel/2`, then a bias-carrying convolution.
#[derive(Module, Debug)]
pub struct ConvLayer {
    pub conv2d: Conv2d,
    pub reflection_pad: usize,
}

impl ConvLayer {
    fn new(
        c_in: usize,
        c_out: usize,
        kernel: usize,
        stride: usize,
        rng: &mut SplitMix64,
        device: &Device,
    ) -> Self {
        let mut conv2d = Conv2dConfig::new([c_in, c_out], [kernel, kernel])
            .with_stride([stride, stride])
            .init(device);
        // PyTorch's default Conv2d init (kaiming_uniform with a = √5): weights and biases both
        // uniform in ±1/√fan_in. Drawn from our own seeded stream so it is backend-independent.
        let fan_in = c_in * kernel * kernel;
        let bound = 1.0 / (fan_in as f64).sqrt();
        let weights: Vec<f32> = (0..c_out * fan_in).map(|_| rng.uniform(bound)).collect();
        let biases: Vec<f32> = (0..c_out).map(|_| rng.uniform(bound)).collect();
        conv2d.weight = burn::module::Param::from_data(
            TensorData::new(weights, [c_out, c_in, kernel, kernel]),
            device,
        );
        conv2d.bias = Some(burn::module::Param::from_data(
            TensorData::new(biases, [c_out]),
            device,
        ));
        Self {
            conv2d,
            reflection_pad: kernel / 2,
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        reflect_pad_conv(&self.conv2d, self.reflection_pad, x)
    }
}

fn reflect_pad_conv(conv2d: &Conv2d, pad: usize, x: Tensor<4>) -> Tensor<4> {
    conv2d.forward(x.pad([(pad, pad), (pad, pad)], PadMode::Reflect))
}

/// `x + in2(conv2(relu(in1(conv1(x)))))`, channel count unchanged.
#[derive(Module, Debug)]
pub struct ResidualBlock {
    pub conv1: ConvLayer,
    pub in1: InstanceNorm,
    pub conv2: ConvLayer,
    pub in2: InstanceNorm,
}

impl ResidualBlock {
    fn new(channels: usize, rng: &mut SplitMix64, device: &Device) -> Self {
        Self {
            conv1: ConvLayer::new(channels, channels, 3, 1, rng, device),
            in1: instance_norm(channels, device),
            conv2: ConvLayer::new(channels, channels, 3, 1, rng, device),
            in2: instance_norm(channels, device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = relu(self.in1.forward(self.conv1.forward(x.clone())));
        let y = self.in2.forward(self.conv2.forward(y));
        x + y
    }
}

/// Nearest-neighbour ×2 upsampling, crop to the matching encoder size, then a [`ConvLayer`].
///
/// Upsampling then cropping (rather than resizing straight to the target) keeps every
/// output pixel a copy of input pixel `⌊i/2⌋`, which ONNX `Resize` (asymmetric, floor) plus
/// `Slice` reproduces exactly.
#[derive(Module, Debug)]
pub struct UpsampleConvLayer {
    pub conv2d: Conv2d,
    pub reflection_pad: usize,
}

impl From<ConvLayer> for UpsampleConvLayer {
    fn from(layer: ConvLayer) -> Self {
        Self {
            conv2d: layer.conv2d,
            reflection_pad: layer.reflection_pad,
        }
    }
}

impl UpsampleConvLayer {
    pub fn forward(&self, x: Tensor<4>, target: [usize; 2]) -> Tensor<4> {
        let [_, _, h, w] = x.dims();
        let up = interpolate(
            x,
            InterpolateOptions::new(InterpolateMode::Nearest).with_output_size([2 * h, 2 * w]),
        );
        let cropped = up.slice(s![.., .., 0..target[0], 0..target[1]]);
        reflect_pad_conv(&self.conv2d, self.reflection_pad, cropped)
    }
}

fn instance_norm(channels: usize, device: &Device) -> InstanceNorm {
    InstanceNormConfig::new(channels)
        .with_epsilon(INSTANCE_NORM_EPSILON)
        .with_affine(true)
        .init(device)
}

/// Planar RGB image → `[1, 3, H, W]` tensor (values unchanged, 0–255).
pub fn image_to_tensor(image: &ImageTensor, device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(image.data.clone(), image.shape()), device)
}

/// `[1, 3, H, W]` tensor → planar RGB image (values unchanged, not clamped).
pub fn tensor_to_image(tensor: Tensor<4>) -> Result<ImageTensor> {
    let [n, c, h, w] = tensor.dims();
    ensure!(
        n == 1 && c == 3,
        "expected a [1, 3, H, W] tensor, got [{n}, {c}, {h}, {w}]"
    );
    let data = tensor
        .into_data()
        .try_into_vec_as::<f32>()
        .map_err(|e| anyhow::anyhow!("{e:?}"))
        .context("reading the network output back from the device")?;
    Ok(ImageTensor::new(w as u32, h as u32, data))
}

/// SplitMix64: a tiny, well-mixed deterministic stream for weight initialisation. Kept
/// local (not the backend RNG) because burn's RNG is global per backend and differs between
/// CPU and CUDA, and parallel tests would interleave their draws.
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[-bound, bound)`.
    fn uniform(&mut self, bound: f64) -> f32 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((2.0 * unit - 1.0) * bound) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(width: u32, height: u32) -> ImageTensor {
        let n = (3 * width * height) as usize;
        ImageTensor::new(
            width,
            height,
            (0..n).map(|i| (i * 37 % 256) as f32).collect(),
        )
    }

    #[test]
    fn output_has_the_input_size_even_when_not_a_multiple_of_four() {
        let device = Device::flex();
        let net = TransformerNet::seeded(1, &device);
        for (w, h) in [(5, 5), (9, 5), (13, 7), (16, 16)] {
            let out = net.stylize(&ramp(w, h)).unwrap();
            assert_eq!((out.width, out.height), (w, h));
            assert!(out.data.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn images_below_the_minimum_side_are_an_error_not_a_panic() {
        let net = TransformerNet::seeded(1, &Device::flex());
        let err = net.stylize(&ramp(4, 9)).unwrap_err();
        assert!(err.to_string().contains("at least 5×5"), "{err}");
    }

    #[test]
    fn the_seed_decides_the_weights() {
        let device = Device::flex();
        let image = ramp(11, 9);
        let a = TransformerNet::seeded(7, &device).stylize(&image).unwrap();
        let b = TransformerNet::seeded(7, &device).stylize(&image).unwrap();
        let c = TransformerNet::seeded(8, &device).stylize(&image).unwrap();
        assert_eq!(a, b);
        assert!(a.max_abs_diff(&c) > 1e-3);
    }

    #[test]
    fn deepening_adds_blocks_that_leave_the_output_unchanged_until_trained() {
        let device = Device::flex().autodiff();
        let image = ramp(12, 10);
        let net = TransformerNet::seeded(4, &device);
        let before = net.stylize(&image).unwrap();
        let deep = net.deepened(8, 9).unwrap();
        assert_eq!(deep.residual_blocks().len(), 8);
        assert_eq!(deep.stylize(&image).unwrap(), before);

        // The new blocks learn: their zero scale has a gradient, so the first step moves it.
        let loss = deep
            .forward(image_to_tensor(&image, &device))
            .powf_scalar(2.0)
            .mean();
        let grads = loss.backward();
        let gamma = deep.extra_res[2].in2.gamma.as_ref().unwrap();
        let g = gamma.grad(&grads).expect("the new scale has a gradient");
        assert!(g.abs().sum().into_scalar::<f32>() > 0.0);

        let err = deep.deepened(6, 9).unwrap_err().to_string();
        assert!(err.contains("has 8 residual blocks"), "{err}");
    }

    #[test]
    fn a_deeper_network_is_built_from_its_config_and_differs() {
        let device = Device::flex();
        let config = TransformerNetConfig::new().with_seed(2);
        let five = config.init(&device);
        let seven = config.clone().with_residual_blocks(7).init(&device);
        assert_eq!(five.residual_blocks().len(), 5);
        assert_eq!(seven.residual_blocks().len(), 7);
        let image = ramp(9, 9);
        assert!(
            seven
                .stylize(&image)
                .unwrap()
                .max_abs_diff(&five.stylize(&image).unwrap())
                > 0.0
        );
    }

    #[test]
    fn upsampling_copies_pixel_floor_half_then_crops() {
        let device = Device::flex();
        // 1×1×2×3 → ×2 = 4×6 → crop to 3×5.
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 2., 3., 4., 5., 6.], [1, 1, 2, 3]),
            &device,
        );
        let [_, _, h, w] = x.dims();
        let up = interpolate(
            x,
            InterpolateOptions::new(InterpolateMode::Nearest).with_output_size([2 * h, 2 * w]),
        )
        .slice(s![.., .., 0..3, 0..5]);
        let values = up.into_data().try_into_vec_as::<f32>().unwrap();
        #[rustfmt::skip]
        let expected = vec![1., 1., 2., 2., 3.,
                            1., 1., 2., 2., 3.,
                            4., 4., 5., 5., 6.];
        assert_eq!(values, expected);
    }

    #[test]
    fn images_round_trip_through_tensors() {
        let image = ramp(6, 5);
        let back = tensor_to_image(image_to_tensor(&image, &Device::flex())).unwrap();
        assert_eq!(back, image);
    }

    #[test]
    fn the_network_is_differentiable() {
        let device = Device::flex().autodiff();
        let net = TransformerNet::seeded(3, &device);
        let x = image_to_tensor(&ramp(8, 8), &device);
        let loss = net.forward(x).powf_scalar(2.0).mean();
        let grads = loss.backward();
        let g = net
            .conv1
            .conv2d
            .weight
            .grad(&grads)
            .expect("conv1 weight has a gradient");
        assert!(g.abs().sum().into_scalar::<f32>() > 0.0);
    }
}
