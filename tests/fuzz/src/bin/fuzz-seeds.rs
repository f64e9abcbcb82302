//! Rebuilds the committed seed corpus (`tests/fuzz/corpus/<target>/`) from the shared real captures,
//! so the seeds are reproducible: `cargo run -p pcapxray-fuzz --bin fuzz-seeds` (optional arguments:
//! the test data folder, default `../shared/testdata`, and the corpus folder, default
//! `tests/fuzz/corpus`). It replaces each target's folder and prints what it wrote.

use pcapxray_capture::decode::{CaptureReader, Decoded, Decoder, LinkType};
use pcapxray_capture::flow::{FinishedFlow, FlowSettings, FlowTable};
use pcapxray_fuzz::{Frames, TARGETS, join};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Captures larger than this give no whole-file seed (they still give frames and payloads).
const READER_MAX_FILE: u64 = 64 << 10;
/// Reader seeds are cut at the first record boundary past this many bytes.
const READER_SEED_BYTES: u64 = 4 << 10;
/// Frames per capture in a flow-table seed.
const FLOW_SEED_FRAMES: usize = 48;
/// Single-frame decoder seeds per capture (one per distinct frame shape).
const DECODER_SEEDS_PER_CAPTURE: usize = 8;
/// Payload seeds kept per plugin target and capture.
const PAYLOAD_SEEDS: usize = 10;
/// Stream bytes kept per direction in HTTP and TLS seeds.
const STREAM_BYTES: usize = 2048;

type Seeds = BTreeMap<&'static str, BTreeMap<String, Vec<u8>>>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let testdata = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../../../shared/testdata"));
    let out = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("corpus"));
    let mut seeds: Seeds = TARGETS.iter().map(|t| (t.name, BTreeMap::new())).collect();
    for path in captures(&testdata) {
        seed_capture(&path, &mut seeds);
    }
    seed_consensus(
        &testdata.join("tor_cached-consensus_2022-11-19"),
        &mut seeds,
    );
    for (target, files) in &seeds {
        write_target(&out.join(target), files);
    }
}

/// The `.pcap` and `.pcapng` files of the test data folder, sorted; panics when there are none.
fn captures(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read the test data folder {}: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.expect("a folder entry").path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no captures in {}", dir.display());
    paths
}

/// One real frame and the time since the previous one.
struct RealFrame {
    gap_secs: i64,
    link_type: LinkType,
    data: Vec<u8>,
}

fn seed_capture(path: &Path, seeds: &mut Seeds) {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let bytes = std::fs::read(path).expect("a readable capture");
    let Ok(mut reader) = CaptureReader::from_bytes(bytes.clone(), &name) else {
        return;
    };
    let mut frames = Vec::new();
    let mut cut = None;
    let mut last_ts = None;
    while let Some(Ok(f)) = reader.next_frame() {
        let gap = last_ts.map_or(0, |t: u64| (f.ts as i64 - t as i64) / 1_000_000_000);
        last_ts = Some(f.ts);
        frames.push(RealFrame {
            gap_secs: gap,
            link_type: f.link_type,
            data: f.data.to_vec(),
        });
        if cut.is_none() && reader.position() >= READER_SEED_BYTES {
            cut = Some(reader.position());
        }
    }
    // A whole small capture would be a copy of shared test data in the repository: only cut ones are
    // kept (the replay test reads nothing from ../shared, so it needs no copies either).
    if (bytes.len() as u64) <= READER_MAX_FILE
        && let Some(end) = cut
        && (end as usize) < bytes.len()
    {
        add(
            seeds,
            "capture_reader",
            &name,
            bytes[..end as usize].to_vec(),
        );
    }
    seed_frames(&name, &frames, seeds);
    seed_payloads(&name, &frames, seeds);
}

/// Decoder seeds (single frames of distinct shapes, and every fragment of a fragmented capture in
/// one input) and a flow-table seed (the capture's first frames with their real time gaps).
fn seed_frames(name: &str, frames: &[RealFrame], seeds: &mut Seeds) {
    let Some(selector) = frames.first().and_then(|f| Frames::selector(f.link_type)) else {
        return;
    };
    let same_link: Vec<&RealFrame> = frames
        .iter()
        .filter(|f| Frames::selector(f.link_type) == Some(selector))
        .collect();
    let mut shapes = Vec::new();
    for f in &same_link {
        let shape = shape(&f.data);
        if !shapes.contains(&shape) && shapes.len() < DECODER_SEEDS_PER_CAPTURE {
            shapes.push(shape);
            let input = Frames::encode(selector, &[(0, &f.data)]);
            add(
                seeds,
                "packet_decoder",
                &format!("{name}-{}", shapes.len()),
                input,
            );
        }
    }
    let timed: Vec<(i64, &[u8])> = same_link
        .iter()
        .map(|f| (f.gap_secs, &f.data[..]))
        .collect();
    if name.contains("fragment") {
        add(
            seeds,
            "packet_decoder",
            &format!("{name}-all"),
            Frames::encode(selector, &timed),
        );
    }
    let first = &timed[..timed.len().min(FLOW_SEED_FRAMES)];
    add(seeds, "flow_table", name, Frames::encode(selector, first));
}

