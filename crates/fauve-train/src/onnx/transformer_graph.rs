//! Translates a [`TransformerNet`] into an ONNX graph, layer for layer.
//!
//! Operators (default domain, opset 17):
//! - reflection padding → `Pad(mode="reflect")` with the pads as an int64 initializer;
//! - convolution → `Conv(kernel_shape, strides)`, weights/biases as float initializers;
//! - instance norm → `InstanceNormalization(epsilon)` (biased variance, like burn and PyTorch);
//! - upsampling → `Resize(mode="nearest", coordinate_transformation_mode="asymmetric",
//!   nearest_mode="floor", scales=[1,1,2,2])`: output pixel i copies input pixel ⌊i/2⌋,
//!   exactly burn's nearest interpolation;
//! - crop → `Shape(start=2)` of the matching encoder tensor, then `Slice(axes=[2,3])` of the
//!   upsampled tensor, so odd sizes come back to the input size whatever H×W is fed in.

use anyhow::{Context, Result};
use burn::nn::InstanceNorm;
use burn::nn::conv::Conv2d;
use burn::prelude::*;

use super::graph::{
    Dim, GraphBuilder, attr_float, attr_int, attr_ints, attr_string, tensor_value_info,
};
use super::proto::GraphProto;
use crate::transformer::{ConvLayer, TransformerNet, UpsampleConvLayer};

/// Name of the graph input (`[batch, 3, height, width]`, RGB 0–255).
pub const INPUT_NAME: &str = "input";
/// Name of the graph output (same shape as the input, unclamped).
pub const OUTPUT_NAME: &str = "output";

/// Builds the graph of `net`. With `fixed_size = Some((width, height))` the input and output
/// are declared `1×3×height×width`; otherwise batch, height and width are symbolic.
pub fn transformer_graph(
    net: &TransformerNet,
    fixed_size: Option<(u32, u32)>,
) -> Result<GraphProto> {
    let mut b = TransformerGraphBuilder::default();
    let input = INPUT_NAME.to_owned();

    let x = b.conv_layer("conv1", &net.conv1, &input)?;
    let x = b.norm_relu("in1", &net.in1, &x)?;
    let full_size_source = x.clone();
    let x = b.conv_layer("conv2", &net.conv2, &x)?;
    let x = b.norm_relu("in2", &net.in2, &x)?;
    let half_size_source = x.clone();
    let x = b.conv_layer("conv3", &net.conv3, &x)?;
    let mut x = b.norm_relu("in3", &net.in3, &x)?;

    for (i, block) in net.residual_blocks().into_iter().enumerate() {
        let name = format!("res{}", i + 1);
        let y = b.conv_layer(&format!("{name}.conv1"), &block.conv1, &x)?;
        let y = b.norm_relu(&format!("{name}.in1"), &block.in1, &y)?;
        let y = b.conv_layer(&format!("{name}.conv2"), &block.conv2, &y)?;
        let y = b.instance_norm(&format!("{name}.in2"), &block.in2, &y)?;
        x = b.g.node("Add", &[&x, &y], vec![]);
    }

    let x = b.upsample_conv_layer("deconv1", &net.deconv1, &x, &half_size_source)?;
    let x = b.norm_relu("in4", &net.in4, &x)?;
    let x = b.upsample_conv_layer("deconv2", &net.deconv2, &x, &full_size_source)?;
    let x = b.norm_relu("in5", &net.in5, &x)?;
    b.pad_conv(
        "deconv3",
        &net.deconv3.conv2d,
        net.deconv3.reflection_pad,
        &x,
        Some(OUTPUT_NAME),
    )?;

    let dims = match fixed_size {
        Some((width, height)) => vec![
            Dim::Fixed(1),
            Dim::Fixed(3),
            Dim::Fixed(height.into()),
            Dim::Fixed(width.into()),
        ],
        None => vec![
            Dim::named("batch"),
            Dim::Fixed(3),
            Dim::named("height"),
            Dim::named("width"),
        ],
    };
    Ok(b.g.finish(
        "fauve_transformer",
        vec![tensor_value_info(INPUT_NAME, &dims)],
        vec![tensor_value_info(OUTPUT_NAME, &dims)],
    ))
}

/// A [`GraphBuilder`] plus the constants shared between layers (pads, scales, crop bounds),
/// each added once on first use.
#[derive(Default)]
struct TransformerGraphBuilder {
    g: GraphBuilder,
    shared: std::collections::BTreeSet<String>,
}

impl TransformerGraphBuilder {
    fn shared_i64(&mut self, name: &str, values: &[i64]) -> String {
        if self.shared.insert(name.to_owned()) {
            self.g.initializer_i64(name, &[values.len()], values);
        }
        name.to_owned()
    }

