//! The `keygate` binary: parse the command line and run it.

use std::process::ExitCode;

use clap::Parser as _;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    keygate::logging::init();
    keygate::cli::run(keygate::cli::Cli::parse()).await
}
