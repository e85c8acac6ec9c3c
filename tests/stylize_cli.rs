//! End-to-end tests of `fauve stylize`, `fauve info` and `fauve bench` through the real
//! binary, with a model exported by `fauve export` and images generated here.
//!
//! Every bad input must: exit non-zero, name the file and the reason on stderr, and leave no
//! output (nor temporary) file behind.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

mod common;
use common::{fauve, files_in, stderr};

use image::{DynamicImage, GrayImage, ImageFormat, Luma, Rgb, RgbImage, Rgba, RgbaImage};

/// Directory holding the models exported once for all tests (kept for the test run).
fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir").keep())
}

fn export(name: &str, extra: &[&str]) -> PathBuf {
    let path = fixtures().join(name);
    let output = fauve()
        .args(["export", "--init-seed", "7", "-o"])
        .arg(&path)
        .args(extra)
        .output()
        .expect("run fauve export");
    assert!(
        output.status.success(),
        "fauve export failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    path
}

/// The untrained but valid network every test runs (dynamic height and width).
fn model() -> &'static Path {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| export("model.onnx", &[]))
}

fn fixed_model() -> &'static Path {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| export("fixed.onnx", &["--fixed-size", "64x48"]))
}

/// A toy ONNX classifier: [1,3,224,224] → [1,1000]. Valid ONNX, but not a style network.
fn classifier_model() -> &'static Path {
    use fauve_train::onnx::graph::{Dim, GraphBuilder, model, tensor_value_info};
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| {
        let mut graph = GraphBuilder::new();
        let weights = graph.initializer_f32("fc", &[1000, 3], &vec![0.01; 3000]);
        let pooled = graph.node("GlobalAveragePool", &["input"], vec![]);
        let flat = graph.node("Flatten", &[&pooled], vec![]);
        graph.node_with_output(
            "Gemm",
            &[&flat, &weights],
            vec![fauve_train::onnx::graph::attr_int("transB", 1)],
            "logits",
        );
        let input = tensor_value_info(
            "input",
            &[
                Dim::Fixed(1),
                Dim::Fixed(3),
                Dim::Fixed(224),
                Dim::Fixed(224),
            ],
        );
        let output = tensor_value_info("logits", &[Dim::Fixed(1), Dim::Fixed(1000)]);
        let proto = model(
            graph.finish("classifier", vec![input], vec![output]),
            "test",
            vec![],
        );
        let path = fixtures().join("classifier.onnx");
        fauve_train::onnx::write_model(&proto, &path).expect("write classifier");
        path
    })
}

/// `fauve stylize --model MODEL INPUT -o OUT FLAGS…`, whatever its outcome.
fn run_stylize(model: &Path, input: &Path, out: &Path, flags: &[&str]) -> Output {
    fauve()
        .arg("stylize")
        .arg("--model")
        .arg(model)
        .arg(input)
        .arg("-o")
        .arg(out)
        .args(flags)
        .output()
        .expect("run fauve stylize")
}

/// [`run_stylize`] with the test model.
fn stylize_to(input: &Path, out: &Path, flags: &[&str]) -> Output {
    run_stylize(model(), input, out, flags)
}

/// Stylises `input` into `out` with the test model and extra flags, asserting success.
fn stylize_with(input: &Path, out: &Path, flags: &[&str]) -> Output {
    stylize_model_with(model(), input, out, flags)
}

fn stylize_model_with(model: &Path, input: &Path, out: &Path, flags: &[&str]) -> Output {
    let output = run_stylize(model, input, out, flags);
    assert!(output.status.success(), "{flags:?}: {}", stderr(&output));
    output
}

fn stylize(args: &[&std::ffi::OsStr]) -> Output {
    fauve()
        .arg("stylize")
        .arg("--model")
        .arg(model())
        .args(args)
        .output()
        .expect("run fauve stylize")
}

/// A colourful test picture of any size.
fn picture(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([
            (x * 7 % 256) as u8,
            (y * 11 % 256) as u8,
            ((x + y) * 3 % 256) as u8,
        ])
    })
}

