//! One file per subcommand; each exposes `Args` (clap) and `run`.

pub mod bench;
pub mod compare;
pub mod device;
pub mod export;
pub mod info;
pub mod models;
pub mod optimize;
pub mod stylize;
pub mod train;
