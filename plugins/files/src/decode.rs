//! Undoing encodings as the bytes stream by, into a [`Sink`]: HTTP content codings (gzip, deflate, br,
//! with `flate2` and `brotli`) and MIME transfer encodings (base64, quoted-printable). Output is
//! bounded: a decoder stops at a cap on decoded bytes and says so, so a decompression bomb costs at
//! most the cap in time and nothing in memory (decoded bytes go straight into the sink's hashes).

use crate::sink::Sink;
use std::io::Write;

/// Passes decoded bytes to the sink until `left` runs out, then refuses more (which stops the decoder).
pub struct Capped {
    pub sink: Sink,
    left: u64,
    /// Set when the cap was reached.
    pub capped: bool,
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            self.capped = true;
            return Err(std::io::Error::other("decoded size cap reached"));
        }
        let n = (buf.len() as u64).min(self.left) as usize;
        self.sink.data(&buf[..n]);
        self.left -= n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Coder {
    Gzip(flate2::write::GzDecoder<Capped>),
    Zlib(flate2::write::ZlibDecoder<Capped>),
    Deflate(flate2::write::DeflateDecoder<Capped>),
    Brotli(Box<brotli::DecompressorWriter<Capped>>),
}

/// A content coding being undone.
pub struct Decoder {
    /// `None` until the first bytes pick zlib or raw deflate for `deflate`.
    coder: Option<Coder>,
    pending: Option<(String, Capped)>,
    /// Why decoding stopped early, if it did.
    pub problem: Option<String>,
}

/// Whether `coding` (a Content-Encoding value) is one this module undoes.
pub fn supported(coding: &str) -> bool {
    matches!(coding, "gzip" | "x-gzip" | "deflate" | "br")
}

impl Decoder {
    /// Decodes `coding` into `sink`, at most `cap` decoded bytes.
    pub fn new(coding: &str, sink: Sink, cap: u64) -> Decoder {
        let capped = Capped {
            sink,
            left: cap,
            capped: false,
        };
        Decoder {
            coder: None,
            pending: Some((coding.to_string(), capped)),
            problem: None,
        }
    }

    fn start(&mut self, first: u8) {
        let Some((coding, out)) = self.pending.take() else {
            return;
        };
        self.coder = Some(match coding.as_str() {
            "br" => Coder::Brotli(Box::new(brotli::DecompressorWriter::new(out, 4096))),
            // RFC 9110 says zlib; some servers send raw deflate: a zlib stream starts with 0x?8.
            "deflate" if first & 0x0f == 8 => Coder::Zlib(flate2::write::ZlibDecoder::new(out)),
            "deflate" => Coder::Deflate(flate2::write::DeflateDecoder::new(out)),
            _ => Coder::Gzip(flate2::write::GzDecoder::new(out)),
        });
    }

    /// The next encoded bytes.
    pub fn data(&mut self, bytes: &[u8]) {
        if self.problem.is_some() || bytes.is_empty() {
            return;
        }
        self.start(bytes[0]);
        let result = match self.coder.as_mut().expect("started") {
            Coder::Gzip(d) => d.write_all(bytes),
            Coder::Zlib(d) => d.write_all(bytes),
            Coder::Deflate(d) => d.write_all(bytes),
            Coder::Brotli(d) => d.write_all(bytes),
        };
        if let Err(e) = result {
            self.problem = Some(self.why(&e));
        }
    }

    fn out(&self) -> Option<&Capped> {
        match self.coder.as_ref()? {
            Coder::Gzip(d) => Some(d.get_ref()),
            Coder::Zlib(d) => Some(d.get_ref()),
            Coder::Deflate(d) => Some(d.get_ref()),
            Coder::Brotli(d) => Some(d.get_ref()),
        }
    }

    fn why(&self, e: &std::io::Error) -> String {
        if self.out().is_some_and(|o| o.capped) {
            "decoding stopped at the cap on decoded bytes (a decompression bomb?)".into()
        } else {
            format!("the encoded bytes do not decode: {e}")
        }
    }

