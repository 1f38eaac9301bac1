use std::process::ExitCode;

use clap::Parser;
use switchyard::cli::{self, Cli, Command};
use switchyard::config::Config;
use switchyard::telemetry;

/// mimalloc: the chat path allocates a few hundred small blocks a request (HTTP parsing, the
/// forwarded body, the answer), and glibc's malloc spent a fifth of its instructions on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit status for a configuration that cannot be used, as distinct from a failure at run time.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (config, source) = match Config::load(cli.config.as_deref()) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("switchyard: configuration error: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    telemetry::init_logging(&config.log);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("switchyard: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    match runtime.block_on(cli::run(command, config, source)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("switchyard: {error}");
            ExitCode::FAILURE
        }
    }
}