    fn shared_f32(&mut self, name: &str, values: &[f32]) -> String {
        if self.shared.insert(name.to_owned()) {
            self.g.initializer_f32(name, &[values.len()], values);
        }
        name.to_owned()
    }

    fn norm_relu(&mut self, name: &str, norm: &InstanceNorm, x: &str) -> Result<String> {
        let y = self.instance_norm(name, norm, x)?;
        Ok(self.g.node("Relu", &[&y], vec![]))
    }

    fn conv_layer(&mut self, name: &str, layer: &ConvLayer, x: &str) -> Result<String> {
        self.pad_conv(name, &layer.conv2d, layer.reflection_pad, x, None)
    }

    fn upsample_conv_layer(
        &mut self,
        name: &str,
        layer: &UpsampleConvLayer,
        x: &str,
        size_source: &str,
    ) -> Result<String> {
        let scales = self.shared_f32("upsample_scales", &[1.0, 1.0, 2.0, 2.0]);
        let up = self.g.node(
            "Resize",
            // roi is unused by the asymmetric mode: "" marks the optional input as absent.
            &[x, "", &scales],
            vec![
                attr_string("mode", "nearest"),
                attr_string("coordinate_transformation_mode", "asymmetric"),
                attr_string("nearest_mode", "floor"),
            ],
        );
        let target = self
            .g
            .node("Shape", &[size_source], vec![attr_int("start", 2)]);
        let starts = self.shared_i64("crop_starts", &[0, 0]);
        let axes = self.shared_i64("crop_axes", &[2, 3]);
        let cropped = self
            .g
            .node("Slice", &[&up, &starts, &target, &axes], vec![]);
        self.pad_conv(name, &layer.conv2d, layer.reflection_pad, &cropped, None)
    }

    /// Pad + Conv; the Conv writes to `output` when given (the graph output), else a fresh name.
    fn pad_conv(
        &mut self,
        name: &str,
        conv: &Conv2d,
        pad: usize,
        x: &str,
        output: Option<&str>,
    ) -> Result<String> {
        let p = pad as i64;
        // ONNX pads: all begins (N, C, H, W), then all ends.
        let pads = self.shared_i64(&format!("reflect_pads_{p}"), &[0, 0, p, p, 0, 0, p, p]);
        let padded = self
            .g
            .node("Pad", &[x, &pads], vec![attr_string("mode", "reflect")]);

        let weight = conv.weight.val();
        let dims = weight.dims();
        let w = self.g.initializer_f32(
            &format!("{name}.conv2d.weight"),
            &dims,
            &values(weight).with_context(|| format!("{name} weight"))?,
        );
        let mut inputs = vec![padded, w];
        if let Some(bias) = &conv.bias {
            let bias = bias.val();
            let bias_dims = bias.dims();
            inputs.push(self.g.initializer_f32(
                &format!("{name}.conv2d.bias"),
                &bias_dims,
                &values(bias).with_context(|| format!("{name} bias"))?,
            ));
        }
        let k = conv.kernel_size.map(|v| v as i64);
        let s = conv.stride.map(|v| v as i64);
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let attributes = vec![attr_ints("kernel_shape", &k), attr_ints("strides", &s)];
        Ok(match output {
            Some(output) => self.g.node_with_output("Conv", &refs, attributes, output),
            None => self.g.node("Conv", &refs, attributes),
        })
    }

    fn instance_norm(&mut self, name: &str, norm: &InstanceNorm, x: &str) -> Result<String> {
        let channels = norm.num_channels;
        // A non-affine norm is the affine one with scale 1 and bias 0 (ONNX requires both).
        let scale = match &norm.gamma {
            Some(g) => values(g.val()).with_context(|| format!("{name} weight"))?,
            None => vec![1.0; channels],
        };
        let bias = match &norm.beta {
            Some(b) => values(b.val()).with_context(|| format!("{name} bias"))?,
            None => vec![0.0; channels],
        };
        let scale = self
            .g
            .initializer_f32(&format!("{name}.weight"), &[channels], &scale);
        let bias = self
            .g
            .initializer_f32(&format!("{name}.bias"), &[channels], &bias);
        Ok(self.g.node(
            "InstanceNormalization",
            &[x, &scale, &bias],
            vec![attr_float("epsilon", norm.epsilon as f32)],
        ))
    }
}

/// A parameter's values as f32, row-major (burn's layout, which is also ONNX's).
fn values<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>> {
    tensor
        .into_data()
        .try_into_vec_as::<f32>()
        .map_err(|e| anyhow::anyhow!("cannot read parameter values: {e:?}"))
}
