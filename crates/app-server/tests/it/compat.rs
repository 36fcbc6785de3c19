//! Compatibility with the Python ecosystem the service replaces: the pytest
//! module tests/compat/test_compat.py (a `requests` client written as against
//! djangorestframework-simplejwt, and PyJWT verifying our tokens with the
//! secret or the JWKS) run against real servers: HS256 on SQLite and
//! PostgreSQL; RS256, ES256 and EdDSA on SQLite. And tests/compat/test_sliding.py
//! (simplejwt's sliding client flow, and a Django + DRF + simplejwt resource
//! server accepting our sliding tokens) against servers with
//! `AUTH_SLIDING_TOKENS=only`: HS256 on SQLite and PostgreSQL, EdDSA (through
//! simplejwt's `JWK_URL`) on SQLite.
//!
//! The virtualenv is made once, under target/compat-venv, and reused while
//! tests/compat/requirements.txt is unchanged. No Python, or packages that
//! cannot be installed, is a failure, never a skip.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use test_support::keyfiles::generate_key;
use test_support::process::run_ok;
use test_support::{Server, TestDb, SECRET};

use crate::app;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

fn compat_dir() -> PathBuf {
    workspace_root().join("tests/compat")
}

/// The venv's python, with the pinned requirements installed.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let venv = workspace_root().join("target/compat-venv");
        let python = venv.join("bin/python");
        let requirements = compat_dir().join("requirements.txt");
        let wanted = std::fs::read_to_string(&requirements).expect("read requirements.txt");
        // The requirements a venv was installed from; a changed file reinstalls.
        let marker = venv.join("installed-requirements.txt");
        if std::fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str())
            && python.exists()
        {
            return python;
        }
        if !python.exists() {
            run_ok(
                Command::new("python3").arg("-m").arg("venv").arg(&venv),
                "python3 -m venv (is Python 3 with venv installed?)",
            );
        }
        run_ok(
            Command::new(&python)
                .args(["-m", "pip", "install", "--disable-pip-version-check", "-q"])
                .arg("-r")
                .arg(&requirements),
            "pip install -r tests/compat/requirements.txt",
        );
        std::fs::write(&marker, &wanted).expect("write the venv marker");
        python
    })
}

/// Run the pytest module against `s`; every test in it must pass.
fn run_compat(s: &Server, algorithm: &str, secret: Option<&str>) {
    run_module(s, "test_compat.py", algorithm, secret);
}

/// Run one pytest module of tests/compat against `s`; every test in it must pass.
fn run_module(s: &Server, module: &str, algorithm: &str, secret: Option<&str>) {
    let mut cmd = Command::new(python());
    cmd.args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA"])
        .arg(compat_dir().join(module))
        .current_dir(workspace_root())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("COMPAT_BASE_URL", s.base())
        .env("COMPAT_ALGORITHM", algorithm)
        .env_remove("COMPAT_SECRET")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy");
    if let Some(secret) = secret {
        cmd.env("COMPAT_SECRET", secret);
    }
    let out = cmd.output().expect("run pytest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{algorithm}: the Python compatibility suite failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        s.log()
    );
    // pytest exits 0 when nothing was collected: demand that tests ran.
    assert!(
        stdout.contains("passed") && !stdout.contains("skipped"),
        "{algorithm}: tests ran and none was skipped:\n{stdout}"
    );
}

fn hmac(db: &TestDb) {
    let s = app().db(db).start();
    run_compat(&s, "HS256", Some(SECRET));
}

#[test]
fn hs256_on_sqlite() {
    hmac(&TestDb::sqlite());
}

#[test]
fn hs256_on_postgres() {
    hmac(&TestDb::postgres());
}

/// A server on a fresh SQLite database signing with a new `algorithm` key,
/// with `more` settings; the key's directory and the database live as long
/// as what is returned.
fn asymmetric_server(
    algorithm: &str,
    more: &[(&str, &str)],
) -> (tempfile::TempDir, TestDb, Server) {
    let keys = tempfile::tempdir().expect("temp dir");
    let key = generate_key(keys.path(), algorithm, "signing");
    let db = TestDb::sqlite();
    let s = app()
        .db(&db)
        .envs(&[
            ("AUTH_JWT_ALGORITHM", algorithm),
            (
                "AUTH_JWT_PRIVATE_KEY_FILE",
                key.private.to_str().expect("UTF-8 path"),
            ),
        ])
        .envs(more)
        .start();
    (keys, db, s)
}

fn asymmetric(algorithm: &str) {
    let (_keys, _db, s) = asymmetric_server(algorithm, &[]);
    run_compat(&s, algorithm, None);
}

fn sliding_hmac(db: &TestDb) {
    let s = app().db(db).env("AUTH_SLIDING_TOKENS", "only").start();
    run_module(&s, "test_sliding.py", "HS256", Some(SECRET));
}

#[test]
fn sliding_hs256_on_sqlite() {
    sliding_hmac(&TestDb::sqlite());
}

#[test]
fn sliding_hs256_on_postgres() {
    sliding_hmac(&TestDb::postgres());
}

#[test]
fn sliding_eddsa_on_sqlite() {
    let (_keys, _db, s) = asymmetric_server("EdDSA", &[("AUTH_SLIDING_TOKENS", "only")]);
    run_module(&s, "test_sliding.py", "EdDSA", None);
}

#[test]
fn rs256_on_sqlite() {
    asymmetric("RS256");
}

#[test]
fn es256_on_sqlite() {
    asymmetric("ES256");
}

#[test]
fn eddsa_on_sqlite() {
    asymmetric("EdDSA");
}