    /// The encoded bytes are over: the sink with what was decoded, and why decoding fell short.
    pub fn finish(mut self) -> (Sink, Option<String>) {
        let (result, out) = match self.coder.take() {
            None => {
                let (_, out) = self.pending.take().expect("not started");
                return (out.sink, self.problem);
            }
            Some(Coder::Gzip(mut d)) => (d.try_finish(), take(d.get_mut())),
            Some(Coder::Zlib(mut d)) => (d.try_finish(), take(d.get_mut())),
            Some(Coder::Deflate(mut d)) => (d.try_finish(), take(d.get_mut())),
            Some(Coder::Brotli(d)) => match d.into_inner() {
                Ok(out) => (Ok(()), out),
                Err(out) => (
                    Err(std::io::Error::other("the brotli stream ended early")),
                    out,
                ),
            },
        };
        let problem = self.problem.or_else(|| match result {
            _ if out.capped => {
                Some("decoding stopped at the cap on decoded bytes (a decompression bomb?)".into())
            }
            Err(e) => Some(format!("the encoded bytes do not decode: {e}")),
            Ok(()) => None,
        });
        (out.sink, problem)
    }
}

/// Moves the decoded output out of a decoder that is finished with it.
fn take(out: &mut Capped) -> Capped {
    Capped {
        sink: std::mem::replace(&mut out.sink, Sink::new("")),
        left: 0,
        capped: out.capped,
    }
}

/// Base64 decoding across line and chunk boundaries (whitespace and junk skipped, `=` ends it).
#[derive(Default)]
pub struct Base64 {
    quad: [u8; 4],
    n: usize,
    done: bool,
}

impl Base64 {
    /// Decodes `bytes`, appending to `out`.
    pub fn data(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        for &b in bytes {
            if self.done {
                return;
            }
            let v = match b {
                b'A'..=b'Z' => b - b'A',
                b'a'..=b'z' => b - b'a' + 26,
                b'0'..=b'9' => b - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                b'=' => {
                    self.flush(out);
                    self.done = true;
                    continue;
                }
                _ => continue,
            };
            self.quad[self.n] = v;
            self.n += 1;
            if self.n == 4 {
                self.flush(out);
            }
        }
    }

    fn flush(&mut self, out: &mut Vec<u8>) {
        let q = self.quad;
        let bytes = [
            q[0] << 2 | q[1] >> 4,
            q[1] << 4 | q[2] >> 2,
            q[2] << 6 | q[3],
        ];
        if self.n >= 2 {
            out.extend_from_slice(&bytes[..self.n - 1]);
        }
        self.n = 0;
    }
}

/// Quoted-printable decoding of one line at a time (RFC 2045 section 6.7). `line` excludes its line
/// break; the decoded line break is added unless the line ends with a soft break (`=`).
pub fn quoted_printable_line(line: &[u8], out: &mut Vec<u8>, last: bool) {
    let trimmed = line.trim_ascii_end();
    let (body, soft) = match trimmed.strip_suffix(b"=") {
        Some(body) => (body, true),
        None => (trimmed, false),
    };
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b == b'=' && i + 2 < body.len() + 1 {
            let hex = body
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    if !soft && !last {
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_across_any_split() {
        let text = b"aGVsbG8g\r\nd29ybGQ=\r\n";
        for split in 0..text.len() {
            let mut d = Base64::default();
            let mut out = Vec::new();
            d.data(&text[..split], &mut out);
            d.data(&text[split..], &mut out);
            assert_eq!(out, b"hello world", "split at {split}");
        }
    }

    #[test]
    fn quoted_printable_undoes_escapes_and_soft_breaks() {
        let mut out = Vec::new();
        quoted_printable_line(b"caf=C3=A9 =", &mut out, false);
        quoted_printable_line(b"ok", &mut out, true);
        assert_eq!(out, "café ok".as_bytes());
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_cap() {
        use flate2::write::GzEncoder;
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 10 << 20]).unwrap();
        let bomb = enc.finish().unwrap();
        let mut d = Decoder::new("gzip", Sink::new("x"), 1 << 20);
        for part in bomb.chunks(1000) {
            d.data(part);
        }
        let (sink, problem) = d.finish();
        assert_eq!(sink.size(), 1 << 20);
        assert!(problem.unwrap().contains("cap"));
    }
}
