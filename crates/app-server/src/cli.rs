//! The command line: `serve` (the default), `create-user`, `set-password`,
//! `import-django-users`, `flush-expired-tokens`, `openapi`.

use std::io::BufRead;
use std::process::ExitCode;

use auth::policy::{email_problems, password_problems, username_problems};
use auth::{LoginThrottle, PasswordHasher, SecretString};
use chrono::Utc;
use clap::{Parser, Subcommand};
use domain::django_import::OnConflict;
use domain::time::to_db;
use domain::{normalize_username, write_transaction, CreateUserError, NewUser, User};

use crate::config::Config;
use crate::import;
use crate::startup::{self, StartupError};

#[derive(Parser)]
#[command(
    name = "app-server",
    version,
    about = "JWT authentication server, compatible with djangorestframework-simplejwt"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default)
    Serve,
    /// Create a user; the password is the first line of standard input
    CreateUser {
        username: String,
        /// Give the user admin rights
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        email: Option<String>,
    },
    /// Set a user's password and end their sessions; the password is the first line of
    /// standard input
    SetPassword { username: String },
    /// Import a Django project's users (all or nothing), with their password hashes
    ImportDjangoUsers {
        /// The output of `manage.py dumpdata auth.user` (a JSON file), or - for standard input
        #[arg(
            required_unless_present = "from_database",
            conflicts_with = "from_database"
        )]
        source: Option<String>,
        /// Read Django's auth_user table from this database instead (postgres:// or
        /// sqlite://), read-only
        #[arg(long, value_name = "URL")]
        from_database: Option<String>,
        /// What a user whose username or id is already here does
        #[arg(long, value_enum, default_value_t = OnConflictArg::Fail)]
        on_conflict: OnConflictArg,
        /// Report what would happen, write nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete expired refresh-token records, sessions and login-failure windows
    FlushExpiredTokens,
    /// Print the OpenAPI document that /api/openapi.json serves (docs/openapi.json)
    Openapi,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum OnConflictArg {
    /// Stop the import and list every conflict
    Fail,
    /// Leave the user here as it is
    Skip,
    /// Overwrite the user here with the imported fields
    Update,
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error("{0}")]
    Refused(String),
    #[error("database error: {0}")]
    Database(#[from] domain::QueryError),
    #[error("cannot write to standard output: {0}")]
    Output(#[from] std::io::Error),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // A missing .env is normal; a broken one shows up as missing settings.
    let _ = dotenvy::dotenv();
    let config = || {
        Config::from_process_env()
            .map_err(StartupError::from)
            .map_err(CliError::from)
            .inspect(init_logger)
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => config().and_then(|config| {
            actix_web::rt::System::new()
                .block_on(startup::serve(config))
                .map_err(CliError::from)
        }),
        Command::CreateUser {
            username,
            admin,
            email,
        } => config().and_then(|config| create_user(&config, &username, admin, email.as_deref())),
        Command::SetPassword { username } => {
            config().and_then(|config| set_password(&config, &username))
        }
        Command::ImportDjangoUsers {
            source,
            from_database,
            on_conflict,
            dry_run,
        } => config().and_then(|config| {
            import_django_users(&config, source, from_database, on_conflict, dry_run)
        }),
        Command::FlushExpiredTokens => config().and_then(|config| flush_expired_tokens(&config)),
        // The document does not depend on the configuration.
        Command::Openapi => print_openapi(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("app-server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// RUST_LOG as configured (the filter); RUST_LOG_STYLE as env_logger reads it.
fn init_logger(config: &Config) {
    env_logger::Builder::from_env(env_logger::Env::new().write_style("RUST_LOG_STYLE"))
        .parse_filters(&config.log_filter)
        .init();
}

fn create_user(
    config: &Config,
    username: &str,
    admin: bool,
    email: Option<&str>,
) -> Result<(), CliError> {
    let password = &read_password()?;
    let username = &normalize_username(username);
    let mut problems = username_problems(username);
    if let Some(email) = email {
        problems.extend(email_problems(email));
    }
    problems.extend(password_problems(password, username));
    if !problems.is_empty() {
        return Err(CliError::Refused(problems.join(" ")));
    }
    let hash = bcrypt_hash(config, password)?;
    startup::prepare_database(config)?;
    let mut conn = config
        .database_url
        .connect()
        .map_err(|e| CliError::Refused(e.to_string()))?;
    let now = to_db(Utc::now());
    let user = write_transaction(&mut conn, |c| {
        let user = User::create(
            c,
            &NewUser {
                username,
                email,
                password_hash: &hash,
                is_active: true,
                is_admin: admin,
                date_joined: now,
                password_changed_at: now,
            },
        )?;
        // The operator vouches for the address: it counts as verified.
        if let Some(email) = email {
            User::set_email_verified(c, user.id, email)?;
        }
        Ok(user)
    })
    .map_err(|e| match e {
        CreateUserError::UsernameTaken => {
            CliError::Refused(format!("a user named {username:?} already exists"))
        }
        CreateUserError::Database(e) => CliError::Database(e),
    })?;
    println!(
        "created user {:?} with id {}{}",
        user.username,
        user.id,
        if admin { " (admin)" } else { "" }
    );
    Ok(())
}

/// The first line of standard input, without its line end; never empty.
fn read_password() -> Result<String, CliError> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| {
        CliError::Refused(format!("cannot read the password from standard input: {e}"))
    })?;
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(CliError::Refused(
            "no password on standard input (its first line is the password)".to_owned(),
        ));
    }
    Ok(password.to_owned())
}

fn bcrypt_hash(config: &Config, password: &str) -> Result<String, CliError> {
    Ok(PasswordHasher::new(config.bcrypt_cost)
        .map_err(StartupError::from)?
        .hash(&SecretString::from(password.to_owned()))
        .map_err(StartupError::from)?)
}

/// An operator gives a user a password: an imported user whose Django hash
/// could not be brought over, or one locked out without an address for a
/// reset. A password change like the user's own: the policy applies, and
/// every session ends.
fn set_password(config: &Config, username: &str) -> Result<(), CliError> {
    let password = &read_password()?;
    startup::prepare_database(config)?;
    let mut conn = config
        .database_url
        .connect()
        .map_err(|e| CliError::Refused(e.to_string()))?;
    let user = User::find_by_username(&mut conn, username)?
        .ok_or_else(|| CliError::Refused(format!("no user named {username:?}")))?;
    let problems = password_problems(password, &user.username);
    if !problems.is_empty() {
        return Err(CliError::Refused(problems.join(" ")));
    }
    let hash = bcrypt_hash(config, password)?;
    auth::change_password(&mut conn, user.id, &hash, Utc::now())?;
    println!(
        "set the password of user {:?} (id {}); their sessions are ended",
        user.username, user.id
    );
    Ok(())
}

fn import_django_users(
    config: &Config,
    source: Option<String>,
    from_database: Option<String>,
    on_conflict: OnConflictArg,
    dry_run: bool,
) -> Result<(), CliError> {
    let source = match (from_database, source.as_deref()) {
        (Some(url), _) => import::Source::Database(url),
        (None, Some("-") | None) => import::Source::Dump(Box::new(std::io::stdin())),
        (None, Some(path)) => import::Source::Dump(Box::new(
            std::fs::File::open(path)
                .map_err(|e| CliError::Refused(format!("cannot open {path}: {e}")))?,
        )),
    };
    let on_conflict = match on_conflict {
        OnConflictArg::Fail => OnConflict::Fail,
        OnConflictArg::Skip => OnConflict::Skip,
        OnConflictArg::Update => OnConflict::Update,
    };
    startup::prepare_database(config)?;
    let mut conn = config
        .database_url
        .connect()
        .map_err(|e| CliError::Refused(e.to_string()))?;
    match import::run(&mut conn, source, on_conflict, dry_run, Utc::now()) {
        Ok(summary) => {
            println!("{summary}");
            Ok(())
        }
        Err(import::ImportError::Conflicts(conflicts)) => {
            for line in &conflicts {
                eprintln!("conflict: {line}");
            }
            Err(CliError::Refused(
                import::ImportError::Conflicts(conflicts).to_string(),
            ))
        }
        Err(e) => Err(CliError::Refused(e.to_string())),
    }
}

fn flush_expired_tokens(config: &Config) -> Result<(), CliError> {
    startup::prepare_database(config)?;
    let mut conn = config
        .database_url
        .connect()
        .map_err(|e| CliError::Refused(e.to_string()))?;
    let now = Utc::now();
    let counts = auth::flush_expired(&mut conn, &config.tokens, now)?;
    let windows = LoginThrottle::default().delete_expired(&mut conn, now)?;
    println!(
        "deleted {} expired refresh-token records, {} expired sessions, {} ended login-failure windows",
        counts.refresh_tokens, counts.sessions, windows
    );
    Ok(())
}

fn print_openapi() -> Result<(), CliError> {
    use std::io::Write;
    std::io::stdout()
        .lock()
        .write_all(&crate::openapi::document_json())?;
    Ok(())
}
