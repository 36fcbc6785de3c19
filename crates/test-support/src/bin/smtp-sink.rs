//! The test SMTP server as a process, for the stack tests (Python):
//!
//!     smtp-sink PORT DIR
//!
//! listens on 127.0.0.1:PORT and writes every accepted message into DIR as
//! NNNNNN.eml. While the file DIR/hold exists, the reply to the end of DATA
//! waits (the message is written first). Runs until killed.

use std::path::PathBuf;
use std::time::Duration;

use test_support::smtp::SmtpSink;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(port), Some(dir)) = (args.next(), args.next()) else {
        eprintln!("usage: smtp-sink PORT DIR");
        std::process::exit(2);
    };
    let Ok(port) = port.parse::<u16>() else {
        eprintln!("smtp-sink: PORT must be a number, not {port:?}");
        std::process::exit(2);
    };
    let dir = PathBuf::from(dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("smtp-sink: cannot create {}: {e}", dir.display());
        std::process::exit(1);
    }
    let sink = SmtpSink::start_on(([127, 0, 0, 1], port).into(), Some(dir.clone()));
    eprintln!(
        "smtp-sink: listening on {}, messages in {}",
        sink.url(),
        dir.display()
    );
    let hold = dir.join("hold");
    loop {
        sink.hold_replies(hold.exists());
        std::thread::sleep(Duration::from_millis(20));
    }
}
