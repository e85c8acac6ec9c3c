//! The VGG layer table against torchvision's `features` layout.

use fauve_train::vgg::{LayerKind, VggDepth, VggError, layer_table};

fn conv_indices(depth: VggDepth) -> Vec<usize> {
    depth.convs().iter().map(|c| c.features_index).collect()
}

#[test]
fn vgg16_convolutions_sit_where_torchvision_stores_them() {
    assert_eq!(
        conv_indices(VggDepth::Vgg16),
        [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    );
}

#[test]
fn vgg19_convolutions_sit_where_torchvision_stores_them() {
    assert_eq!(
        conv_indices(VggDepth::Vgg19),
        [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
    );
}

#[test]
fn channels_follow_the_paper() {
    let convs = VggDepth::Vgg16.convs();
    let io: Vec<(usize, usize)> = convs
        .iter()
        .map(|c| (c.in_channels, c.out_channels))
        .collect();
    assert_eq!(io[0], (3, 64));
    assert_eq!(io[2], (64, 128));
    assert_eq!(io[4], (128, 256));
    assert_eq!(io[7], (256, 512));
    assert_eq!(io[12], (512, 512));
}

#[test]
fn layers_are_named_as_in_the_papers() {
    let names: Vec<String> = layer_table(VggDepth::Vgg16)
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(
        &names[..5],
        ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    );
    assert!(names.contains(&"relu4_3".to_string()));
    assert!(!names.contains(&"relu4_4".to_string()));
    let vgg19: Vec<String> = layer_table(VggDepth::Vgg19)
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert!(vgg19.contains(&"relu5_4".to_string()));
    assert_eq!(vgg19.last().unwrap(), "pool5");
    let pools = layer_table(VggDepth::Vgg19)
        .iter()
        .filter(|l| l.kind == LayerKind::MaxPool)
        .count();
    assert_eq!(pools, 5);
}

#[test]
fn convolutions_needed_for_a_layer() {
    assert_eq!(VggDepth::Vgg16.convs_needed_for("relu1_1").unwrap(), 1);
    assert_eq!(VggDepth::Vgg16.convs_needed_for("relu2_2").unwrap(), 4);
    assert_eq!(VggDepth::Vgg16.convs_needed_for("conv2_2").unwrap(), 4);
    assert_eq!(VggDepth::Vgg16.convs_needed_for("relu4_3").unwrap(), 10);
    assert_eq!(VggDepth::Vgg19.convs_needed_for("relu4_2").unwrap(), 10);
    assert_eq!(VggDepth::Vgg19.convs_needed_for("relu5_1").unwrap(), 13);
}

#[test]
fn unknown_layer_is_an_error_listing_the_known_ones() {
    let err = VggDepth::Vgg16.convs_needed_for("relu4_4").unwrap_err();
    assert!(matches!(err, VggError::UnknownLayer { .. }));
    let msg = err.to_string();
    assert!(msg.contains("relu4_4") && msg.contains("relu4_3"), "{msg}");
}
