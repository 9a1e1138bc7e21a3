//! The `sfnn` command line. `main.rs` only calls [`main`].

mod bench;
mod eval;
mod import_client;
mod live;
mod node;
mod output;
mod plot;
mod push;
mod report;
mod run;
mod runs;
mod serve;
mod worker;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "sfnn",
    version,
    about = "Evolve Structurally Flexible Neural Networks"
)]
struct Cli {
    /// Log lines as text or as JSON objects (one per line, for log collectors).
    #[arg(long, global = true, env = "SFNN_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API and the dashboard, with in-process workers.
    Serve(serve::ServeArgs),
    /// Run workers only, on a database shared with an API server (`--workers` jobs at once).
    Worker(worker::WorkerNodeArgs),
    /// Run one evolution job to completion, without a server.
    Run(run::RunArgs),
    /// Evaluate a genome file on an environment and print per-episode returns.
    Eval(eval::EvalArgs),
    /// Measure executor throughput on the paper configuration.
    Bench(bench::BenchArgs),
    /// Draw the fitness curves of `sfnn run` folders (grouped over seeds) as an SVG.
    Plot(plot::PlotArgs),
    /// Upload a finished `sfnn run` folder to a server, where it becomes a job like any other.
    Push(push::PushArgs),
    /// Draw a study's report (curves per environment, evaluation, meta-test and compute tables)
    /// from groups of `sfnn run` folders.
    Report(report::ReportArgs),
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "sfnn=info,tower_http=info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        // One object per line with the span fields (job_id, ...) flattened in: what log
        // collectors (Loki, Elasticsearch, CloudWatch) ingest without parsing rules.
        logs.json()
            .flatten_event(true)
            .with_current_span(true)
            .init();
    } else {
        // Colours only on a terminal, not in log files.
        logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
}

/// A server's panics (a handler's, a job's) are caught and answered or recorded; each is one
/// log line with its location and message. The default hook would print a backtrace per panic
/// under `RUST_BACKTRACE=1`: tens of kilobytes of log per request a client can repeat.
fn log_panics_in_one_line() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let thread = std::thread::current();
        let thread = thread.name().unwrap_or("unnamed");
        tracing::error!(target: "sfnn::panic", "thread '{thread}' panicked at {location}: {message}");
    }));
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log_format);
    if matches!(cli.command, Command::Serve(_) | Command::Worker(_)) {
        log_panics_in_one_line();
    }
    let result = match cli.command {
        Command::Serve(args) => serve::serve(args),
        Command::Worker(args) => worker::worker(args),
        Command::Run(args) => run::run(args),
        Command::Eval(args) => eval::eval(args),
        Command::Bench(args) => bench::bench(args),
        Command::Plot(args) => plot::plot(args),
        Command::Push(args) => push::push(args),
        Command::Report(args) => report::report(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
