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
