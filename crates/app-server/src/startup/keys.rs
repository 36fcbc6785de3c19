//! The signing and verification keys named by the configuration: the HMAC
//! secret, the PEM files of the asymmetric algorithms, or in development
//! without AUTH_JWT_SECRET a random secret made once and kept in the data dir.

use std::io;
use std::path::Path;

use auth::{ExposeSecret, KeySet, KeySource};

use super::error::StartupError;
use crate::config::{Config, KeyConfig};

pub fn load_keys(config: &Config) -> Result<KeySet, StartupError> {
    let algorithm = config.tokens.algorithm;
    let from_secret = |secret: &[u8]| {
        KeySet::new(algorithm, KeySource::Secret(secret)).map_err(|e| StartupError::Keys {
            variable: "AUTH_JWT_SECRET",
            reason: e.to_string(),
        })
    };
    match &config.keys {
        KeyConfig::Secret(secret) => from_secret(secret.expose_secret().as_bytes()),
        KeyConfig::GeneratedSecret(path) => {
            let secret = development_secret(path).map_err(|e| StartupError::Keys {
                variable: "AUTH_DATA_DIR",
                reason: format!("{}: {e}", path.display()),
            })?;
            from_secret(secret.as_bytes())
        }
        KeyConfig::Pem {
            private_key_file,
            public_key_files,
        } => {
            let read = |variable: &'static str, path: &Path| {
                std::fs::read(path).map_err(|e| StartupError::Keys {
                    variable,
                    reason: format!("{}: {e}", path.display()),
                })
            };
            let private = read("AUTH_JWT_PRIVATE_KEY_FILE", private_key_file)?;
            let previous = public_key_files
                .iter()
                .map(|p| read("AUTH_JWT_PUBLIC_KEY_FILES", p))
                .collect::<Result<Vec<_>, _>>()?;
            KeySet::new(
                algorithm,
                KeySource::Pem {
                    private: &private,
                    previous_public: &previous,
                },
            )
            .map_err(|e| {
                let variable = match e {
                    auth::KeyError::BadPublicKey { .. } => "AUTH_JWT_PUBLIC_KEY_FILES",
                    _ => "AUTH_JWT_PRIVATE_KEY_FILE",
                };
                StartupError::Keys {
                    variable,
                    reason: e.to_string(),
                }
            })
        }
    }
}

/// Read the development secret, or make a random one readable by us only.
fn development_secret(path: &Path) -> io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(secret) if !secret.trim().is_empty() => return Ok(secret.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut bytes = [0u8; 48];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(secret.as_bytes())?;
    log::info!("made a development JWT secret in {}", path.display());
    Ok(secret)
}
