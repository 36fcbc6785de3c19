//! Mail for account recovery: what the handlers share ([`MailState`]: which
//! features are on, the token rules, a wake-up for the sender) and the
//! background sender each replica runs ([`start`]).

pub mod delivery;
pub mod eml;
pub mod sender;
pub mod templates;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use auth::{ExposeSecret, Recovery, RecoverySettings};
use domain::{build_pool, PoolOptions};

use crate::config::mail::Verification;
use crate::config::{Config, KeyConfig};
use crate::metrics::MailMetrics;
use crate::startup::StartupError;

/// The account-recovery part of the application state.
pub struct MailState {
    pub reset_on: bool,
    pub verification: Verification,
    pub recovery: Arc<Recovery>,
    wake: SyncSender<()>,
    /// The other end of `wake`, until the sender takes it.
    waiting: Mutex<Option<Receiver<()>>>,
}

impl MailState {
    pub fn new(config: &Config) -> Result<Self, StartupError> {
        let settings = RecoverySettings {
            reset_timeout: config.mail.reset_timeout,
            ..RecoverySettings::default()
        };
        let (wake, waiting) = sync_channel(1);
        Ok(Self {
            reset_on: config.mail.reset_url.is_some(),
            verification: config.mail.verification,
            recovery: Arc::new(Recovery::new(&token_secret(config)?, settings)),
            wake,
            waiting: Mutex::new(Some(waiting)),
        })
    }

    /// Tell this replica's sender that a row was committed, so it goes now
    /// rather than at the next poll.
    pub fn wake(&self) {
        let _ = self.wake.try_send(());
    }
}

/// What keys the tokens in links: the signing secret, or for asymmetric
/// algorithms the private key file's bytes (as Django keys its tokens with
/// `SECRET_KEY`). Each kind of token derives its own HMAC key from it.
fn token_secret(config: &Config) -> Result<Vec<u8>, StartupError> {
    let read = |variable: &'static str, path: &std::path::Path| {
        std::fs::read(path).map_err(|e| StartupError::Keys {
            variable,
            reason: format!("{}: {e}", path.display()),
        })
    };
    match &config.keys {
        KeyConfig::Secret(secret) => Ok(secret.expose_secret().as_bytes().to_vec()),
        KeyConfig::GeneratedSecret(path) => {
            read("AUTH_DATA_DIR", path).map(|s| s.trim_ascii().to_vec())
        }
        KeyConfig::Pem {
            private_key_file, ..
        } => read("AUTH_JWT_PRIVATE_KEY_FILE", private_key_file),
    }
}

/// The running sender; [`SenderHandle::stop`] ends it.
pub struct SenderHandle {
    stop: Arc<AtomicBool>,
    wake: SyncSender<()>,
    thread: JoinHandle<()>,
}

impl SenderHandle {
    /// Ask the sender to stop after the message in hand, and wait for it
    /// (at most an SMTP send).
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.wake.try_send(());
        if self.thread.join().is_err() {
            log::error!(target: "mail", "the mail sender panicked");
        }
    }
}

/// Start the sender when a mail feature is on. Its templates are loaded and
/// checked here, so a broken one stops the start.
pub fn start(
    config: &Config,
    state: &MailState,
    metrics: MailMetrics,
) -> Result<Option<SenderHandle>, StartupError> {
    if !config.mail.any_on() {
        return Ok(None);
    }
    let invalid =
        |variable: &'static str| move |reason: String| StartupError::Mail { variable, reason };
    let templates = templates::Templates::load(config.mail.templates.as_deref())
        .map_err(|e| invalid("AUTH_MAIL_TEMPLATES")(e.to_string()))?;
    let delivery = match &config.mail.smtp {
        Some(url) => delivery::Delivery::smtp(url).map_err(invalid("AUTH_SMTP_URL"))?,
        None => {
            log::warn!(
                target: "mail",
                "AUTH_SMTP_URL is unset: mail is written as .eml files in {}",
                config.mail.eml_dir.display()
            );
            delivery::Delivery::Files(config.mail.eml_dir.clone())
        }
    };
    let waiting = state
        .waiting
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
        .ok_or_else(|| invalid("AUTH_SMTP_URL")("the sender was started twice".to_owned()))?;
    let mut random = [0u8; 4];
    getrandom::fill(&mut random)
        .map_err(|e| StartupError::Io(std::io::Error::other(e.to_string())))?;
    let claimer = format!(
        "{}-{}",
        std::process::id(),
        random
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let sender = sender::Sender {
        // A connection of its own: a send never takes one from the requests.
        pool: build_pool(
            config.database_url.clone(),
            &PoolOptions {
                max_size: 1,
                checkout_timeout: config.db_timeout,
                statement_timeout: Some(config.db_timeout),
            },
        ),
        claimer,
        delivery,
        templates,
        recovery: state.recovery.clone(),
        from: config.mail.from.clone(),
        reset_url: config.mail.reset_url.clone(),
        verify_url: config.mail.verify_url.clone(),
        metrics,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let thread_stop = stop.clone();
    let thread = std::thread::Builder::new()
        .name("mail-sender".to_owned())
        .spawn(move || sender.run(waiting, thread_stop))?;
    // Rows left by an earlier run go out now.
    let _ = state.wake.try_send(());
    Ok(Some(SenderHandle {
        stop,
        wake: state.wake.clone(),
        thread,
    }))
}
