//! A real server per test: the `app-server` binary spawned on a free
//! loopback port against the test's own database, waited for until
//! `/healthz` answers, spoken to over HTTP ([`crate::http`]), and stopped
//! with SIGTERM; its stderr is kept as the log.
//!
//! [`TestServer`] is the one way to configure it, whether the test then
//! starts it, runs one of its subcommands, or expects it to refuse to start:
//!
//! ```ignore
//! let app = || TestServer::new(env!("CARGO_BIN_EXE_app-server"));
//! let s = app().db(&db).env("AUTH_LOGIN_MAX_FAILURES", "3").start();
//! let out = app().db(&db).unset("AUTH_AUTO_MIGRATE").run(&["create-user", "root"], None);
//! let (out, took) = app().env("AUTH_BIND", "nonsense").run_until_exit(limit);
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;

use crate::jwt::SECRET;
use crate::process::{free_port, signal, Output, Program};
use crate::TestDb;

/// How long a server may take to answer `/healthz`: a guard against a hang
/// on a busy machine, not a performance target.
const READY_WITHIN: Duration = Duration::from_secs(90);

/// The configuration of an app-server process: the binary, its environment,
/// working directory, port and arguments.
///
/// By default the environment is the contract's defaults except a fixed
/// [`SECRET`], bcrypt cost 4, two workers, a pool of four, automatic
/// migrations, `RUST_LOG=warn`, a data dir in a fresh temp dir that is also
/// the working directory, and `AUTH_BIND` on a free port. `DATABASE_URL` is
/// only set by [`TestServer::db`] or [`TestServer::database_url`] (else the
/// server makes its embedded SQLite file in the data dir).
pub struct TestServer {
    bin: PathBuf,
    dir: WorkDir,
    port: u16,
    bare: bool,
    set: Vec<(String, String)>,
    unset: Vec<String>,
    args: Vec<String>,
}

enum WorkDir {
    Own(tempfile::TempDir),
    Given(PathBuf),
}

impl TestServer {
    /// The binary is the caller's `env!("CARGO_BIN_EXE_app-server")`: Cargo
    /// gives that path to the integration tests of the crate that builds it.
    pub fn new(bin: impl Into<PathBuf>) -> Self {
        Self {
            bin: bin.into(),
            dir: WorkDir::Own(tempfile::tempdir().expect("temp dir")),
            port: free_port(),
            bare: false,
            set: Vec::new(),
            unset: Vec::new(),
            args: Vec::new(),
        }
    }

    /// Serve from the test's database.
    pub fn db(self, db: &TestDb) -> Self {
        self.env("DATABASE_URL", &db.url_string())
    }

    /// Serve from any `DATABASE_URL`, such as a [`crate::PgDatabase`].
    pub fn database_url(self, url: &str) -> Self {
        self.env("DATABASE_URL", url)
    }

    /// Set a variable, over a default or an earlier value.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.set.retain(|(k, _)| k != name);
        self.set.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn envs(self, vars: &[(&str, &str)]) -> Self {
        vars.iter()
            .fold(self, |server, (name, value)| server.env(name, value))
    }

    /// Leave a variable out, default or not (a later [`TestServer::env`] sets it again).
    pub fn unset(mut self, name: &str) -> Self {
        self.set.retain(|(k, _)| k != name);
        self.unset.push(name.to_owned());
        self
    }

    /// None of the test defaults: the environment is `AUTH_BIND` on the port
    /// and what [`TestServer::env`] adds, as an operator who configured nothing.
    pub fn bare(mut self) -> Self {
        self.bare = true;
        self
    }

    /// Bind this port instead of a free one (one taken on purpose, or the
    /// port a `.env` file names).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Run in a directory the test prepared (holding a `.env`, or shared
    /// between runs) instead of a fresh temp dir.
    pub fn in_dir(mut self, dir: &Path) -> Self {
        self.dir = WorkDir::Given(dir.to_owned());
        self
    }

    /// The command line after the binary's name (none: `serve` by default).
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args = args.iter().map(|a| (*a).to_owned()).collect();
        self
    }

    pub fn dir(&self) -> &Path {
        match &self.dir {
            WorkDir::Own(dir) => dir.path(),
            WorkDir::Given(dir) => dir,
        }
    }

    /// The environment the process gets, exactly.
    pub fn environment(&self) -> Vec<(String, String)> {
        let bind = format!("127.0.0.1:{}", self.port);
        let mut env: Vec<(String, String)> = vec![("AUTH_BIND".to_owned(), bind)];
        if !self.bare {
            let data_dir = self.dir().join("data").display().to_string();
            let defaults = [
                ("AUTH_DATA_DIR", data_dir.as_str()),
                ("AUTH_WORKERS", "2"),
                ("AUTH_BCRYPT_COST", "4"),
                ("AUTH_JWT_SECRET", SECRET),
                ("AUTH_AUTO_MIGRATE", "true"),
                ("AUTH_DB_POOL_SIZE", "4"),
                // Far above any honest wait, so that a busy CI machine gets
                // no 503 where a test expects an answer; the tests of the
                // 503 path set their own.
                ("AUTH_DB_TIMEOUT", "20s"),
                ("RUST_LOG", "warn"),
            ];
            env.extend(defaults.map(|(k, v)| (k.to_owned(), v.to_owned())));
        }
        env.retain(|(k, _)| !self.unset.contains(k) && !self.set.iter().any(|(s, _)| s == k));
        env.extend(self.set.iter().cloned());
        env
    }

    /// The binary with this environment and directory, and `args`.
    fn program(&self, args: &[String]) -> Program {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Program::new(&self.bin)
            .envs(&self.environment())
            .current_dir(self.dir())
            .args(&args)
    }

    /// Run a subcommand (`create-user`, `flush-expired-tokens`) to its end.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        self.program(&args).output(stdin)
    }

    /// Run the server command and wait for it to exit by itself, as it must
    /// on a bad setting; panics if it still runs after `limit`.
    pub fn run_until_exit(&self, limit: Duration) -> (Output, Duration) {
        self.program(&self.args).run_until_exit(limit)
    }

    /// Spawn the server and wait until `/healthz` answers 200.
    pub fn start(self) -> Server {
        let client = Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        let mut server = Server {
            child: None,
            base: format!("http://127.0.0.1:{}", self.port),
            env: self.environment(),
            config: self,
            client,
        };
        server.spawn();
        server
    }
}

