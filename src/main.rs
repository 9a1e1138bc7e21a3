//! The `sfnn` binary; everything lives in the library (`sfnn::cli`).

fn main() -> std::process::ExitCode {
    sfnn::cli::main()
}
