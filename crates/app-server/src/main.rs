use std::process::ExitCode;

// Every request allocates a few dozen small buffers across threads; glibc's
// malloc showed up at about 15% of a /api/me/ profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    app_server::cli::main()
}
