//! Where an exported model comes from, written into the ONNX file's `metadata_props` so that
//! `fauve info` (or any ONNX tool) can tell which style, weights and run produced it.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// `metadata_props` keys, all under the `fauve.` prefix.
pub mod keys {
    pub const STYLE: &str = "fauve.style";
    pub const LOSS_NETWORK: &str = "fauve.loss_network";
    pub const CONTENT_WEIGHT: &str = "fauve.content_weight";
    pub const STYLE_WEIGHT: &str = "fauve.style_weight";
    pub const TV_WEIGHT: &str = "fauve.tv_weight";
    pub const ITERATIONS: &str = "fauve.iterations";
    pub const IMAGE_SIZE: &str = "fauve.image_size";
    /// Steps per crop size in training order, e.g. `128:1700,256:250` (see [`SizeStage`]).
    pub const SIZE_STAGES: &str = "fauve.size_stages";
    /// The full training configuration, as TOML text.
    pub const CONFIG: &str = "fauve.config";
    pub const SEED: &str = "fauve.seed";
    /// The steps of the checkpoints whose weights were averaged into this network, e.g.
    /// `3125,3150,3175` (see `fauve_train::averaging`); absent for a single checkpoint.
    pub const AVERAGED_STEPS: &str = "fauve.averaged_steps";
}

/// Training provenance of a network. Every field is optional: an untrained export knows only
/// its seed; only the fields that are set are written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Style name (usually the style image's file stem), e.g. `"mosaic"`.
    pub style: Option<String>,
    /// Loss network, e.g. `"vgg16"`.
    pub loss_network: Option<String>,
    pub content_weight: Option<f64>,
    pub style_weight: Option<f64>,
    pub tv_weight: Option<f64>,
    /// Training iterations (optimizer steps) done.
    pub iterations: Option<u64>,
    /// Side of the square training crops (the last stage's, when there were several).
    pub image_size: Option<u32>,
    /// How many steps were trained at each crop size, in order (progressive resizing).
    pub size_stages: Option<Vec<SizeStage>>,
    /// The whole training configuration as TOML text.
    pub config: Option<String>,
    /// Seed of the initial weights (and of the data order when trained).
    pub seed: Option<u64>,
    /// The checkpoints' steps when the network is the mean of several of one run's.
    pub averaged_steps: Option<Vec<u64>>,
}

impl Provenance {
    /// The `(key, value)` pairs written to `metadata_props`, in a stable order.
    pub fn to_metadata(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut put = |key: &str, value: Option<String>| {
            if let Some(value) = value {
                out.push((key.to_owned(), value));
            }
        };
        put(keys::STYLE, self.style.clone());
        put(keys::LOSS_NETWORK, self.loss_network.clone());
        put(
            keys::CONTENT_WEIGHT,
            self.content_weight.map(|v| v.to_string()),
        );
        put(keys::STYLE_WEIGHT, self.style_weight.map(|v| v.to_string()));
        put(keys::TV_WEIGHT, self.tv_weight.map(|v| v.to_string()));
        put(keys::ITERATIONS, self.iterations.map(|v| v.to_string()));
        put(keys::IMAGE_SIZE, self.image_size.map(|v| v.to_string()));
        put(
            keys::SIZE_STAGES,
            self.size_stages.as_deref().map(SizeStage::format_list),
        );
        put(keys::CONFIG, self.config.clone());
        put(keys::SEED, self.seed.map(|v| v.to_string()));
        put(
            keys::AVERAGED_STEPS,
            self.averaged_steps.as_ref().map(|steps| {
                let steps: Vec<String> = steps.iter().map(u64::to_string).collect();
                steps.join(",")
            }),
        );
        out
    }

