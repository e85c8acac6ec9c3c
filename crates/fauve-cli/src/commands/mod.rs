//! One file per subcommand; each exposes `Args` (clap) and `run`.

pub mod bench;
pub mod device;
pub mod export;
pub mod info;
pub mod models;
pub mod stylize;
pub mod train;
pub mod optimize;
pub mod compare;
