//! L-BFGS on functions whose minimum is known: it must get there, with either line search.

use fauve_train::lbfgs::{Lbfgs, LbfgsConfig, LineSearch, Progress};

/// Σ 100 (x[i+1] − x[i]²)² + (1 − x[i])², minimum 0 at (1, …, 1).
fn rosenbrock(x: &[f32]) -> (f64, Vec<f32>) {
    let x: Vec<f64> = x.iter().map(|v| *v as f64).collect();
    let mut f = 0.0;
    let mut g = vec![0.0f64; x.len()];
    for i in 0..x.len() - 1 {
        let a = x[i + 1] - x[i] * x[i];
        let b = 1.0 - x[i];
        f += 100.0 * a * a + b * b;
        g[i] += -400.0 * a * x[i] - 2.0 * b;
        g[i + 1] += 200.0 * a;
    }
    (f, g.into_iter().map(|v| v as f32).collect())
}

fn run(
    config: LbfgsConfig,
    x0: Vec<f32>,
    iterations: usize,
    f: &mut impl FnMut(&[f32]) -> (f64, Vec<f32>),
) -> Lbfgs {
    let mut lbfgs = Lbfgs::start(config, x0, f);
    for _ in 0..iterations {
        if let Progress::Stopped(_) = lbfgs.iterate(f) {
            break;
        }
    }
    lbfgs
}

fn assert_near_ones(x: &[f32], tolerance: f32) {
    for (i, v) in x.iter().enumerate() {
        assert!(
            (v - 1.0).abs() < tolerance,
            "x[{i}] = {v}, expected 1 (x = {x:?})"
        );
    }
}

#[test]
fn rosenbrock_2d_reaches_the_minimum() {
    let mut f = rosenbrock;
    let lbfgs = run(LbfgsConfig::default(), vec![-1.2, 1.0], 500, &mut f);
    assert!(
        lbfgs.loss() < 1e-8,
        "loss {} after {} iterations",
        lbfgs.loss(),
        lbfgs.iterations()
    );
    assert_near_ones(lbfgs.x(), 1e-3);
    // A quasi-Newton method solves the classic start in well under a hundred iterations.
    assert!(
        lbfgs.iterations() < 100,
        "{} iterations",
        lbfgs.iterations()
    );
    assert!(lbfgs.evaluations() > lbfgs.iterations());
}

#[test]
fn rosenbrock_in_ten_dimensions_reaches_the_minimum() {
    let mut f = rosenbrock;
    let x0: Vec<f32> = (0..10)
        .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
        .collect();
    let config = LbfgsConfig {
        history: 10,
        ..LbfgsConfig::default()
    };
    let lbfgs = run(config, x0, 1000, &mut f);
    assert!(lbfgs.loss() < 1e-8, "loss {}", lbfgs.loss());
    assert_near_ones(lbfgs.x(), 1e-3);
}

#[test]
fn the_loss_never_rises_with_backtracking() {
    let mut f = rosenbrock;
    let mut lbfgs = Lbfgs::start(LbfgsConfig::default(), vec![-1.2, 1.0, -1.2, 1.0], &mut f);
    let mut previous = lbfgs.loss();
    while let Progress::Moved = lbfgs.iterate(&mut f) {
        assert!(lbfgs.loss() <= previous, "{} > {previous}", lbfgs.loss());
        previous = lbfgs.loss();
    }
}

/// ½ Σ cᵢ (xᵢ − i)², condition number 100.
fn quadratic(x: &[f32]) -> (f64, Vec<f32>) {
    let mut f = 0.0;
    let mut g = Vec::with_capacity(x.len());
    for (i, v) in x.iter().enumerate() {
        let c = 1.0 + 99.0 * i as f64 / (x.len() - 1) as f64;
        let d = *v as f64 - i as f64;
        f += 0.5 * c * d * d;
        g.push((c * d) as f32);
    }
    (f, g)
}

#[test]
fn a_convex_quadratic_is_solved_with_either_line_search() {
    for line_search in [LineSearch::Backtracking, LineSearch::Fixed] {
        let mut f = quadratic;
        let config = LbfgsConfig {
            line_search,
            ..LbfgsConfig::default()
        };
        let lbfgs = run(config, vec![0.0; 20], 200, &mut f);
        for (i, v) in lbfgs.x().iter().enumerate() {
            assert!((v - i as f32).abs() < 1e-3, "{line_search:?}: x[{i}] = {v}");
        }
    }
}

#[test]
fn stops_at_a_stationary_point_without_evaluating_again() {
    let mut f = quadratic;
    let x0: Vec<f32> = (0..5).map(|i| i as f32).collect();
    let mut lbfgs = Lbfgs::start(LbfgsConfig::default(), x0, &mut f);
    assert!(matches!(lbfgs.iterate(&mut f), Progress::Stopped(_)));
    assert_eq!(lbfgs.evaluations(), 1);
}