fn save(image: &DynamicImage, path: &Path, format: ImageFormat) {
    image
        .save_with_format(path, format)
        .expect("save test image");
}

/// Saves `picture(width, height)` at `path` in `format`.
fn save_picture(path: &Path, width: u32, height: u32, format: ImageFormat) {
    save(
        &DynamicImage::ImageRgb8(picture(width, height)),
        path,
        format,
    );
}

fn dims(path: &Path) -> (u32, u32) {
    let image = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (image.width(), image.height())
}

/// Asserts a failed run: non-zero exit, stderr naming `name` and containing `reason`, and
/// no file at all in `out_dir`.
fn assert_refused(output: &Output, name: &str, reason: &str, out_dir: &Path) {
    let err = stderr(output);
    assert!(
        !output.status.success(),
        "expected failure, got success; stderr: {err}"
    );
    assert!(err.contains(name), "stderr should name {name:?}: {err}");
    assert!(
        err.to_lowercase().contains(&reason.to_lowercase()),
        "stderr should say {reason:?}: {err}"
    );
    assert_eq!(
        files_in(out_dir),
        Vec::<String>::new(),
        "nothing may be written on failure"
    );
}

#[test]
fn stylizes_to_png_jpg_and_webp_at_the_input_size_including_odd_sizes() {
    let dir = tempfile::tempdir().unwrap();
    for (w, h) in [(37, 23), (64, 48), (9, 31)] {
        let input = dir.path().join(format!("in-{w}x{h}.png"));
        save_picture(&input, w, h, ImageFormat::Png);
        for ext in ["png", "jpg", "webp"] {
            let out = dir.path().join(format!("out-{w}x{h}.{ext}"));
            let output = stylize_with(&input, &out, &[]);
            assert_eq!(dims(&out), (w, h), "{}", out.display());
            let format = image::ImageReader::open(&out)
                .unwrap()
                .with_guessed_format()
                .unwrap()
                .format();
            let expected = match ext {
                "png" => ImageFormat::Png,
                "jpg" => ImageFormat::Jpeg,
                _ => ImageFormat::WebP,
            };
            assert_eq!(format, Some(expected));
            // Per-image timings go to stderr.
            assert!(stderr(&output).contains("run "), "{}", stderr(&output));
        }
    }
}

#[test]
fn the_network_actually_changes_the_image() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.png");
    let picture = picture(40, 30);
    save(
        &DynamicImage::ImageRgb8(picture.clone()),
        &input,
        ImageFormat::Png,
    );
    let out = dir.path().join("out.png");
    stylize_with(&input, &out, &[]);
    assert_ne!(image::open(&out).unwrap().to_rgb8(), picture);
}

#[test]
fn a_directory_batch_writes_every_image_keeping_formats() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("photos");
    std::fs::create_dir(&inputs).unwrap();
    save_picture(&inputs.join("a.png"), 20, 16, ImageFormat::Png);
    save_picture(&inputs.join("b.jpg"), 24, 18, ImageFormat::Jpeg);
    save_picture(&inputs.join("c.webp"), 17, 19, ImageFormat::WebP);
    std::fs::write(inputs.join("notes.txt"), "not an image, not picked up").unwrap();
    let out = dir.path().join("out");
    stylize_with(&inputs, &out, &[]);
    assert_eq!(files_in(&out), ["a.png", "b.jpg", "c.webp"]);
    assert_eq!(dims(&out.join("c.webp")), (17, 19));
}

#[test]
fn quoted_globs_are_expanded_and_the_default_output_is_the_stylized_dir() {
    let dir = tempfile::tempdir().unwrap();
    save_picture(&dir.path().join("x1.png"), 20, 16, ImageFormat::Png);
    save_picture(&dir.path().join("x2.png"), 20, 16, ImageFormat::Png);
    save_picture(&dir.path().join("y.png"), 20, 16, ImageFormat::Png);
    let output = fauve()
        .current_dir(dir.path())
        .args(["stylize", "x*.png", "--model"])
        .arg(model())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(files_in(&dir.path().join("stylized")), ["x1.png", "x2.png"]);
}

