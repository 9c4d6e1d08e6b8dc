//! Binary entry point: hands over to the clap command line in `cli`.

fn main() -> std::process::ExitCode {
    smart_connect_sim::cli::main()
}