    /// Reads the fields back from a model's metadata (unknown keys are ignored).
    pub fn from_metadata(metadata: &BTreeMap<String, String>) -> Result<Self> {
        fn parse<T: std::str::FromStr>(
            metadata: &BTreeMap<String, String>,
            key: &str,
        ) -> Result<Option<T>>
        where
            T::Err: std::error::Error + Send + Sync + 'static,
        {
            metadata
                .get(key)
                .map(|v| {
                    v.parse::<T>()
                        .with_context(|| format!("metadata {key} = {v:?} is not a valid value"))
                })
                .transpose()
        }
        Ok(Self {
            style: metadata.get(keys::STYLE).cloned(),
            loss_network: metadata.get(keys::LOSS_NETWORK).cloned(),
            content_weight: parse(metadata, keys::CONTENT_WEIGHT)?,
            style_weight: parse(metadata, keys::STYLE_WEIGHT)?,
            tv_weight: parse(metadata, keys::TV_WEIGHT)?,
            iterations: parse(metadata, keys::ITERATIONS)?,
            image_size: parse(metadata, keys::IMAGE_SIZE)?,
            size_stages: metadata
                .get(keys::SIZE_STAGES)
                .map(|v| {
                    SizeStage::parse_list(v)
                        .with_context(|| format!("metadata {}", keys::SIZE_STAGES))
                })
                .transpose()?,
            config: metadata.get(keys::CONFIG).cloned(),
            seed: parse(metadata, keys::SEED)?,
            averaged_steps: metadata
                .get(keys::AVERAGED_STEPS)
                .map(|v| {
                    v.split(',')
                        .map(|step| step.trim().parse::<u64>())
                        .collect::<Result<Vec<_>, _>>()
                        .with_context(|| {
                            format!(
                                "metadata {} = {v:?} is not a list of steps",
                                keys::AVERAGED_STEPS
                            )
                        })
                })
                .transpose()?,
        })
    }
}

/// A run of consecutive training steps at one crop size. A run trained small and finished
/// large has several, and the model's behaviour depends on all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizeStage {
    pub image_size: u32,
    pub steps: u64,
}

impl SizeStage {
    /// `stages` followed by `steps` more steps at `image_size`: the last stage grows when it
    /// has that size, otherwise a new one starts (none for zero steps).
    pub fn extended(stages: &[SizeStage], image_size: u32, steps: u64) -> Vec<SizeStage> {
        let mut out = stages.to_vec();
        match out.last_mut() {
            _ if steps == 0 => {}
            Some(last) if last.image_size == image_size => last.steps += steps,
            _ => out.push(SizeStage { image_size, steps }),
        }
        out
    }

    /// `128:1700,256:250`
    pub fn format_list(stages: &[SizeStage]) -> String {
        let parts: Vec<String> = stages
            .iter()
            .map(|s| format!("{}:{}", s.image_size, s.steps))
            .collect();
        parts.join(",")
    }

    pub fn parse_list(text: &str) -> Result<Vec<SizeStage>> {
        text.split(',')
            .map(|part| {
                let parsed = part.split_once(':').and_then(|(size, steps)| {
                    Some(SizeStage {
                        image_size: size.trim().parse().ok()?,
                        steps: steps.trim().parse().ok()?,
                    })
                });
                parsed.with_context(|| format!("{part:?} is not SIZE:STEPS (in {text:?})"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provenance_round_trips_through_metadata() {
        let p = Provenance {
            style: Some("mosaic".into()),
            loss_network: Some("vgg16".into()),
            content_weight: Some(1e5),
            style_weight: Some(1e10),
            tv_weight: Some(0.0),
            iterations: Some(40_000),
            image_size: Some(256),
            size_stages: Some(vec![
                SizeStage {
                    image_size: 128,
                    steps: 30_000,
                },
                SizeStage {
                    image_size: 256,
                    steps: 10_000,
                },
            ]),
            config: Some("[train]\nlr = 1e-3\n".into()),
            seed: Some(42),
            averaged_steps: Some(vec![39_950, 39_975, 40_000]),
        };
        let map: BTreeMap<_, _> = p.to_metadata().into_iter().collect();
        assert_eq!(map.len(), 11);
        assert_eq!(map["fauve.averaged_steps"], "39950,39975,40000");
        assert_eq!(map["fauve.size_stages"], "128:30000,256:10000");
        assert_eq!(Provenance::from_metadata(&map).unwrap(), p);
    }

    #[test]
    fn unset_fields_are_not_written() {
        let p = Provenance {
            seed: Some(3),
            ..Default::default()
        };
        assert_eq!(
            p.to_metadata(),
            vec![("fauve.seed".to_owned(), "3".to_owned())]
        );
    }

    #[test]
    fn steps_are_grouped_by_crop_size_in_order() {
        let mut stages = Vec::new();
        for size in [128, 128, 256, 256, 256, 128] {
            stages = SizeStage::extended(&stages, size, 1);
        }
        assert_eq!(SizeStage::extended(&stages, 512, 0), stages);
        assert_eq!(SizeStage::format_list(&stages), "128:2,256:3,128:1");
        assert_eq!(SizeStage::parse_list("128:2,256:3,128:1").unwrap(), stages);
    }

    #[test]
    fn a_malformed_size_stage_list_is_refused() {
        for bad in ["128", "128:x", "128:2;256:3", ""] {
            let err = SizeStage::parse_list(bad).unwrap_err();
            assert!(
                format!("{err:#}").contains("SIZE:STEPS"),
                "{bad:?}: {err:#}"
            );
        }
    }
}
