use std::process::ExitCode;

fn main() -> ExitCode {
    app_server::cli::main()
}