#[test]
fn alpha_is_kept_in_png_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("logo.png");
    let rgba = RgbaImage::from_fn(30, 20, |x, y| {
        Rgba([200, (x * 8) as u8, (y * 12) as u8, (x * 255 / 29) as u8])
    });
    save(
        &DynamicImage::ImageRgba8(rgba.clone()),
        &input,
        ImageFormat::Png,
    );
    let out = dir.path().join("out.png");
    stylize_with(&input, &out, &[]);
    let result = image::open(&out).unwrap();
    assert!(result.color().has_alpha());
    let result = result.to_rgba8();
    for (x, y) in [(0, 0), (15, 10), (29, 19)] {
        assert_eq!(
            result.get_pixel(x, y)[3],
            rgba.get_pixel(x, y)[3],
            "alpha at ({x}, {y})"
        );
    }
}

/// A JPEG whose EXIF says "rotate 90° clockwise to display" (orientation 6).
fn jpeg_with_orientation(image: &RgbImage, orientation: u16) -> Vec<u8> {
    let mut jpeg = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
        .unwrap();
    // APP1 "Exif\0\0" + big-endian TIFF header + one IFD entry: 0x0112 Orientation, SHORT, 1.
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1]);
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend_from_slice(&tiff);
    let mut segment = vec![0xFF, 0xE1];
    segment.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    segment.extend_from_slice(&app1);
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    jpeg.splice(2..2, segment);
    jpeg
}

#[test]
fn exif_orientation_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("portrait.jpg");
    std::fs::write(&input, jpeg_with_orientation(&picture(40, 24), 6)).unwrap();
    let out = dir.path().join("out.png");
    stylize_with(&input, &out, &[]);
    assert_eq!(
        dims(&out),
        (24, 40),
        "a 90° EXIF rotation swaps width and height"
    );
}

fn palette_png(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_palette(vec![255, 0, 0, 0, 255, 0, 0, 0, 255, 250, 250, 10]);
    let mut writer = encoder.write_header().unwrap();
    let indices: Vec<u8> = (0..width * height).map(|i| (i % 4) as u8).collect();
    writer.write_image_data(&indices).unwrap();
    drop(writer);
    bytes
}

#[test]
fn grayscale_sixteen_bit_and_palette_inputs_become_rgb() {
    let dir = tempfile::tempdir().unwrap();
    let gray = dir.path().join("gray.png");
    save(
        &DynamicImage::ImageLuma8(GrayImage::from_fn(21, 13, |x, _| Luma([(x * 12) as u8]))),
        &gray,
        ImageFormat::Png,
    );
    let deep = dir.path().join("deep.png");
    let rgb16 = image::ImageBuffer::<Rgb<u16>, _>::from_fn(19, 11, |x, y| {
        Rgb([(x * 3000) as u16, (y * 5000) as u16, 40000])
    });
    save(&DynamicImage::ImageRgb16(rgb16), &deep, ImageFormat::Png);
    let palette = dir.path().join("palette.png");
    std::fs::write(&palette, palette_png(15, 12)).unwrap();

    let out = dir.path().join("out");
    let output = stylize(&[
        gray.as_os_str(),
        deep.as_os_str(),
        palette.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(dims(&out.join("gray.png")), (21, 13));
    assert_eq!(dims(&out.join("deep.png")), (19, 11));
    assert_eq!(dims(&out.join("palette.png")), (15, 12));
    assert!(
        !image::open(out.join("gray.png"))
            .unwrap()
            .color()
            .has_alpha()
    );
}

#[test]
fn max_size_bounds_the_longest_side() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.png");
    save_picture(&input, 120, 60, ImageFormat::Png);
    let out = dir.path().join("small.jpg");
    stylize_with(&input, &out, &["--max-size", "50"]);
    assert_eq!(dims(&out), (50, 25));
}

#[test]
fn a_fixed_size_model_still_returns_the_input_size() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.png");
    save_picture(&input, 37, 23, ImageFormat::Png);
    let out = dir.path().join("out.png");
    let output = fauve()
        .args(["stylize", "--model"])
        .arg(fixed_model())
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(dims(&out), (37, 23));
}

