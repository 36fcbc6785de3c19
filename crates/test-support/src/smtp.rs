//! A small SMTP server for tests: a real SMTP conversation over TCP (RFC 5321:
//! greeting, EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP,
//! QUIT), one thread per connection, every accepted message kept. It can be
//! taken down (the port refuses connections) and brought back on the same
//! port, and it can hold its reply to the end of DATA, after it has kept the
//! message: the moment a client that dies then leaves a message delivered
//! that it never saw accepted.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub from: String,
    pub to: Vec<String>,
    /// The message, dot-unstuffed, CRLF line ends.
    pub data: String,
}

impl Delivered {
    /// A header's value (the first of that name), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = value.as_mut() {
                if line.starts_with([' ', '\t']) {
                    v.push_str(line.trim_start());
                    continue;
                }
                break;
            }
            if let Some((n, v)) = line.split_once(':') {
                if n.eq_ignore_ascii_case(name) {
                    value = Some(v.trim().to_owned());
                }
            }
        }
        value
    }

    pub fn message_id(&self) -> String {
        self.header("Message-ID").unwrap_or_default()
    }

    /// The first `http(s)://...` link in the message that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> Option<String> {
        let text = self.data.replace("=\r\n", "");
        let start = text.find(prefix)?;
        let link: String = text[start..]
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '<' | '>'))
            .collect();
        Some(link.replace("=3D", "="))
    }
}

#[derive(Default)]
struct Shared {
    messages: Mutex<Vec<Delivered>>,
    hold: AtomicBool,
    down: AtomicBool,
    /// Where each message is also written, `NNNNNN.eml` (for other processes).
    dir: Option<PathBuf>,
}

pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    listener: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl SmtpSink {
    /// Listen on a free loopback port.
    pub fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("address"), None)
    }

    /// Listen on `addr`, also writing every message into `dir`.
    pub fn start_on(addr: SocketAddr, dir: Option<PathBuf>) -> Self {
        let shared = Arc::new(Shared {
            dir,
            ..Shared::default()
        });
        let mut sink = Self {
            addr,
            shared,
            listener: None,
        };
        sink.up();
        sink
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `smtp://127.0.0.1:PORT`, for AUTH_SMTP_URL.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port())
    }

    /// Stop listening (new connections are refused) and end open sessions.
    pub fn down(&mut self) {
        self.shared.down.store(true, Ordering::SeqCst);
        if let Some((stop, thread)) = self.listener.take() {
            stop.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect(self.addr);
            let _ = thread.join();
        }
    }

    /// Listen again, on the same port.
    pub fn up(&mut self) {
        if self.listener.is_some() {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(self.addr) {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("SMTP sink cannot listen on {}: {e}", self.addr),
            }
        };
        self.addr = listener.local_addr().expect("local address");
        self.shared.down.store(false, Ordering::SeqCst);
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_stop, shared) = (stop.clone(), self.shared.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if thread_stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let _ = session(stream, &shared);
                });
            }
        });
        self.listener = Some((stop, thread));
    }

    /// While on, the reply to the end of DATA waits (the message is kept first).
    pub fn hold_replies(&self, on: bool) {
        self.shared.hold.store(on, Ordering::SeqCst);
    }

    pub fn messages(&self) -> Vec<Delivered> {
        self.shared.messages.lock().expect("sink lock").clone()
    }

    /// Wait until at least `n` messages arrived; panics after `limit`.
    pub fn wait_for(&self, n: usize, limit: Duration) -> Vec<Delivered> {
        let deadline = Instant::now() + limit;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} messages arrived in {limit:?}",
                messages.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// How often each Message-ID arrived.
    pub fn message_id_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for m in self.messages() {
            *counts.entry(m.message_id()).or_default() += 1;
        }
        counts
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.down();
    }
}

fn session(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream);
    let mut reply = |text: &str| out.write_all(format!("{text}\r\n").as_bytes());
    reply("220 sink ESMTP ready")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 || shared.down.load(Ordering::SeqCst) {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split(' ')
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => reply("250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8")?,
            "HELO" => reply("250 sink")?,
            "MAIL" => {
                from = angle(&command);
                to.clear();
                reply("250 OK")?;
            }
            "RCPT" => {
                to.push(angle(&command));
                reply("250 OK")?;
            }
            "DATA" => {
                reply("354 end with <CRLF>.<CRLF>")?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                keep(
                    shared,
                    Delivered {
                        from: from.clone(),
                        to: std::mem::take(&mut to),
                        data,
                    },
                );
                while shared.hold.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                reply("250 OK: queued")?;
            }
            "RSET" => {
                to.clear();
                reply("250 OK")?;
            }
            "NOOP" => reply("250 OK")?,
            "QUIT" => {
                reply("221 bye")?;
                return Ok(());
            }
            _ => reply("502 command not implemented")?,
        }
    }
}

fn keep(shared: &Shared, message: Delivered) {
    let mut messages = shared.messages.lock().expect("sink lock");
    if let Some(dir) = &shared.dir {
        let name = format!("{:06}", messages.len() + 1);
        let partial = dir.join(format!(".{name}.partial"));
        let written = std::fs::write(&partial, &message.data)
            .and_then(|()| std::fs::rename(&partial, dir.join(format!("{name}.eml"))));
        if let Err(e) = written {
            eprintln!(
                "smtp sink: cannot write {name}.eml in {}: {e}",
                dir.display()
            );
        }
    }
    messages.push(message);
}

/// The address in `MAIL FROM:<a@b> ...` or `RCPT TO:<a@b>`.
fn angle(command: &str) -> String {
    command
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(address, _)| address.to_owned())
        .unwrap_or_default()
}
