//! What a plugin prints to stderr and to stdout, each kept whole up to a bound, so that a Python or
//! JavaScript exception reaches the investigator with its own message and line, and an author's
//! `print` while debugging is seen. Writing never fails and never traps the plugin: past the bound the
//! oldest bytes give way (an exception's message is at the end of what was printed), and the text says
//! how much was cut. Printing is then cleaned of the runtimes' boilerplate, which tells the
//! investigator nothing about the plugin.

use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// How much of each of a plugin's output streams is kept: the last 64 KiB.
pub const PRINTED_KEPT: usize = 64 * 1024;

/// One of a plugin's output streams: the last [`PRINTED_KEPT`] bytes and how many came before them.
#[derive(Clone)]
pub struct PrintLog {
    /// `stderr` or `stdout`, for the notice of a cut.
    stream: &'static str,
    inner: Arc<Mutex<Kept>>,
}

#[derive(Default)]
struct Kept {
    bytes: VecDeque<u8>,
    cut: u64,
}

impl PrintLog {
    pub fn new(stream: &'static str) -> PrintLog {
        PrintLog {
            stream,
            inner: Arc::default(),
        }
    }

    fn push(&self, data: &[u8]) {
        let mut kept = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        kept.bytes.extend(data);
        let over = kept.bytes.len().saturating_sub(PRINTED_KEPT);
        if over > 0 {
            kept.bytes.drain(..over);
            kept.cut += over as u64;
        }
    }

    /// What the plugin printed, cleaned of runtime boilerplate, with a notice first when the start was
    /// cut; `None` when it printed nothing worth showing.
    pub fn text(&self) -> Option<String> {
        let kept = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (a, b) = kept.bytes.as_slices();
        let raw = String::from_utf8_lossy(&[a, b].concat()).into_owned();
        let cleaned = clean(&raw);
        if cleaned.is_empty() {
            return None;
        }
        Some(match kept.cut {
            0 => cleaned,
            cut => format!(
                "[the first {cut} bytes of its {} were cut; the last {} KiB are kept]\n{cleaned}",
                self.stream,
                PRINTED_KEPT / 1024
            ),
        })
    }
}

/// Drops the lines that the language runtimes add around a plugin's own message: blank lines,
/// componentize-py's and componentize-js's generic report that "an exception happened", and the
/// panic header of their own runtime just before it (the exception itself, printed before them, is
/// kept; so is a Rust plugin's own panic, which is followed by its message).
pub fn clean(printed: &str) -> String {
    const BOILERPLATE: &[&str] = &[
        // componentize-py, after printing the traceback.
        "Python function threw an unexpected exception",
        // componentize-js (StarlingMonkey), after printing the error.
        "Error while running JS",
        "Redirecting call to abort() to mozalloc_abort",
        // Rust std, on a panic: the hint is about the host's environment, not the plugin's.
        "note: run with `RUST_BACKTRACE=1`",
    ];
    let boilerplate = |line: &str| BOILERPLATE.iter().any(|b| line.trim_start().starts_with(b));
    let lines: Vec<&str> = printed
        .lines()
        .map(str::trim_end)
        .filter(|line| !line.trim().is_empty())
        .collect();
    lines
        .iter()
        .enumerate()
        .filter(|(i, line)| {
            let runtime_panic = line.starts_with("thread '")
                && line.contains(" panicked at ")
                && lines.get(i + 1).is_some_and(|next| boilerplate(next));
            !boilerplate(line) && !runtime_panic
        })
        .map(|(_, line)| *line)
        .collect::<Vec<_>>()
        .join("\n")
}

impl OutputStream for PrintLog {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(PRINTED_KEPT)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for PrintLog {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for PrintLog {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.push(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

impl IsTerminal for PrintLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for PrintLog {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_of_a_long_stderr_is_kept_and_the_cut_is_said() {
        let log = PrintLog::new("stderr");
        for i in 0..10_000 {
            log.push(format!("line {i:05} of chatter\n").as_bytes());
        }
        log.push(b"KeyError: 'port'\n");
        let text = log.text().unwrap();
        assert!(
            text.ends_with("KeyError: 'port'"),
            "{}",
            &text[text.len() - 80..]
        );
        assert!(
            text.starts_with("[the first ") && text.contains("bytes of its stderr were cut"),
            "{}",
            &text[..120]
        );
        assert!(text.len() <= PRINTED_KEPT + 100);
    }

    #[test]
    fn runtime_boilerplate_and_blank_lines_are_dropped() {
        // As componentize-py 0.25.1 prints an exception.
        let printed = "Traceback (most recent call last):\n  File \"app.py\", line 12, in analyze\n\
                       KeyError: 'port'\n\nthread '<unnamed>' (1) panicked at runtime/src/lib.rs:1293:29:\n\
                       Python function threw an unexpected exception\n\
                       note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            clean(printed),
            "Traceback (most recent call last):\n  File \"app.py\", line 12, in analyze\nKeyError: 'port'"
        );
        assert_eq!(PrintLog::new("stdout").text(), None);
        // A Rust plugin's own panic stays: its message follows the header.
        let rust = "thread '<unnamed>' panicked at src/lib.rs:9:9:\ndeliberate failure\n";
        assert_eq!(clean(rust), rust.trim_end());
    }
}