/// A tiny but well-formed PNG claiming `width`×`height`: signature, IHDR, one IDAT holding
/// an empty zlib stream, IEND (all with valid CRCs). Decoding it for real would need
/// width × height × 3 bytes.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

fn encoded(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), format)
        .unwrap();
    bytes
}

/// Each bad input, alone: refused with its name and reason, nothing written.
#[test]
fn every_bad_input_is_refused_clearly_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good_png = encoded(&DynamicImage::ImageRgb8(picture(40, 40)), ImageFormat::Png);
    let random: Vec<u8> = (0u32..4096)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.png", Vec::new(), "empty"),
        (
            "truncated.png",
            good_png[..good_png.len() / 2].to_vec(),
            "truncated",
        ),
        (
            "text.jpg",
            b"this is just a text file\n".to_vec(),
            "unrecognised image format",
        ),
        ("random.webp", random, "unrecognised image format"),
        ("huge.png", png_claiming(100_000, 100_000), "over the limit"),
        (
            "one.png",
            encoded(&DynamicImage::ImageRgb8(picture(1, 1)), ImageFormat::Png),
            "too small",
        ),
        (
            "three-by-five.png",
            encoded(&DynamicImage::ImageRgb8(picture(3, 5)), ImageFormat::Png),
            "too small",
        ),
    ];
    for (name, bytes, reason) in cases {
        let input = dir.path().join(name);
        std::fs::write(&input, bytes).unwrap();
        let out_dir = dir.path().join(format!("out-{name}"));
        std::fs::create_dir(&out_dir).unwrap();
        let out = out_dir.join("result.png");
        let started = std::time::Instant::now();
        let output = stylize_to(&input, &out, &[]);
        assert_refused(&output, name, reason, &out_dir);
        if name == "huge.png" {
            // Refused from the header: no 30 GB allocation, no long decode.
            assert!(
                started.elapsed().as_secs() < 20,
                "took {:?}",
                started.elapsed()
            );
        }
    }
}

#[test]
fn the_pixel_budget_can_be_raised_and_lowered() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.png");
    save_picture(&input, 40, 30, ImageFormat::Png);
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("r.png");
    let output = stylize_to(&input, &out, &["--max-pixels", "1000"]);
    assert_refused(&output, "in.png", "--max-pixels", &out_dir);
    stylize_with(&input, &out, &["--max-pixels", "1200"]);
}

#[test]
fn an_unwritable_output_path_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.png");
    save_picture(&input, 20, 20, ImageFormat::Png);
    // A path "under" a regular file cannot be created, even by root.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "a file, not a directory").unwrap();
    let out = blocker.join("out.png");
    let output = stylize_to(&input, &out, &[]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("blocker"), "{}", stderr(&output));
    assert_eq!(files_in(dir.path()), ["blocker", "in.png"]);

    let output = stylize_to(&input, &dir.path().join("out.gif"), &[]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("out.gif") && stderr(&output).contains("unsupported"),
        "{}",
        stderr(&output)
    );
}

