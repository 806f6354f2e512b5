//! `integration_exporter` binary: everything lives in the library.
fn main() -> std::process::ExitCode {
    integration_exporter::cli::main()
}
