//! A real server per test: the `app-server` binary spawned on a free loopback
//! port against the test's own database (an SQLite file or a PostgreSQL
//! schema), spoken to over HTTP, and stopped with SIGTERM.
#![allow(dead_code)] // each test file uses a different part of this

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};
use test_support::TestDb;

/// The HMAC secret every test server signs with, so tests can forge tokens.
pub const SECRET: &str = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
pub const PASSWORD: &str = "correct horse battery staple";
pub const BIN: &str = env!("CARGO_BIN_EXE_app-server");

pub struct Server {
    child: Option<Child>,
    pub base: String,
    env: Vec<(String, String)>,
    /// The command line after the binary's name (none: `serve` by default).
    args: Vec<String>,
    dir: tempfile::TempDir,
    client: Client,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The environment of a test server: the contract's defaults except a fixed
/// secret, bcrypt cost 4, the test database and a free port.
pub fn server_env(
    db: &TestDb,
    dir: &Path,
    port: u16,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    server_env_url(&db.url_string(), dir, port, extra)
}

/// [`server_env`] for any `DATABASE_URL`, such as a dedicated PostgreSQL database.
pub fn server_env_url(
    database_url: &str,
    dir: &Path,
    port: u16,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let data_dir = dir.join("data").display().to_string();
    let bind = format!("127.0.0.1:{port}");
    let defaults: Vec<(String, String)> = [
        ("DATABASE_URL", database_url),
        ("AUTH_DATA_DIR", data_dir.as_str()),
        ("AUTH_BIND", bind.as_str()),
        ("AUTH_WORKERS", "2"),
        ("AUTH_BCRYPT_COST", "4"),
        ("AUTH_JWT_SECRET", SECRET),
        ("AUTH_AUTO_MIGRATE", "true"),
        ("AUTH_DB_POOL_SIZE", "4"),
        ("RUST_LOG", "warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    env_with(&defaults, extra, &[])
}

/// `base` with `set` overriding or adding variables and `unset` removed.
pub fn env_with(
    base: &[(String, String)],
    set: &[(&str, &str)],
    unset: &[&str],
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = base
        .iter()
        .filter(|(k, _)| !unset.contains(&k.as_str()) && !set.iter().any(|(s, _)| s == k))
        .cloned()
        .collect();
    env.extend(set.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    env
}

impl Server {
    pub fn start(db: &TestDb) -> Self {
        Self::start_with(db, &[])
    }

    pub fn start_with(db: &TestDb, extra: &[(&str, &str)]) -> Self {
        Self::start_url(&db.url_string(), extra)
    }

    /// A server on any `DATABASE_URL`, with the test defaults of [`server_env`].
    pub fn start_url(database_url: &str, extra: &[(&str, &str)]) -> Self {
        Self::start_url_with_args(database_url, extra, &[])
    }

    /// [`Server::start_with`], the binary run with `args` (such as `serve`).
    pub fn start_with_args(db: &TestDb, extra: &[(&str, &str)], args: &[&str]) -> Self {
        Self::start_url_with_args(&db.url_string(), extra, args)
    }

    fn start_url_with_args(database_url: &str, extra: &[(&str, &str)], args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let env = server_env_url(database_url, dir.path(), port, extra);
        Self::launch(dir, env, port, args)
    }

    /// A server with exactly `env` (nothing of the test defaults), run in a
    /// fresh temp dir as its working directory; `env` must set AUTH_BIND to
    /// 127.0.0.1:`port`.
    pub fn start_env(env: Vec<(String, String)>, port: u16) -> Self {
        Self::start_in(tempfile::tempdir().expect("temp dir"), env, port)
    }

    /// [`Server::start_env`] in a working directory prepared by the test
    /// (e.g. holding a `.env` file).
    pub fn start_in(dir: tempfile::TempDir, env: Vec<(String, String)>, port: u16) -> Self {
        Self::launch(dir, env, port, &[])
    }

    fn launch(
        dir: tempfile::TempDir,
        env: Vec<(String, String)>,
        port: u16,
        args: &[&str],
    ) -> Self {
        let client = Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        let mut server = Self {
            child: None,
            base: format!("http://127.0.0.1:{port}"),
            env,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            dir,
            client,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(self.log_path()).expect("log file");
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let child = binary(&self.env, self.dir.path(), &args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn app-server");
        self.child = Some(child);
        self.wait_for_status("/healthz", 200, Duration::from_secs(30));
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
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
        terminate(&child);
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

    /// The working directory of the server (and of [`Server::cli`]).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stop and start again on the same port and database.
    pub fn restart(&mut self) {
        let status = self.stop();
        assert!(
            status.success(),
            "clean exit on SIGTERM: {status}\n{}",
            self.log()
        );
        self.spawn();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let authorization = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = authorization
            .iter()
            .map(|a| ("authorization", a.as_str()))
            .collect();
        self.request_with_headers(method, path, &headers, body)
    }

    /// A request with any headers and, optionally, a JSON body.
    pub fn request_with_headers(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Resp {
        let mut req = self.client.request(method, self.url(path));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        Resp::from(req.send().expect("request reaches the server"))
    }

    /// A request with any headers and a raw body, sent as given (no
    /// content type unless `headers` has one).
    pub fn request_raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::blocking::Body>,
    ) -> Resp {
        let mut req = self.client.request(method, self.url(path)).body(body);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        Resp::from(req.send().expect("request reaches the server"))
    }

    pub fn post(&self, path: &str, body: Value) -> Resp {
        self.request(Method::POST, path, None, Some(&body))
    }

    pub fn post_auth(&self, path: &str, token: &str, body: Option<Value>) -> Resp {
        self.request(Method::POST, path, Some(token), body.as_ref())
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.request(Method::GET, path, token, None)
    }

    pub fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.request(Method::PATCH, path, Some(token), Some(&body))
    }

    /// POST a raw body with the given content type (or none).
    pub fn post_raw(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::blocking::Body>,
    ) -> Resp {
        let headers: Vec<(&str, &str)> = content_type
            .map(|ct| ("content-type", ct))
            .into_iter()
            .collect();
        self.request_raw(Method::POST, path, &headers, body)
    }

    pub fn register(&self, username: &str, password: &str) -> Value {
        let r = self.post(
            "/api/register/",
            json!({ "username": username, "password": password }),
        );
        assert_eq!(r.status, 201, "register {username}: {}", r.text);
        r.body
    }

    /// (access, refresh) of a new session.
    pub fn login(&self, username: &str, password: &str) -> (String, String) {
        let r = self.post(
            "/api/token/",
            json!({ "username": username, "password": password }),
        );
        assert_eq!(r.status, 200, "login {username}: {}", r.text);
        (r.str("access"), r.str("refresh"))
    }

    /// Register and log in: (id, access, refresh).
    pub fn user(&self, username: &str) -> (i64, String, String) {
        let id = self.register(username, PASSWORD)["id"]
            .as_i64()
            .expect("id");
        let (access, refresh) = self.login(username, PASSWORD);
        (id, access, refresh)
    }

    /// An admin made with the CLI, logged in: (id, access).
    pub fn admin(&self, username: &str) -> (i64, String) {
        let out = self.cli(
            &["create-user", username, "--admin"],
            Some(&format!("{PASSWORD}\n")),
        );
        assert!(out.status.success(), "create-user: {}", out.stderr);
        let (access, _) = self.login(username, PASSWORD);
        let id = self.get("/api/me/", Some(&access)).body["id"]
            .as_i64()
            .expect("id");
        (id, access)
    }

    /// Run an `app-server` subcommand with this server's environment.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        run_cli(&self.env, self.dir.path(), args, stdin)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&child);
            let _ = child.wait();
        }
    }
}

pub fn terminate(child: &Child) {
    signal(child.id(), "TERM");
}

/// Send a signal with kill(1): the workspace forbids unsafe code, tests included.
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success() || name == "TERM", "kill -{name} {pid}");
}

pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// The app-server binary with exactly `env`, in `dir`.
fn binary(env: &[(String, String)], dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .args(args);
    command
}

pub fn run_cli(env: &[(String, String)], dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = binary(env, dir, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn app-server");
    {
        let mut input = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).expect("write stdin");
        }
    }
    let out = child.wait_with_output().expect("app-server output");
    Output {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A response, read in full.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl From<reqwest::blocking::Response> for Resp {
    fn from(r: reqwest::blocking::Response) -> Self {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            text,
            body,
        }
    }
}

impl Resp {
    pub fn str(&self, field: &str) -> String {
        self.body[field]
            .as_str()
            .unwrap_or_else(|| panic!("no string {field} in {}", self.text))
            .to_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The status, and the contract's envelope with this code.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> &Self {
        assert_eq!(self.status, status, "status of {}", self.text);
        assert_eq!(self.body["code"], code, "code of {}", self.text);
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "a human detail in {}",
            self.text
        );
        let keys: Vec<&String> = self.body.as_object().expect("an object").keys().collect();
        assert!(
            keys.iter()
                .all(|k| ["detail", "code", "fields"].contains(&k.as_str())),
            "envelope keys only: {keys:?}"
        );
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "JSON error body"
        );
        self
    }

