//! What an HTTP body carries, undone as it streams: the content coding (gzip, deflate, br) is decoded
//! (bounded by a cap), the decoded entity hashed as the file, the bytes as sent hashed as well
//! (`encoded_sha256`) when a coding was undone, and a multipart/form-data request split into its file
//! parts. Each layer keeps bounded state; nothing is held whole.

use crate::decode::{self, Decoder};
use crate::multipart::{self, Multipart};
use crate::report::FileInfo;
use crate::sink::{Sink, Summary, hex};
use sha2::{Digest, Sha256};

enum Layer {
    Plain(Box<Sink>),
    Decoded(Box<Decoder>),
}

/// One body being received.
pub struct Entity {
    layer: Layer,
    /// The bytes as sent, when a coding is undone.
    encoded: Option<(Sha256, u64)>,
    multipart: Option<Multipart>,
    /// Encoded bytes missing (a gap stopped decoding).
    broken: u64,
}

/// What a finished body gave.
pub struct EntityOut {
    pub summary: Summary,
    /// (sha256, size) of the bytes as sent, when a coding was undone.
    pub encoded: Option<(String, u64)>,
    pub problem: Option<String>,
    /// Files inside a multipart body.
    pub parts: Vec<(FileInfo, Summary)>,
}

impl Entity {
    /// A body whose Content-Encoding is `coding` and Content-Type `content_type`, for a file named
    /// `name`; decoded output is capped at `cap` bytes.
    pub fn new(coding: Option<&str>, content_type: Option<&str>, name: &str, cap: u64) -> Entity {
        let coding = coding.map(|c| c.trim().to_ascii_lowercase());
        let sink = Sink::new(name);
        let (layer, encoded) = match coding.as_deref() {
            Some(c) if decode::supported(c) => (
                Layer::Decoded(Box::new(Decoder::new(c, sink, cap))),
                Some((Sha256::new(), 0)),
            ),
            _ => (Layer::Plain(Box::new(sink)), None),
        };
        Entity {
            layer,
            encoded,
            multipart: content_type
                .and_then(multipart::boundary)
                .map(|b| Multipart::new(&b)),
            broken: 0,
        }
    }

    pub fn data(&mut self, bytes: &[u8]) {
        if let Some((sha, n)) = &mut self.encoded {
            sha.update(bytes);
            *n += bytes.len() as u64;
        }
        match &mut self.layer {
            Layer::Plain(sink) => {
                sink.data(bytes);
                if let Some(m) = &mut self.multipart {
                    m.data(bytes);
                }
            }
            // Multipart bodies are not content-coded in practice; decoded parts are not split.
            Layer::Decoded(d) if self.broken == 0 => d.data(bytes),
            Layer::Decoded(_) => {}
        }
    }

    pub fn gap(&mut self, n: u64) {
        match &mut self.layer {
            Layer::Plain(sink) => sink.gap(n),
            Layer::Decoded(_) => self.broken += n,
        }
        if let Some(m) = &mut self.multipart {
            m.gap(n);
        }
    }

    pub fn finish(self) -> EntityOut {
        let (sink, mut problem) = match self.layer {
            Layer::Plain(sink) => (*sink, None),
            Layer::Decoded(d) => d.finish(),
        };
        if self.broken > 0 {
            problem = Some(format!(
                "{} bytes of the encoded body are missing, so it was decoded only up to them",
                self.broken
            ));
        }
        EntityOut {
            summary: sink.finish(),
            encoded: self.encoded.map(|(sha, n)| (hex(&sha.finalize()), n)),
            problem,
            parts: self.multipart.map(Multipart::finish).unwrap_or_default(),
        }
    }
}
