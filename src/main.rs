//! The `keygate` binary: parse the command line and run it.

use std::process::ExitCode;

use clap::Parser as _;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let logs = keygate::logging::init();
    let code = keygate::cli::run(keygate::cli::Cli::parse()).await;
    logs.flush();
    code
}