/// A rough frame shape: the bytes around where link, IP and transport headers sit.
fn shape(frame: &[u8]) -> Vec<u8> {
    [12, 13, 14, 16, 23, 26, 36, 37]
        .iter()
        .map(|&i| frame.get(i).copied().unwrap_or(0))
        .collect()
}

/// Payload seeds: the capture's flows, decoded and tracked by pcapxray itself.
fn seed_payloads(name: &str, frames: &[RealFrame], seeds: &mut Seeds) {
    for (i, flow) in flows(frames).iter().enumerate() {
        let ports = [flow.client.1, flow.server.1];
        let has = |p: u16| ports.contains(&p);
        let (up, down) = (&flow.to_server, &flow.to_client);
        let tag = format!("{name}-{}", i + 1);
        if flow.ip_protocol == 17 && (has(67) || has(68)) {
            for (j, m) in messages(up).chain(messages(down)).enumerate() {
                add(seeds, "dhcp", &format!("{tag}-{j}"), m.to_vec());
            }
        }
        if flow.ip_protocol == 17 && [53, 5353, 5355, 137].iter().any(|p| has(*p)) {
            for (j, m) in messages(up).chain(messages(down)).enumerate() {
                add(seeds, "dns", &format!("{tag}-{j}"), m.to_vec());
            }
        }
        if flow.ip_protocol == 6 && has(53) && up.payload.len() > 2 {
            add(
                seeds,
                "dns",
                &format!("{tag}-tcp"),
                up.payload[2..].to_vec(),
            );
        }
        let (a, b) = (cap(&up.payload), cap(&down.payload));
        if flow.ip_protocol == 6 && looks_like_http(a) {
            add(seeds, "http", &tag, join(a, b));
        }
        if flow.ip_protocol == 6 && a.first() == Some(&0x16) {
            add(seeds, "tls", &tag, join(a, b));
        }
    }
}

fn cap(payload: &[u8]) -> &[u8] {
    &payload[..payload.len().min(STREAM_BYTES)]
}

fn looks_like_http(stream: &[u8]) -> bool {
    [
        &b"GET "[..],
        b"POST ",
        b"HEAD ",
        b"PUT ",
        b"OPTIONS ",
        b"CONNECT ",
    ]
    .iter()
    .any(|m| stream.starts_with(m))
}

/// The datagrams of one direction of a UDP flow.
fn messages(d: &pcapxray_capture::flow::Direction) -> impl Iterator<Item = &[u8]> {
    let mut rest = &d.payload[..];
    d.datagrams.iter().map(move |&n| {
        let (head, tail) = rest.split_at((n as usize).min(rest.len()));
        rest = tail;
        head
    })
}

fn flows(frames: &[RealFrame]) -> Vec<FinishedFlow> {
    let mut decoder = Decoder::new();
    let mut table = FlowTable::new(FlowSettings::default());
    let mut ts = 1u64;
    for f in frames {
        ts = ts.saturating_add_signed(f.gap_secs * 1_000_000_000);
        let frame = pcapxray_capture::decode::Frame {
            ts,
            link_type: f.link_type,
            data: &f.data,
            orig_len: f.data.len() as u32,
            interface: 0,
        };
        if let Ok(Decoded::Ip(pkt)) = decoder.decode(&frame) {
            table.add(ts, &pkt);
        }
    }
    table.end_capture();
    let mut out = Vec::new();
    while table.has_ready() {
        out.extend(table.take_batch());
    }
    out
}

/// Two trimmed consensus documents: the header alone, and the header with the first relays and
/// the footer (signatures included).
fn seed_consensus(path: &Path, seeds: &mut Seeds) {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read the consensus {}: {e}", path.display()));
    let first_router = text.find("\nr ").expect("a router entry") + 1;
    let footer = text.find("\ndirectory-footer").expect("a footer") + 1;
    let sixth_router = text[first_router..]
        .match_indices("\nr ")
        .nth(4)
        .map_or(footer, |(i, _)| first_router + i + 1);
    let header = &text[..first_router];
    add(seeds, "tor_consensus", "header", header.as_bytes().to_vec());
    let trimmed = format!("{}{}", &text[..sixth_router], &text[footer..]);
    add(seeds, "tor_consensus", "five-relays", trimmed.into_bytes());
}

/// Adds a seed unless the target has enough from this capture (`name` starts with the capture's
/// file name), or has the same bytes under another name.
fn add(seeds: &mut Seeds, target: &'static str, name: &str, bytes: Vec<u8>) {
    let files = seeds.get_mut(target).expect("a known target");
    let capture = name.split('-').next().unwrap_or(name);
    let from_capture = files.keys().filter(|k| k.starts_with(capture)).count();
    let payload = !matches!(target, "capture_reader" | "packet_decoder" | "flow_table");
    if bytes.is_empty()
        || (payload && from_capture >= PAYLOAD_SEEDS)
        || files.values().any(|b| *b == bytes)
    {
        return;
    }
    files.insert(name.replace(['/', ' '], "_"), bytes);
}

fn write_target(dir: &Path, files: &BTreeMap<String, Vec<u8>>) {
    if dir.exists() {
        std::fs::remove_dir_all(dir).expect("the old seeds are removable");
    }
    std::fs::create_dir_all(dir).expect("the corpus folder is writable");
    let mut total = 0;
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).expect("a seed is writable");
        total += bytes.len();
    }
    println!("{}: {} seeds, {total} bytes", dir.display(), files.len());
}