/// Each bad model: refused with its path and reason, nothing written.
#[test]
fn bad_models_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.png");
    save_picture(&input, 20, 20, ImageFormat::Png);
    let exported = std::fs::read(model()).unwrap();
    let truncated = dir.path().join("truncated.onnx");
    std::fs::write(&truncated, &exported[..exported.len() / 3]).unwrap();
    let garbage = dir.path().join("garbage.onnx");
    std::fs::write(
        &garbage,
        b"\x08\x07 definitely not a protobuf \xff\xfe\x00\x01 model",
    )
    .unwrap();
    let cases: Vec<(PathBuf, &str)> = vec![
        (dir.path().join("missing.onnx"), "not found"),
        (truncated, "cannot be loaded"),
        (garbage, "cannot be loaded"),
        (classifier_model().to_path_buf(), "not a style network"),
    ];
    for (model_path, reason) in cases {
        let out_dir = dir.path().join("out");
        std::fs::create_dir_all(&out_dir).unwrap();
        let output = fauve()
            .args(["stylize", "--model"])
            .arg(&model_path)
            .arg(&input)
            .arg("-o")
            .arg(out_dir.join("r.png"))
            .output()
            .unwrap();
        let name = model_path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert_refused(&output, &name, reason, &out_dir);
    }
    // The classifier message says what was expected and what was found.
    let output = fauve()
        .args(["stylize", "--model"])
        .arg(classifier_model())
        .arg(&input)
        .output()
        .unwrap();
    let err = stderr(&output);
    assert!(
        err.contains("[batch, 3, height, width]") && err.contains("[1, 1000]"),
        "{err}"
    );
}

#[test]
fn a_mixed_batch_writes_the_good_lists_the_bad_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    save_picture(&inputs.join("good1.png"), 20, 20, ImageFormat::Png);
    std::fs::write(inputs.join("bad1.jpg"), "text").unwrap();
    save_picture(&inputs.join("bad2.png"), 2, 2, ImageFormat::Png);
    save_picture(&inputs.join("good2.jpg"), 25, 15, ImageFormat::Jpeg);
    let out = dir.path().join("out");
    let missing = dir.path().join("missing.png");
    let output = stylize(&[
        inputs.as_os_str(),
        missing.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "--json".as_ref(),
    ]);
    assert!(!output.status.success());
    assert_eq!(files_in(&out), ["good1.png", "good2.jpg"]);
    let err = stderr(&output);
    let summary = &err[err
        .find("3 of 5 inputs failed")
        .unwrap_or_else(|| panic!("no summary: {err}"))..];
    for bad in ["bad1.jpg", "bad2.png", "missing.png"] {
        assert!(
            summary.contains(bad),
            "summary should list {bad}: {summary}"
        );
    }
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("--json prints JSON");
    assert_eq!(report["failed"], 3);
    assert_eq!(report["succeeded"], 2);
    let images = report["images"].as_array().unwrap();
    assert_eq!(images.len(), 5);
    let good = images
        .iter()
        .find(|i| i["input"].as_str().unwrap().ends_with("good2.jpg"))
        .unwrap();
    assert_eq!(
        (good["width"].as_u64(), good["height"].as_u64()),
        (Some(25), Some(15))
    );
    assert!(good["times"]["run_ms"].as_f64().unwrap() > 0.0);
    assert!(good["error"].is_null());
    let bad = images
        .iter()
        .find(|i| i["input"].as_str().unwrap().ends_with("bad1.jpg"))
        .unwrap();
    assert!(bad["error"].as_str().unwrap().contains("bad1.jpg"));
}

#[test]
fn styles_are_found_by_name_and_unknown_ones_list_the_available() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("shipped");
    std::fs::create_dir(&models).unwrap();
    std::fs::copy(model(), models.join("candy.onnx")).unwrap();
    let input = dir.path().join("in.png");
    save_picture(&input, 20, 20, ImageFormat::Png);
    let out = dir.path().join("out.png");
    let output = fauve()
        .current_dir(dir.path())
        .env("FAUVE_MODELS", &models)
        .args(["stylize", "--style", "candy"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(out.is_file());

    let output = fauve()
        .current_dir(dir.path())
        .env("FAUVE_MODELS", &models)
        .args(["stylize", "--style", "no_such_style"])
        .arg(&input)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("no_such_style") && err.contains("candy"),
        "{err}"
    );
}

#[test]
fn info_shows_interface_and_provenance() {
    let output = fauve().arg("info").arg(model()).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("input: float32 ["), "{text}");
    assert!(text.contains("dynamic:"), "{text}");
    assert!(text.contains("fauve.style"), "{text}");

    let output = fauve()
        .args(["info", "--json"])
        .arg(model())
        .output()
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(info["inputs"][0]["dims"][1], 3);
    assert!(info["metadata"]["fauve.style"].is_string(), "{info}");

    let output = fauve()
        .arg("info")
        .arg(classifier_model())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("fauve can run it: no"), "{text}");
}

