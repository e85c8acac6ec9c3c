//! Each loss against a hand computation on a tiny tensor.

use burn::prelude::*;
use fauve_train::loss::{ContentLoss, StyleLoss, gram_matrix, mse, total_variation};
use fauve_train::vgg::Features;

fn t4(values: &[f32], shape: [usize; 4]) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values.to_vec(), shape), &Device::flex())
}

fn scalar(t: Tensor<1>) -> f32 {
    t.into_scalar()
}

fn close(a: f32, b: f32) {
    assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} != {b}");
}

#[test]
fn gram_matrix_is_normalised_by_c_h_w() {
    // Two channels of two pixels: [1, 2] and [3, 4].
    let g = gram_matrix(t4(&[1.0, 2.0, 3.0, 4.0], [1, 2, 1, 2]));
    assert_eq!(g.dims(), [1, 2, 2]);
    let v = g.into_data().try_to_vec::<f32>().unwrap();
    // [[1+4, 3+8], [3+8, 9+16]] / (2·1·2)
    for (a, b) in v.iter().zip([1.25, 2.75, 2.75, 6.25]) {
        close(*a, b);
    }
}

#[test]
fn gram_matrix_keeps_batch_items_apart() {
    let g = gram_matrix(t4(&[1.0, 0.0, 0.0, 2.0], [2, 1, 1, 2]));
    let v = g.into_data().try_to_vec::<f32>().unwrap();
    close(v[0], 0.5); // (1² + 0²) / 2
    close(v[1], 2.0); // (0² + 2²) / 2
}

#[test]
fn mse_is_a_mean() {
    let a = t4(&[1.0, 2.0, 3.0, 4.0], [1, 1, 2, 2]);
    let b = t4(&[1.0, 0.0, 3.0, 0.0], [1, 1, 2, 2]);
    close(scalar(mse(a, b)), (4.0 + 16.0) / 4.0);
}

#[test]
fn total_variation_is_mean_squared_neighbour_difference() {
    // [[0, 1, 3],
    //  [2, 2, 2]]
    let x = t4(&[0.0, 1.0, 3.0, 2.0, 2.0, 2.0], [1, 1, 2, 3]);
    // horizontal: 1, 2, 0, 0 → squares mean 5/4; vertical: 2, 1, -1 → squares mean 6/3.
    close(scalar(total_variation(x)), 1.25 + 2.0);
}

#[test]
fn total_variation_of_a_flat_image_is_zero() {
    close(
        scalar(total_variation(Tensor::full(
            [2, 3, 4, 5],
            7.0,
            &Device::flex(),
        ))),
        0.0,
    );
}

#[test]
fn content_loss_sums_layer_mses() {
    let out = Features::from_entries(vec![
        ("a".into(), t4(&[1.0, 2.0], [1, 1, 1, 2])),
        ("b".into(), t4(&[3.0], [1, 1, 1, 1])),
    ]);
    let target = Features::from_entries(vec![
        ("a".into(), t4(&[0.0, 0.0], [1, 1, 1, 2])),
        ("b".into(), t4(&[1.0], [1, 1, 1, 1])),
    ]);
    let loss = ContentLoss::new(vec!["a".into(), "b".into()]);
    close(scalar(loss.forward(&out, &target)), (1.0 + 4.0) / 2.0 + 4.0);
}

#[test]
fn style_loss_broadcasts_the_style_gram_over_the_batch() {
    let style = Features::from_entries(vec![("a".into(), t4(&[1.0, 2.0, 3.0, 4.0], [1, 2, 1, 2]))]);
    let loss = StyleLoss::new(&style, &[("a".into(), 2.0)]);
    // Batch of two: the style image itself (zero loss) and zeros (Gram 0).
    let out = Features::from_entries(vec![(
        "a".into(),
        t4(&[1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0], [2, 2, 1, 2]),
    )]);
    let expected = 2.0 * (1.25f32.powi(2) + 2.0 * 2.75f32.powi(2) + 6.25f32.powi(2)) / 8.0;
    close(scalar(loss.forward(&out)), expected);
}