/// A running app-server; SIGTERM and a wait on drop.
pub struct Server {
    child: Option<Child>,
    base: String,
    env: Vec<(String, String)>,
    config: TestServer,
    client: Client,
}

impl Server {
    fn spawn(&mut self) {
        let log = std::fs::File::create(self.log_path()).expect("log file");
        let child = self
            .config
            .program(&self.config.args)
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn app-server");
        self.child = Some(child);
        self.wait_for_status("/healthz", 200, READY_WITHIN);
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The environment the process was given.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// The working directory of the server (and of [`Server::cli`]).
    pub fn dir(&self) -> &Path {
        self.config.dir()
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir().join("server.log")
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Poll the log until it contains `needle`, for at most `limit`; returns
    /// the log. For what a background task logs after its visible effect.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) -> String {
        let started = Instant::now();
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(
                started.elapsed() < limit,
                "the log has no {needle:?} after {limit:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Run an `app-server` subcommand with this server's environment.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.config.run(args, stdin)
    }

    /// Poll GET `path` until it answers `status`, for at most `limit`;
    /// panics if the process exits meanwhile. Connection errors (not yet
    /// listening) count as "not yet".
    pub fn wait_for_status(&mut self, path: &str, status: u16, limit: Duration) {
        let started = Instant::now();
        loop {
            if let Some(exit) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "app-server exited with {exit} while waiting for {path}:\n{}",
                    self.log()
                );
            }
            let last = match self
                .client
                .get(self.url(path))
                .timeout(Duration::from_millis(500))
                .send()
            {
                Ok(r) if r.status() == status => return,
                Ok(r) => format!("{}: {}", r.status(), r.text().unwrap_or_default()),
                Err(e) => e.to_string(),
            };
            assert!(
                started.elapsed() < limit,
                "{path} did not answer {status} in {limit:?} (last: {last}):\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGTERM, then wait for the exit.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        signal(child.id(), "TERM");
        child.wait().expect("wait for app-server")
    }

    /// Wait for the process to exit by itself (e.g. after [`signal`]).
    pub fn wait_exit(&mut self) -> ExitStatus {
        self.child
            .take()
            .expect("running")
            .wait()
            .expect("wait for app-server")
    }

    /// Stop and start again on the same port, database and directory.
    pub fn restart(&mut self) {
        let status = self.stop();
        assert!(
            status.success(),
            "clean exit on SIGTERM: {status}\n{}",
            self.log()
        );
        self.spawn();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "TERM");
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TestServer;

    fn names(server: &TestServer) -> Vec<String> {
        let mut names: Vec<String> = server.environment().into_iter().map(|(k, _)| k).collect();
        names.sort();
        names
    }

    #[test]
    fn set_overrides_and_unset_removes_defaults() {
        let server = TestServer::new("app-server")
            .port(4242)
            .env("AUTH_BCRYPT_COST", "12")
            .unset("RUST_LOG")
            .env("AUTH_ENV", "production");
        let env = server.environment();
        let value = |name: &str| {
            let found: Vec<&str> = env
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .collect();
            assert!(found.len() <= 1, "{name} once: {env:?}");
            found.first().map(|v| (*v).to_owned())
        };
        assert_eq!(value("AUTH_BCRYPT_COST").as_deref(), Some("12"));
        assert_eq!(value("AUTH_ENV").as_deref(), Some("production"));
        assert_eq!(value("AUTH_BIND").as_deref(), Some("127.0.0.1:4242"));
        assert_eq!(value("RUST_LOG"), None);
        assert_eq!(value("DATABASE_URL"), None, "only set by db()");
    }

    #[test]
    fn bare_keeps_only_the_port_and_what_is_set() {
        let server = TestServer::new("app-server").bare();
        assert_eq!(names(&server), ["AUTH_BIND"]);
        let server = server.unset("AUTH_BIND").env("AUTH_ENV", "production");
        assert_eq!(names(&server), ["AUTH_ENV"]);
    }
}
