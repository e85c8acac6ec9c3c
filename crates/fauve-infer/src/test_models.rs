//! Tiny ONNX models written by hand (protobuf wire format) for fauve-infer's unit tests, so
//! they need neither the `onnx` Python package nor fauve-train (which depends on us).
//! Only the handful of `onnx.proto` fields these models use are encoded.

use std::path::{Path, PathBuf};

/// One axis of a graph input/output.
pub enum Axis {
    Fixed(u64),
    Named(&'static str),
}

/// A protobuf message being written: fields appended in order.
#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    fn varint(&mut self, mut value: u64) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                self.0.push(byte);
                return;
            }
            self.0.push(byte | 0x80);
        }
    }

    fn int(mut self, field: u32, value: u64) -> Self {
        self.varint(u64::from(field << 3));
        self.varint(value);
        self
    }

    fn bytes(mut self, field: u32, value: &[u8]) -> Self {
        self.varint(u64::from(field << 3 | 2));
        self.varint(value.len() as u64);
        self.0.extend_from_slice(value);
        self
    }

    fn string(self, field: u32, value: &str) -> Self {
        self.bytes(field, value.as_bytes())
    }

    fn message(self, field: u32, value: Message) -> Self {
        self.bytes(field, &value.0)
    }
}

const FLOAT: u64 = 1;

/// `ValueInfoProto` of a float32 tensor.
fn value_info(name: &str, axes: &[Axis]) -> Message {
    let mut shape = Message::default();
    for axis in axes {
        let dim = match axis {
            Axis::Fixed(n) => Message::default().int(1, *n),
            Axis::Named(s) => Message::default().string(2, s),
        };
        shape = shape.message(1, dim);
    }
    let tensor = Message::default().int(1, FLOAT).message(2, shape);
    Message::default()
        .string(1, name)
        .message(2, Message::default().message(1, tensor))
}

/// A one-node model `op_type(input) -> output` with the given interface and metadata.
pub fn single_op_model(
    op_type: &str,
    input: &[Axis],
    output: &[Axis],
    metadata: &[(&str, &str)],
) -> Vec<u8> {
    let node = Message::default()
        .string(1, "input")
        .string(2, "output")
        .string(3, "node0")
        .string(4, op_type);
    let graph = Message::default()
        .message(1, node)
        .string(2, "test_graph")
        .message(11, value_info("input", input))
        .message(12, value_info("output", output));
    let mut model = Message::default()
        .int(1, 8)
        .string(2, "fauve-infer-tests")
        .message(7, graph)
        .message(8, Message::default().string(1, "").int(2, 17));
    for (key, value) in metadata {
        model = model.message(14, Message::default().string(1, key).string(2, value));
    }
    model.0
}

pub fn image_axes() -> Vec<Axis> {
    vec![
        Axis::Named("batch"),
        Axis::Fixed(3),
        Axis::Named("height"),
        Axis::Named("width"),
    ]
}

/// Writes `bytes` as `name` in `dir`, returning the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}
