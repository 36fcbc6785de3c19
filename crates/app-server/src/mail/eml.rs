//! Development mail without an SMTP server: each message is written as an
//! `.eml` file (RFC 5322, what a mail client opens) in `outbox/` of the data
//! dir, and its path logged, so a newcomer can click the link. The name comes
//! from the outbox row, and the file appears whole (written aside, then
//! renamed): writing a message again after a crash replaces it, so each row
//! is one file however often it was attempted.

use std::io;
use std::path::{Path, PathBuf};

/// Write `message` as `<dir>/<stem>.eml`, creating `dir`; returns the path.
pub fn write(dir: &Path, stem: &str, message: &[u8]) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{stem}.eml"));
    let partial = dir.join(format!(".{stem}.eml.partial"));
    std::fs::write(&partial, message)?;
    std::fs::rename(&partial, &path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_files_and_rewrites_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("outbox");
        let path = write(&out, "7-password_reset", b"first").unwrap();
        assert_eq!(path, out.join("7-password_reset.eml"));
        write(&out, "7-password_reset", b"again").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"again");
        let names: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no partial file left: {names:?}");
    }
}
