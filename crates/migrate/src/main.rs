//! `migrate`: applies pending migrations to `DATABASE_URL` (creating an SQLite
//! file if needed); `migrate status` lists them; `migrate revert` rolls back
//! the newest one. The migrations are embedded in the binary.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use domain::{migrations, DatabaseUrl};

/// The same default as the app server: the embedded database in ./data.
const DEFAULT_DATABASE_URL: &str = "sqlite://data/auth.db";

#[derive(Parser)]
#[command(
    name = "migrate",
    version,
    about = "Apply, list or revert the auth service's database migrations"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply every pending migration (the default)
    Run,
    /// List the migrations and whether each is applied
    Status,
    /// Roll back the newest applied migration
    Revert,
}

/// Print a line; a closed pipe (`migrate status | head`) ends the program
/// quietly instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write;
        if writeln!(std::io::stdout().lock(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = dotenvy::dotenv();
    match run(cli.command.unwrap_or(Command::Run)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("migrate: {message}");
            ExitCode::FAILURE
        }
    }
}

fn database_url() -> Result<DatabaseUrl, String> {
    let raw = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => match std::env::var("AUTH_DATA_DIR") {
            Ok(dir) if !dir.is_empty() => format!("sqlite://{}/auth.db", dir.trim_end_matches('/')),
            _ => DEFAULT_DATABASE_URL.to_owned(),
        },
    };
    DatabaseUrl::parse(&raw).map_err(|e| format!("invalid DATABASE_URL: {e}"))
}

fn run(command: Command) -> Result<(), String> {
    let url = database_url()?;
    let mut conn = url.connect().map_err(|e| {
        format!(
            "cannot connect to DATABASE_URL ({}): {}",
            url.redacted(),
            e.to_string().lines().next().unwrap_or_default()
        )
    })?;
    match command {
        Command::Run => {
            let applied = migrations::run_pending(&mut conn).map_err(|e| e.to_string())?;
            if applied.is_empty() {
                out!("no pending migrations on {}", url.redacted());
            }
            for name in applied {
                out!("applied {name}");
            }
        }
        Command::Status => {
            for m in migrations::status(&mut conn).map_err(|e| e.to_string())? {
                out!("{} {}", if m.applied { "[x]" } else { "[ ]" }, m.name);
            }
        }
        Command::Revert => match migrations::revert_last(&mut conn).map_err(|e| e.to_string())? {
            Some(name) => out!("reverted {name}"),
            None => out!("nothing to revert"),
        },
    }
    Ok(())
}
