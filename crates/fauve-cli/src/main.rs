//! `fauve`: fast neural style transfer — train, export, stylise, inspect.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "fauve", version, about = "Fast neural style transfer: train, export, stylise")]
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
    /// Export a network to ONNX (verified against ONNX Runtime).
    Export(commands::export::Args),
    /// Measure ONNX Runtime and end-to-end stylisation times.
    Bench(commands::bench::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.verbose {
        0 => "warn,fauve=info,fauve_cli=info,fauve_infer=info,fauve_train=info",
        1 => "info,fauve_cli=debug,fauve_infer=debug,fauve_train=debug",
        _ => "trace",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();

    let result = match cli.command {
        Command::Stylize(args) => commands::stylize::run(args),
        Command::Info(args) => commands::info::run(args),
        Command::Export(args) => commands::export::run(args),
        Command::Bench(args) => commands::bench::run(args),
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