#[test]
fn bench_prints_a_table_with_both_timings() {
    let output = fauve()
        .args([
            "bench",
            "--sizes",
            "16,24",
            "--runs",
            "5",
            "--warmup",
            "1",
            "--threads",
            "1",
            "--model",
        ])
        .arg(model())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        table.contains("| 16×16 |") && table.contains("| 24×24 |"),
        "{table}"
    );
    assert!(table.contains("e2e / run"), "{table}");
}

#[test]
fn a_missing_onnx_runtime_says_how_to_install_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.png");
    save_picture(&input, 20, 20, ImageFormat::Png);
    let output = stylize_with_runtime(&input, &dir.path().join("no-such-libonnxruntime.so"));
    let err = stderr(&output);
    assert!(!output.status.success());
    assert!(err.contains("no-such-libonnxruntime.so"), "{err}");
    assert!(err.contains("pip install onnxruntime"), "{err}");
    assert_eq!(files_in(dir.path()), ["in.png"]);
}

fn stylize_with_runtime(input: &Path, runtime: &Path) -> Output {
    fauve()
        .env("ORT_DYLIB_PATH", runtime)
        .args(["stylize", "--model"])
        .arg(model())
        .arg(input)
        .arg("-o")
        .arg(input.with_file_name("out.png"))
        .output()
        .unwrap()
}

#[test]
fn an_input_is_never_overwritten_by_its_own_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("photo.png");
    save_picture(&input, 20, 20, ImageFormat::Png);
    let before = std::fs::read(&input).unwrap();
    let output = stylize_to(&input, &input, &[]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("photo.png") && stderr(&output).contains("overwrite"),
        "{}",
        stderr(&output)
    );
    assert_eq!(std::fs::read(&input).unwrap(), before);
}

#[test]
fn an_unknown_or_unavailable_device_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.png");
    save_picture(&input, 20, 20, ImageFormat::Png);
    let out = dir.path().join("out.png");
    let output = stylize_to(&input, &out, &["--device", "tpu"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("unknown device"),
        "{}",
        stderr(&output)
    );
    assert!(!out.exists());
}

#[test]
fn models_lists_the_styles_in_fauve_models_with_their_provenance() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(model(), dir.path().join("my_test_style.onnx")).unwrap();
    let output = fauve()
        .env("FAUVE_MODELS", dir.path())
        .arg("models")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let listing = String::from_utf8_lossy(&output.stdout);
    assert!(listing.contains("my_test_style"), "{listing}");
    assert!(listing.contains("untrained network"), "{listing}");

    // The listed name is what --style takes.
    let photo = dir.path().join("photo.png");
    picture(20, 16).save(&photo).unwrap();
    let out = dir.path().join("out.png");
    let run = fauve()
        .env("FAUVE_MODELS", dir.path())
        .args(["stylize", "--style", "my_test_style"])
        .arg(&photo)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(dims(&out), (20, 16));
}

// --- Colour and strength (issue #6) ---

/// A stand-in "style" whose output stays well inside 0–255 (the untrained network's is
/// nearly black, leaving no luminance at which the photo's colours exist): a 1×1 convolution
/// that swaps red and blue and compresses the range, `out_c = 0.6·in_(2−c) + 50`.
fn channel_swap_model() -> &'static Path {
    use fauve_train::onnx::graph::{Dim, GraphBuilder, model, tensor_value_info};
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| {
        let mut graph = GraphBuilder::new();
        #[rustfmt::skip]
        let mix = [
            0.0, 0.0, 0.6,
            0.0, 0.6, 0.0,
            0.6, 0.0, 0.0,
        ];
        let weights = graph.initializer_f32("mix", &[3, 3, 1, 1], &mix);
        let bias = graph.initializer_f32("bias", &[3], &[50.0; 3]);
        graph.node_with_output("Conv", &["input", &weights, &bias], vec![], "output");
        let image = |name: &str| {
            tensor_value_info(
                name,
                &[
                    Dim::Fixed(1),
                    Dim::Fixed(3),
                    Dim::named("height"),
                    Dim::named("width"),
                ],
            )
        };
        let proto = model(
            graph.finish("channel_swap", vec![image("input")], vec![image("output")]),
            "test",
            vec![],
        );
        let path = fixtures().join("channel_swap.onnx");
        fauve_train::onnx::write_model(&proto, &path).expect("write channel swap model");
        path
    })
}

