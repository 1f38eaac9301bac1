use std::process::ExitCode;

use clap::Parser;
use switchyard::cli::{self, Cli, Command, EXIT_CONFIG, EXIT_FAILURE};
use switchyard::config::Config;
use switchyard::telemetry;

/// mimalloc: the chat path allocates a few hundred small blocks a request (HTTP parsing, the
/// forwarded body, the answer), and glibc's malloc spent a fifth of its instructions on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    match runtime.block_on(cli::run(command, config, source)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("switchyard: {}", one_line(&error));
            ExitCode::from(error.exit_code())
        }
    }
}

/// Errors are reported on one line, for logs and scripts; libpq, for one, explains a refused
/// connection over several.
fn one_line(error: &impl std::fmt::Display) -> String {
    let text = error.to_string();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
