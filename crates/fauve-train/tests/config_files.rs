//! The shipped TOML configs parse, and the documented default equals the built-in defaults.

use std::path::PathBuf;

use fauve_train::config::TrainConfig;

fn configs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../configs")
}

#[test]
fn default_toml_documents_exactly_the_built_in_defaults() {
    let file = TrainConfig::load(&configs_dir().join("default.toml")).unwrap();
    assert_eq!(file, TrainConfig::default());
}

#[test]
fn every_shipped_config_parses_and_round_trips() {
    let mut count = 0;
    for entry in std::fs::read_dir(configs_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let config = TrainConfig::load(&path).unwrap_or_else(|e| panic!("{e:#}"));
            assert_eq!(
                TrainConfig::from_toml(&config.to_toml()).unwrap(),
                config,
                "{}",
                path.display()
            );
            count += 1;
        }
    }
    assert!(count >= 1);
}

#[test]
fn unknown_keys_are_refused_with_the_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.toml");
    std::fs::write(&path, "[optim]\nlearnin_rate = 0.1\n").unwrap();
    let err = format!("{:#}", TrainConfig::load(&path).unwrap_err());
    assert!(
        err.contains("typo.toml") && err.contains("learnin_rate"),
        "{err}"
    );
}

#[test]
fn invalid_values_are_refused() {
    assert!(TrainConfig::from_toml("[optim]\nbatch_size = 0\n").is_err());
    assert!(TrainConfig::from_toml("[style]\nname = \"../escape\"\n").is_err());
}

#[test]
fn the_residual_block_count_defaults_to_johnsons_and_is_bounded() {
    // Configs (and models' embedded configs) from before the key have five blocks.
    let old = TrainConfig::from_toml("[optim]\nbatch_size = 2\n").unwrap();
    assert_eq!(old.network.residual_blocks, 5);
    let deep = TrainConfig::from_toml("[network]\nresidual_blocks = 8\n").unwrap();
    assert_eq!(deep.network.residual_blocks, 8);
    assert_eq!(TrainConfig::from_toml(&deep.to_toml()).unwrap(), deep);
    for bad in [0, 4, 33] {
        let err = format!(
            "{:#}",
            TrainConfig::from_toml(&format!("[network]\nresidual_blocks = {bad}\n")).unwrap_err()
        );
        assert!(err.contains("network.residual_blocks"), "{bad}: {err}");
    }
}

#[test]
fn a_learning_rate_schedule_parses_round_trips_and_picks_the_rate_by_step() {
    let config = TrainConfig::from_toml(
        "[optim]\nlearning_rate = 3e-4\nlearning_rate_steps = [\n  \
         { from_step = 100, learning_rate = 1e-4 },\n  \
         { from_step = 250, learning_rate = 3e-5 },\n]\n",
    )
    .unwrap();
    assert_eq!(TrainConfig::from_toml(&config.to_toml()).unwrap(), config);
    let rate = |steps_done| config.optim.learning_rate_at(steps_done);
    // The step made after `from_step` steps is the first at the new rate.
    assert_eq!(
        [
            rate(0),
            rate(99),
            rate(100),
            rate(249),
            rate(250),
            rate(9999)
        ],
        [3e-4, 3e-4, 1e-4, 1e-4, 3e-5, 3e-5]
    );
    // No schedule: the constant rate, and nothing extra in the saved config.
    let plain = TrainConfig::default();
    assert_eq!(plain.optim.learning_rate_at(123_456), 1e-3);
    assert!(!plain.to_toml().contains("learning_rate_steps"));
}

#[test]
fn a_schedule_out_of_order_or_with_a_bad_rate_is_refused() {
    let with = |steps: &str| {
        TrainConfig::from_toml(&format!("[optim]\nlearning_rate_steps = [{steps}]\n"))
    };
    let err = format!(
        "{:#}",
        with("{ from_step = 20, learning_rate = 1e-4 }, { from_step = 20, learning_rate = 3e-5 }")
            .unwrap_err()
    );
    assert!(err.contains("increasing order"), "{err}");
    let err = format!(
        "{:#}",
        with("{ from_step = 5, learning_rate = 0.0 }").unwrap_err()
    );
    assert!(err.contains("must be positive"), "{err}");
    assert!(with("{ from_step = 5 }").is_err());
    assert!(with("{ from_step = 5, learning_rate = 1e-4, gamma = 0.1 }").is_err());
}

#[test]
fn a_learning_rate_step_flag_reads_step_colon_rate() {
    use fauve_train::config::LearningRateStep;
    let step = LearningRateStep::parse("30000:1e-4").unwrap();
    assert_eq!((step.from_step, step.learning_rate), (30000, 1e-4));
    for bad in ["30000", "x:1e-4", "30000:y", "-1:1e-4"] {
        assert!(LearningRateStep::parse(bad).is_err(), "{bad}");
    }
}
