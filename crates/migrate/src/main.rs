//! `migrate`: applies pending migrations to `DATABASE_URL` (creating an SQLite
//! file if needed); `migrate status` lists them; `migrate revert` rolls back
//! the newest one. The migrations are embedded in the binary.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use domain::migrations::MigrationError;
use domain::{migrations, DatabaseUrl, DatabaseUrlError, User, DEFAULT_DATA_DIR};

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

/// Why `migrate` failed: printed as its one line on stderr.
#[derive(Debug, thiserror::Error)]
enum MigrateError {
    #[error("invalid DATABASE_URL: {0}")]
    Url(#[from] DatabaseUrlError),
    #[error("cannot connect to DATABASE_URL ({url}): {reason}")]
    Connect { url: String, reason: String },
    #[error(transparent)]
    Migration(#[from] MigrationError),
    #[error("cannot write the output: {0}")]
    Output(io::Error),
}

/// Print a line. A closed pipe (`migrate status | head`) ends the program
/// quietly; any other write error (a full disk) is a failure.
fn say(line: std::fmt::Arguments) -> Result<(), MigrateError> {
    match writeln!(io::stdout().lock(), "{line}") {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => other.map_err(MigrateError::Output),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = dotenvy::dotenv();
    match run(cli.command.unwrap_or(Command::Run)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("migrate: {e}");
            ExitCode::FAILURE
        }
    }
}

/// DATABASE_URL, or the app server's default: the embedded database in AUTH_DATA_DIR.
fn database_url() -> Result<DatabaseUrl, MigrateError> {
    let set = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
    match set("DATABASE_URL") {
        Some(url) => Ok(DatabaseUrl::parse(&url)?),
        None => {
            let dir = set("AUTH_DATA_DIR").unwrap_or_else(|| DEFAULT_DATA_DIR.to_owned());
            Ok(DatabaseUrl::embedded(Path::new(&dir)))
        }
    }
}

fn run(command: Command) -> Result<(), MigrateError> {
    let url = database_url()?;
    let mut conn = url.connect().map_err(|e| MigrateError::Connect {
        url: url.redacted(),
        reason: e.to_string().lines().next().unwrap_or_default().to_owned(),
    })?;
    match command {
        Command::Run => {
            let applied = migrations::run_pending(&mut conn)?;
            if applied.is_empty() {
                say(format_args!("no pending migrations on {}", url.redacted()))?;
            }
            for name in applied {
                say(format_args!("applied {name}"))?;
            }
            // Left by the NFKC step of 2026-12-02-001201_nfkc_usernames, on
            // every run until an operator renames them.
            for c in User::username_collisions(&mut conn).map_err(MigrationError::from)? {
                say(format_args!(
                    "username not normalized: user {} {:?} (its NFKC form {:?} is taken; rename one of them)",
                    c.id, c.username, c.normalized
                ))?;
            }
        }
        Command::Status => {
            for m in migrations::status(&mut conn)? {
                let mark = if m.applied { "[x]" } else { "[ ]" };
                say(format_args!("{mark} {}", m.name))?;
            }
        }
        Command::Revert => match migrations::revert_last(&mut conn)? {
            Some(name) => say(format_args!("reverted {name}"))?,
            None => say(format_args!("nothing to revert"))?,
        },
    }
    Ok(())
}