/// BT.601 full-range YCbCr of one RGB8 pixel (the JPEG convention), written out here
/// independently of fauve-infer.
fn ycbcr(pixel: &Rgb<u8>) -> [f64; 3] {
    let [r, g, b] = pixel.0.map(f64::from);
    [
        0.299 * r + 0.587 * g + 0.114 * b,
        128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b,
        128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b,
    ]
}

/// Per YCbCr component: the mean and the largest absolute difference between two images.
fn ycbcr_differences(a: &RgbImage, b: &RgbImage) -> [(f64, f64); 3] {
    let mut sums = [0.0; 3];
    let mut maxima = [0.0f64; 3];
    for (pa, pb) in a.pixels().zip(b.pixels()) {
        let (ya, yb) = (ycbcr(pa), ycbcr(pb));
        for c in 0..3 {
            let d = (ya[c] - yb[c]).abs();
            sums[c] += d;
            maxima[c] = maxima[c].max(d);
        }
    }
    let n = f64::from(a.width() * a.height());
    [0, 1, 2].map(|c| (sums[c] / n, maxima[c]))
}

#[test]
fn strength_zero_returns_the_photo_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.png");
    let photo = picture(37, 23);
    photo.save(&input).unwrap();
    for flags in [
        &["--strength", "0"][..],
        &["--strength", "0", "--preserve-color"],
    ] {
        let out = dir.path().join("out.png");
        stylize_with(&input, &out, flags);
        assert_eq!(image::open(&out).unwrap().to_rgb8(), photo, "{flags:?}");
    }
}

#[test]
fn strength_half_lies_between_the_photo_and_the_full_stylisation() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.png");
    let photo = picture(40, 30);
    photo.save(&input).unwrap();
    let full_path = dir.path().join("full.png");
    stylize_with(&input, &full_path, &[]);
    let half_path = dir.path().join("half.png");
    let run = stylize_with(&input, &half_path, &["--strength", "0.5", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["strength"], 0.5);
    assert_eq!(report["preserve_color"], false);

    let full = image::open(&full_path).unwrap().to_rgb8();
    let half = image::open(&half_path).unwrap().to_rgb8();
    assert_ne!(half, photo);
    assert_ne!(half, full);
    for ((p, f), h) in photo.pixels().zip(full.pixels()).zip(half.pixels()) {
        for c in 0..3 {
            let (p, f, h) = (f64::from(p[c]), f64::from(f[c]), f64::from(h[c]));
            // Half-way, within the two roundings to 8 bits.
            assert!(
                (h - (p + f) / 2.0).abs() <= 1.0,
                "photo {p}, full {f}, half {h}"
            );
            assert!(h >= p.min(f) - 1.0 && h <= p.max(f) + 1.0);
        }
    }
}

/// The inverse of [`ycbcr`], unclamped.
fn rgb_from_ycbcr([y, cb, cr]: [f64; 3]) -> [f64; 3] {
    let (cb, cr) = (cb - 128.0, cr - 128.0);
    [
        y + 1.402 * cr,
        y - 0.344136 * cb - 0.714136 * cr,
        y + 1.772 * cb,
    ]
}

