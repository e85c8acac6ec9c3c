//! One training step's loss and gradients, with the batch optionally split into shards that
//! run side by side on the CPU.
//!
//! Why shards: burn-flex parallelises inside each op, and many ops of a training step are too
//! small to keep several cores busy. Whole shards on separate cores do: on the 2-core
//! development machine a step with VGG19 to relu4_1 went from 3.23 to 4.26 images/s at 128²
//! and from 0.75 to 0.97 at 256² (README, "Training a style"). Each shard runs the whole
//! forward and backward pass on its own rayon pool, and the gradients are summed.
//!
//! The result equals the whole batch's up to rounding: every loss part is a mean over the
//! batch, instance norm works per image, so each shard's loss is weighted by its share of the
//! batch and the weighted gradients add up to the batch's.

use anyhow::{Context, Result, anyhow};
use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;

use crate::loss::PerceptualLoss;
use crate::metrics::LossValues;
use crate::transformer::TransformerNet;

/// Computes steps either on the caller's threads (one shard) or split into shards, each on its
/// own rayon pool.
pub struct StepRunner {
    /// One pool per shard; empty: the whole batch on the current pool.
    pools: Vec<rayon::ThreadPool>,
}

impl StepRunner {
    /// `shards` shards side by side, this machine's cores shared out evenly between them; 0 or
    /// 1: the whole batch at once, each op parallelised on the current rayon pool (GPUs).
    pub fn new(shards: usize) -> Result<Self> {
        if shards <= 1 {
            return Ok(Self { pools: Vec::new() });
        }
        let threads = (available_cores() / shards).max(1);
        let pools = (0..shards)
            .map(|i| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(move |t| format!("shard{i}-{t}"))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .context("cannot start the shard thread pools")?;
        Ok(Self { pools })
    }

    /// The CPU default: one shard per core, at most one per image.
    pub fn default_cpu_shards(batch_size: usize) -> usize {
        available_cores().min(batch_size).max(1)
    }

    /// How many shards a batch of `batch_size` is split into.
    pub fn shards(&self, batch_size: usize) -> usize {
        self.pools.len().clamp(1, batch_size.max(1))
    }

    /// The loss of `network` on `photos` (an autodiff batch) and its gradients, as one
    /// backward pass over the whole batch would give them. The loss parts stay on the device,
    /// stacked ([`LossValues::stack`]): the caller reads them when it has queued what it can.
    pub fn run(
        &self,
        network: &TransformerNet,
        loss: &PerceptualLoss,
        photos: Tensor<4>,
    ) -> Result<(Tensor<1>, GradientsParams)> {
        let batch = photos.dims()[0];
        if self.shards(batch) == 1 {
            return Ok(shard_step(network, loss, photos, 1.0));
        }
        let device = photos.device();
        let results = std::thread::scope(|scope| {
            let running: Vec<_> = photos
                .chunk(self.shards(batch), 0)
                .into_iter()
                .zip(&self.pools)
                .map(|(shard, pool)| {
                    let share = shard.dims()[0] as f32 / batch as f32;
                    // A fork has its own autodiff leaves (same parameter ids), so the shards'
                    // graphs stay apart and their backward passes do not share a lock.
                    let copy = network.clone().fork(&device);
                    scope.spawn(move || pool.install(|| shard_step(&copy, loss, shard, share)))
                })
                .collect();
            running
                .into_iter()
                .map(|handle| {
                    handle
                        .join()
                        .map_err(|_| anyhow!("a training shard panicked"))
                })
                .collect::<Result<Vec<_>>>()
        })?;

        let mut losses = Vec::with_capacity(results.len());
        let mut gradients = GradientsAccumulator::<TransformerNet>::new();
        for (shard_losses, shard_gradients) in results {
            losses.push(shard_losses);
            gradients.accumulate(network, shard_gradients);
        }
        let losses = Tensor::stack::<2>(losses, 0).sum_dim(0).reshape([4]);
        Ok((losses, gradients.grads()))
    }
}

fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Forward and backward over one shard, its loss weighted by `share` of the batch.
fn shard_step(
    network: &TransformerNet,
    loss: &PerceptualLoss,
    photos: Tensor<4>,
    share: f32,
) -> (Tensor<1>, GradientsParams) {
    let stylised = network.forward(photos.clone());
    let parts = loss.forward(stylised, photos).scaled(share);
    // Nothing is read here: a read between forward and backward would make a GPU wait for
    // the forward pass to finish before the backward pass is even queued.
    let losses = LossValues::stack(&parts);
    let gradients = GradientsParams::from_grads(parts.total.backward(), network);
    (losses, gradients)
}