    /// A 400 whose `fields` names `field`.
    #[track_caller]
    pub fn assert_field_error(&self, field: &str) -> &Self {
        self.assert_error(400, "invalid");
        let messages = self.body["fields"][field]
            .as_array()
            .unwrap_or_else(|| panic!("fields.{field} in {}", self.text));
        assert!(
            !messages.is_empty() && messages.iter().all(Value::is_string),
            "messages for {field}: {}",
            self.text
        );
        self
    }

    /// 401 `token_not_valid` with the RFC 6750 challenge.
    #[track_caller]
    pub fn assert_token_not_valid(&self) -> &Self {
        self.assert_error(401, "token_not_valid");
        let challenge = self.header("www-authenticate").unwrap_or_default();
        assert!(
            challenge.starts_with("Bearer realm=\"api\""),
            "challenge {challenge:?}"
        );
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "challenge {challenge:?}"
        );
        self
    }
}

/// The contract's user object: exactly these keys, the right types, no hash.
#[track_caller]
pub fn assert_user_shape(user: &Value) {
    let mut keys: Vec<&str> = user
        .as_object()
        .unwrap_or_else(|| panic!("a user is an object: {user}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "date_joined",
            "email",
            "email_verified",
            "id",
            "is_active",
            "is_admin",
            "last_login",
            "username"
        ]
    );
    assert!(user["id"].is_i64(), "id is an integer: {user}");
    assert!(user["username"].is_string(), "username is a string: {user}");
    assert!(user["email"].is_string() || user["email"].is_null());
    assert!(user["is_admin"].is_boolean() && user["is_active"].is_boolean());
    assert!(
        user["email_verified"].is_boolean(),
        "email_verified is a bool: {user}"
    );
    for field in ["date_joined", "last_login"] {
        match &user[field] {
            Value::Null if field == "last_login" => {}
            Value::String(s) => {
                chrono::DateTime::parse_from_rfc3339(s)
                    .unwrap_or_else(|e| panic!("{field} {s:?} is RFC 3339: {e}"));
            }
            other => panic!("{field} is an RFC 3339 string: {other}"),
        }
    }
    let text = user.to_string();
    assert!(
        !text.contains("$2b$") && !text.contains("password"),
        "no hash: {text}"
    );
}

