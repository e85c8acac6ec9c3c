//! `fauve`: fast neural style transfer — train, export, stylise, inspect.

mod commands;
mod logging;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "fauve",
    version,
    about = "Fast neural style transfer: train, export, stylise"
)]
struct Cli {
    /// Log more (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Stylise images with an ONNX style network.
    Stylize(commands::stylize::Args),
    /// Print an ONNX model's inputs, outputs and fauve provenance.
    Info(commands::info::Args),
    /// List the shipped styles (`--style NAME`).
    Models(commands::models::Args),
    /// Export a network to ONNX (verified against ONNX Runtime).
    Export(commands::export::Args),
    /// Measure ONNX Runtime and end-to-end stylisation times.
    Bench(commands::bench::Args),
    /// Train a style network from a painting (Johnson et al. 2016).
    Train(commands::train::Args),
    /// Style one photo by optimising its pixels (Gatys et al. 2016): slow, the reference.
    Optimize(commands::optimize::Args),
    /// Fast model vs optimisation on the same photos, scored under one loss: grid, plot, report.
    Compare(commands::compare::Args),
}

fn main() -> ExitCode {
    // burn makes a few tensors on its default device by itself (Adam's state when a checkpoint
    // is resumed), and in a CUDA build that default is the GPU, which a CPU run may not have.
    // Every tensor fauve makes names its device, and burn moves that state to the parameters'
    // device at the next step, so the CPU as default serves both.
    #[cfg(feature = "cuda")]
    if std::env::var_os("BURN_DEVICE").is_none() {
        // SAFETY: the first thing main does, before any thread exists.
        unsafe { std::env::set_var("BURN_DEVICE", "flex") };
    }
    let cli = Cli::parse();
    logging::init(cli.verbose);

    let result = match cli.command {
        Command::Stylize(args) => commands::stylize::run(args),
        Command::Info(args) => commands::info::run(args),
        Command::Models(args) => commands::models::run(args),
        Command::Export(args) => commands::export::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Train(args) => commands::train::run(args),
        Command::Optimize(args) => commands::optimize::run(args),
        Command::Compare(args) => commands::compare::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            // `{:#}` prints the whole context chain on one line: file, then reason.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
