//! The `sfnn` command line. `main.rs` only calls [`main`].

mod bench;
mod eval;
mod output;
mod run;
mod serve;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "sfnn",
    version,
    about = "Evolve Structurally Flexible Neural Networks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API and the dashboard, with in-process workers.
    Serve(serve::ServeArgs),
    /// Run one evolution job to completion, without a server.
    Run(run::RunArgs),
    /// Evaluate a genome file on an environment and print per-episode returns.
    Eval(eval::EvalArgs),
    /// Measure executor throughput on the paper configuration.
    Bench(bench::BenchArgs),
}

pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "sfnn=info,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal, not in log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::serve(args),
        Command::Run(args) => run::run(args),
        Command::Eval(args) => eval::eval(args),
        Command::Bench(args) => bench::bench(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
