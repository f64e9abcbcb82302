//! Lines of a text protocol, out of stream chunks, in bounded memory: a line longer than
//! [`MAX_LINE`] is dropped whole (its start was held, the rest is skipped up to its end), so a
//! megabyte of base64 in a mail body costs [`MAX_LINE`] bytes, never more.

/// Longest line kept.
pub const MAX_LINE: usize = 8192;

#[derive(Debug, Default)]
pub struct Lines {
    buf: Vec<u8>,
    /// Inside a line that grew past [`MAX_LINE`]: skip up to its end.
    skipping: bool,
}

impl Lines {
    /// Feeds bytes; `f` gets each complete line without its CR LF (lossily decoded as UTF-8).
    pub fn feed(&mut self, mut bytes: &[u8], mut f: impl FnMut(&str)) {
        while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            if !self.skipping && self.buf.len() + end <= MAX_LINE {
                self.buf.extend_from_slice(&bytes[..end]);
                let line = self.buf.strip_suffix(b"\r").unwrap_or(&self.buf);
                f(&String::from_utf8_lossy(line));
            }
            self.buf.clear();
            self.skipping = false;
            bytes = &bytes[end + 1..];
        }
        if self.skipping {
            return;
        }
        if self.buf.len() + bytes.len() > MAX_LINE {
            self.buf.clear();
            self.skipping = true;
        } else {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Bytes went missing: the line being read is lost.
    pub fn gap(&mut self) {
        self.buf.clear();
        self.skipping = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(chunks: &[&[u8]]) -> Vec<String> {
        let mut l = Lines::default();
        let mut out = Vec::new();
        for c in chunks {
            l.feed(c, |s| out.push(s.to_string()));
        }
        out
    }

    #[test]
    fn lines_are_joined_across_chunks_and_long_lines_are_dropped() {
        assert_eq!(
            lines(&[b"US", b"ER a\r\nPA", b"SS b\n"]),
            ["USER a", "PASS b"]
        );
        let long = vec![b'x'; MAX_LINE + 1];
        assert_eq!(lines(&[b"ab", &long, b"c\nok\n"]), ["ok"]);
    }
}
