//! Key files for a server, made as an operator makes them.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process::run_ok;

/// A PKCS#8 private key and its public half, made with the `openssl` CLI.
pub struct KeyFiles {
    pub private: PathBuf,
    pub public: PathBuf,
}

/// Make a key pair for `algorithm` (RS256, ES256 or EdDSA) in `dir`:
/// `openssl genpkey` writes PKCS#8, `openssl pkey -pubout` the
/// SubjectPublicKeyInfo PEM.
pub fn generate_key(dir: &Path, algorithm: &str, name: &str) -> KeyFiles {
    let options: &[&str] = match algorithm {
        "RS256" => &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        "ES256" => &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "EdDSA" => &["-algorithm", "ED25519"],
        other => panic!("no key type for {other}"),
    };
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub.pem"));
    let openssl = |args: &[&str]| {
        run_ok(
            Command::new("openssl").args(args),
            &format!("openssl {args:?} (is the openssl CLI installed?)"),
        );
    };
    let private_str = private.to_str().expect("UTF-8 path");
    let mut genpkey = vec!["genpkey"];
    genpkey.extend_from_slice(options);
    genpkey.extend_from_slice(&["-out", private_str]);
    openssl(&genpkey);
    openssl(&[
        "pkey",
        "-in",
        private_str,
        "-pubout",
        "-out",
        public.to_str().expect("UTF-8 path"),
    ]);
    KeyFiles { private, public }
}