#[test]
fn preserve_color_keeps_the_photos_chroma_and_the_styles_luminance() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.png");
    // Softer colours than `picture`, so that most of them exist at the style's luminance.
    let photo = RgbImage::from_fn(48, 36, |x, y| {
        Rgb(picture(48, 36).get_pixel(x, y).0.map(|v| 80 + v / 3))
    });
    photo.save(&input).unwrap();
    let style = channel_swap_model();
    let full_path = dir.path().join("full.png");
    stylize_model_with(style, &input, &full_path, &[]);
    let kept_path = dir.path().join("kept.png");
    let run = stylize_model_with(style, &input, &kept_path, &["--preserve-color", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["preserve_color"], true);
    assert_eq!(report["strength"], 1.0);

    let full = image::open(&full_path).unwrap().to_rgb8();
    let kept = image::open(&kept_path).unwrap().to_rgb8();
    let mut in_gamut = 0;
    for ((p, f), k) in photo.pixels().zip(full.pixels()).zip(kept.pixels()) {
        let [y_full, ..] = ycbcr(f);
        let [_, cb_photo, cr_photo] = ycbcr(p);
        let [y_kept, cb_kept, cr_kept] = ycbcr(k);
        // Every pixel: the style's Y with the photo's chroma, clamped into 0–255 (within the
        // roundings to 8 bits of the full stylisation and of this output).
        let expected = rgb_from_ycbcr([y_full, cb_photo, cr_photo]);
        for c in 0..3 {
            let wanted = expected[c].clamp(0.0, 255.0);
            assert!(
                (f64::from(k[c]) - wanted).abs() <= 1.5,
                "photo {p:?}, full {f:?}: kept {k:?}, expected {expected:?}"
            );
        }
        // Where no clamping was needed, Y, Cb and Cr themselves match.
        if expected.iter().all(|v| (1.0..=254.0).contains(v)) {
            in_gamut += 1;
            assert!((y_kept - y_full).abs() <= 1.0, "Y {y_kept} vs {y_full}");
            assert!(
                (cb_kept - cb_photo).abs() <= 1.5,
                "Cb {cb_kept} vs {cb_photo}"
            );
            assert!(
                (cr_kept - cr_photo).abs() <= 1.5,
                "Cr {cr_kept} vs {cr_photo}"
            );
        }
    }
    let total = photo.width() * photo.height();
    eprintln!("{in_gamut} of {total} pixels in gamut");
    assert!(
        in_gamut * 4 >= total,
        "only {in_gamut} of {total} pixels testable"
    );
    // The stylisation itself does change the chroma, so the above is not trivially true.
    let [_, cb_full, cr_full] = ycbcr_differences(&full, &photo);
    assert!(cb_full.0 + cr_full.0 > 3.0, "{cb_full:?} {cr_full:?}");
}

#[test]
fn bad_strengths_are_refused_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.png");
    picture(20, 16).save(&input).unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("out.png");
    for bad in ["-0.1", "1.5", "abc", "NaN"] {
        let output = stylize_to(&input, &out, &["--strength", bad]);
        assert_refused(&output, "--strength", "between 0 and 1", &out_dir);
        assert!(stderr(&output).contains(bad), "{bad}: {}", stderr(&output));
    }
}

#[test]
fn cmyk_jpeg_input_is_converted_to_the_right_rgb() {
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/cmyk.jpg");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cmyk.png");
    // Strength 0 writes the decoded photo itself: exactly what the decoder made of the CMYK.
    stylize_with(&input, &out, &["--strength", "0"]);
    let rgb = image::open(&out).unwrap().to_rgb8();
    assert_eq!(rgb.dimensions(), (24, 16));
    for (x, y) in [(0u32, 0u32), (12, 8), (23, 15)] {
        let expected = [200.0, 40.0 + 5.0 * y as f32, 10.0 * x as f32];
        let got = rgb.get_pixel(x, y).0;
        for c in 0..3 {
            assert!(
                (got[c] as f32 - expected[c]).abs() <= 8.0,
                "({x},{y}): {got:?} vs {expected:?}"
            );
        }
    }
    // And it stylises like any photo.
    let styled = dir.path().join("styled.jpg");
    stylize_with(&input, &styled, &[]);
    assert_eq!(dims(&styled), (24, 16));
}
