//! A small builder over the raw protobuf messages: nodes with generated value names,
//! initializers from plain slices, attributes and typed graph inputs/outputs.
//!
//! Kept independent of the transformer so that tests (and other exporters) can assemble
//! small ONNX models — a toy classifier, a fixed-size network — without touching prost.

use super::proto::{
    AttributeProto, AttributeType, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto, data_type,
    tensor_shape_proto, type_proto,
};

/// The default-domain opset every fauve model imports.
pub const OPSET_VERSION: i64 = 17;

/// One axis of a graph input or output: a fixed size or a symbolic name (`"height"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    Fixed(i64),
    Named(String),
}

impl Dim {
    pub fn named(name: &str) -> Self {
        Dim::Named(name.to_owned())
    }
}

/// Collects nodes and initializers in the order they are added (which is topological when
/// every node only reads values added before it — the only way this builder is used).
#[derive(Debug, Default)]
pub struct GraphBuilder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    next_value: usize,
}

impl GraphBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a float32 constant (weights), stored little-endian in `raw_data`; returns its name.
    pub fn initializer_f32(&mut self, name: &str, dims: &[usize], values: &[f32]) -> String {
        assert_eq!(
            dims.iter().product::<usize>(),
            values.len(),
            "initializer {name}: dims do not match data"
        );
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.push_initializer(name, dims, data_type::FLOAT, raw)
    }

    /// Adds an int64 constant (pads, slice bounds, axes); returns its name.
    pub fn initializer_i64(&mut self, name: &str, dims: &[usize], values: &[i64]) -> String {
        assert_eq!(
            dims.iter().product::<usize>(),
            values.len(),
            "initializer {name}: dims do not match data"
        );
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.push_initializer(name, dims, data_type::INT64, raw)
    }

    fn push_initializer(&mut self, name: &str, dims: &[usize], elem: i32, raw: Vec<u8>) -> String {
        self.initializers.push(TensorProto {
            name: name.to_owned(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: Some(elem),
            raw_data: Some(raw),
            ..Default::default()
        });
        name.to_owned()
    }

    /// Adds a single-output node whose output gets a fresh generated name; returns that name.
    pub fn node(
        &mut self,
        op_type: &str,
        inputs: &[&str],
        attributes: Vec<AttributeProto>,
    ) -> String {
        let output = format!("{}_{}", op_type.to_lowercase(), self.next_value);
        self.node_with_output(op_type, inputs, attributes, &output)
    }

    /// Adds a single-output node writing to `output` (e.g. the graph's `"output"`).
    pub fn node_with_output(
        &mut self,
        op_type: &str,
        inputs: &[&str],
        attributes: Vec<AttributeProto>,
        output: &str,
    ) -> String {
        self.nodes.push(NodeProto {
            name: format!("{op_type}_{}", self.next_value),
            op_type: op_type.to_owned(),
            input: inputs.iter().map(|s| (*s).to_owned()).collect(),
            output: vec![output.to_owned()],
            attribute: attributes,
            ..Default::default()
        });
        self.next_value += 1;
        output.to_owned()
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Closes the graph with its typed inputs and outputs.
    pub fn finish(
        self,
        name: &str,
        inputs: Vec<ValueInfoProto>,
        outputs: Vec<ValueInfoProto>,
    ) -> GraphProto {
        GraphProto {
            name: name.to_owned(),
            node: self.nodes,
            initializer: self.initializers,
            input: inputs,
            output: outputs,
            ..Default::default()
        }
    }
}

/// A float32 tensor value description with the given axes.
pub fn tensor_value_info(name: &str, dims: &[Dim]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| tensor_shape_proto::Dimension {
            value: Some(match d {
                Dim::Fixed(v) => tensor_shape_proto::dimension::Value::DimValue(*v),
                Dim::Named(s) => tensor_shape_proto::dimension::Value::DimParam(s.clone()),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: name.to_owned(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(data_type::FLOAT),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Wraps a graph into a model importing the default opset [`OPSET_VERSION`].
pub fn model(
    graph: GraphProto,
    producer_version: &str,
    metadata: Vec<(String, String)>,
) -> ModelProto {
    ModelProto {
        ir_version: Some(super::proto::IR_VERSION_8),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: Some(OPSET_VERSION),
        }],
        producer_name: "fauve".to_owned(),
        producer_version: producer_version.to_owned(),
        graph: Some(graph),
        metadata_props: metadata
            .into_iter()
            .map(|(key, value)| StringStringEntryProto { key, value })
            .collect(),
        ..Default::default()
    }
}

pub fn attr_int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: name.to_owned(),
        r#type: Some(AttributeType::Int as i32),
        i: Some(value),
        ..Default::default()
    }
}

pub fn attr_ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.to_owned(),
        r#type: Some(AttributeType::Ints as i32),
        ints: values.to_vec(),
        ..Default::default()
    }
}

pub fn attr_float(name: &str, value: f32) -> AttributeProto {
    AttributeProto {
        name: name.to_owned(),
        r#type: Some(AttributeType::Float as i32),
        f: Some(value),
        ..Default::default()
    }
}

pub fn attr_string(name: &str, value: &str) -> AttributeProto {
    AttributeProto {
        name: name.to_owned(),
        r#type: Some(AttributeType::String as i32),
        s: Some(value.as_bytes().to_vec()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn a_built_model_round_trips_through_prost() {
        let mut g = GraphBuilder::new();
        let pads = g.initializer_i64("pads", &[8], &[0, 0, 1, 1, 0, 0, 1, 1]);
        let w = g.initializer_f32("w", &[1, 1, 1, 1], &[2.5]);
        let p = g.node("Pad", &["x", &pads], vec![attr_string("mode", "reflect")]);
        g.node_with_output(
            "Conv",
            &["x", &w],
            vec![attr_ints("kernel_shape", &[1, 1]), attr_int("group", 0)],
            "y",
        );
        let _ = p;
        let dims = [
            Dim::Fixed(1),
            Dim::Fixed(1),
            Dim::named("h"),
            Dim::named("w"),
        ];
        let graph = g.finish(
            "t",
            vec![tensor_value_info("x", &dims)],
            vec![tensor_value_info("y", &dims)],
        );
        let m = model(graph, "0.0.0", vec![("k".into(), "v".into())]);
        let bytes = m.encode_to_vec();
        let back = ModelProto::decode(bytes.as_slice()).unwrap();
        assert_eq!(back, m);
        // A zero-valued int attribute must still be present (proto2 presence).
        let conv = &back.graph.as_ref().unwrap().node[1];
        assert_eq!(conv.attribute[1].i, Some(0));
        assert_eq!(
            back.graph.unwrap().initializer[1].raw_data.as_deref(),
            Some(&2.5f32.to_le_bytes()[..])
        );
    }
}
