//! Splits a classic pcap file into consecutive files, as a sensor rotating its capture would: the
//! file header is repeated and each record copied byte for byte, so the parts together hold exactly
//! the packets of the original, in order. Used to test the merge of rotated files (issue #15).

use pcap_file::pcap::PcapParser;
use std::io;
use std::path::{Path, PathBuf};

/// Bytes of the classic pcap file header and of a record header.
const FILE_HEADER: usize = 24;
const RECORD_HEADER: usize = 16;

/// Where to cut: before the packets with these indexes (0-based, increasing), or into `n` parts of
/// (nearly) equal packet counts.
pub enum Cuts {
    Before(Vec<usize>),
    Parts(usize),
}

/// Writes the parts of `input` as `<out_dir>/<stem>-NNN.pcap`; returns their paths and packet counts.
pub fn split(input: &Path, out_dir: &Path, cuts: Cuts) -> io::Result<Vec<(PathBuf, usize)>> {
    let bytes = std::fs::read(input)?;
    let bad = |m: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {m}", input.display()),
        )
    };
    let (mut rest, parser) =
        PcapParser::new(&bytes).map_err(|e| bad(format!("not a pcap file: {e}")))?;
    let mut records: Vec<&[u8]> = Vec::new();
    while !rest.is_empty() {
        let at = bytes.len() - rest.len();
        let (r, raw) = parser
            .next_raw_packet(rest)
            .map_err(|e| bad(format!("record {} is corrupt: {e}", records.len() + 1)))?;
        let len = RECORD_HEADER + raw.incl_len as usize;
        records.push(&bytes[at..at + len]);
        rest = r;
    }
    let before = match cuts {
        Cuts::Before(at) => at,
        Cuts::Parts(n) => {
            let n = n.max(1);
            (1..n).map(|i| i * records.len() / n).collect()
        }
    };
    if before.windows(2).any(|w| w[0] >= w[1])
        || before.iter().any(|&i| i == 0 || i >= records.len())
    {
        return Err(bad(format!(
            "cut points {before:?} must increase and lie inside its {} packets",
            records.len()
        )));
    }
    std::fs::create_dir_all(out_dir)?;
    let stem = input
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("capture");
    let mut bounds = vec![0];
    bounds.extend(&before);
    bounds.push(records.len());
    let mut parts = Vec::new();
    for (i, w) in bounds.windows(2).enumerate() {
        let path = out_dir.join(format!("{stem}-{:03}.pcap", i + 1));
        let mut out = bytes[..FILE_HEADER].to_vec();
        for r in &records[w[0]..w[1]] {
            out.extend_from_slice(r);
        }
        std::fs::write(&path, out)?;
        parts.push((path, w[1] - w[0]));
    }
    Ok(parts)
}
