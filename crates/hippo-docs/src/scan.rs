//! The optional malware-scan hook: a command (e.g. `clamdscan --no-summary -`) that reads the
//! document on standard input while it streams in, and answers by its exit status: 0 clean,
//! 1 infected (the upload is refused, 422, nothing kept), anything else, or a command that
//! cannot start, fails closed (503, nothing kept). Its output is discarded, never logged (it
//! may quote the document).

use crate::DocError;
use std::io::Write;
use std::process::{Child, ChildStdin, Command, Stdio};

/// A configured scan command: the program and its arguments.
#[derive(Debug, Clone)]
pub struct ScanCommand(pub Vec<String>);

/// One document being scanned.
pub struct Scan {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl ScanCommand {
    pub fn start(&self) -> Result<Scan, DocError> {
        let (program, args) = self
            .0
            .split_first()
            .ok_or_else(|| DocError::ScanUnavailable("no scan command is configured".into()))?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                DocError::ScanUnavailable(format!("{program} cannot start: {}", e.kind()))
            })?;
        let stdin = child.stdin.take();
        Ok(Scan { child, stdin })
    }
}

impl Scan {
    /// Feeds the next bytes. A scanner that stopped reading early has decided: its verdict is
    /// taken at [`Scan::finish`].
    pub fn feed(&mut self, bytes: &[u8]) {
        if let Some(stdin) = self.stdin.as_mut() {
            // Blocking pipe write: the server's runtime is multi-threaded, so this worker may
            // block for as long as the scanner takes to read one piece.
            let ok = tokio::task::block_in_place(|| stdin.write_all(bytes)).is_ok();
            if !ok {
                self.stdin = None;
            }
        }
    }

    /// Closes the input and waits for the verdict.
    pub fn finish(mut self) -> Result<(), DocError> {
        drop(self.stdin.take());
        let status = tokio::task::block_in_place(|| self.child.wait()).map_err(|e| {
            DocError::ScanUnavailable(format!("waiting for the scanner: {}", e.kind()))
        })?;
        match status.code() {
            Some(0) => Ok(()),
            Some(1) => Err(DocError::Infected),
            other => Err(DocError::ScanUnavailable(format!(
                "the scanner ended with status {}",
                other
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "(signal)".into())
            ))),
        }
    }
}

impl Drop for Scan {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