/// The claims of a token, decoded without checking (the server checks).
pub fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

pub fn header(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').next().expect("three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON header")
}

/// Sign arbitrary claims with the test secret.
pub fn forge(claims: &Value) -> String {
    forge_with(
        jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        SECRET.as_bytes(),
    )
}

pub fn forge_with(header: jsonwebtoken::Header, claims: &Value, key: &[u8]) -> String {
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(key),
    )
    .expect("sign")
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// Run the binary with exactly `env` in `dir` and wait for it to exit by
/// itself; panics (after killing it) if it is still running after `limit`.
/// Returns the output and how long the run took.
pub fn run_until_exit(
    env: &[(String, String)],
    dir: &Path,
    args: &[&str],
    limit: Duration,
) -> (Output, Duration) {
    use std::io::Read;
    let started = Instant::now();
    let mut child = binary(env, dir, args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn app-server");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll app-server") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "app-server {args:?} still ran after {limit:?}; stderr:\n{}",
                stderr.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    let out = Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    (out, elapsed)
}

/// Run a helper program (openssl, python, pip) and demand that it succeeds;
/// its output otherwise goes into the panic message.
pub fn run_ok(cmd: &mut Command, what: &str) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A PKCS#8 private key and its public half, made with the `openssl` CLI.
pub struct KeyFiles {
    pub private: PathBuf,
    pub public: PathBuf,
}

/// Make a key pair for `algorithm` (RS256, ES256 or EdDSA) in `dir`, as an
/// operator would: `openssl genpkey` writes PKCS#8, `openssl pkey -pubout`
/// the SubjectPublicKeyInfo PEM.
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

/// A PostgreSQL database of its own in the test cluster (not a schema), for
/// tests that cut the server off from its database with
/// `ALLOW_CONNECTIONS false` without touching anyone else's. Dropped on drop.
pub struct PgDatabase {
    admin_url: String,
    pub name: String,
    /// `DATABASE_URL` for the server.
    pub url: String,
}

impl PgDatabase {
    pub fn create() -> Self {
        let admin_url = test_support::postgres_admin_url();
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).expect("random bytes");
        let name = format!(
            "t_{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let db = Self {
            url: with_database_name(&admin_url, &name),
            admin_url,
            name,
        };
        db.admin(&format!("CREATE DATABASE {}", db.name));
        db
    }

    /// Run SQL on the cluster's admin database.
    pub fn admin(&self, sql: &str) {
        use diesel::connection::SimpleConnection;
        let mut conn = domain::DatabaseUrl::Postgres(self.admin_url.clone())
            .connect()
            .unwrap_or_else(|e| panic!("cannot reach the test cluster: {e}"));
        conn.batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Refuse new connections and end the open ones (`false`), or allow
    /// them again (`true`): the database is unreachable for the server in
    /// between, as if its host were down, while the cluster keeps serving
    /// every other test.
    pub fn allow_connections(&self, allow: bool) {
        self.admin(&format!(
            "ALTER DATABASE {} WITH ALLOW_CONNECTIONS {allow}",
            self.name
        ));
        if !allow {
            self.admin(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{}' AND pid <> pg_backend_pid()",
                self.name
            ));
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        use diesel::connection::SimpleConnection;
        if let Ok(mut conn) = domain::DatabaseUrl::Postgres(self.admin_url.clone()).connect() {
            let _ = conn.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// `postgres://u@h:p/old?x` with its database name replaced.
pub fn with_database_name(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let query_at = rest.find('?').unwrap_or(rest.len());
    let (before_query, query) = rest.split_at(query_at);
    let authority = before_query
        .split_once('/')
        .map_or(before_query, |(a, _)| a);
    format!("{scheme}://{authority}/{name}{query}")
}
