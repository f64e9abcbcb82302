//! `pcapxray tor fetch`: downloads the current Tor network-status consensus from the directory
//! authorities into the data folder the default pipeline reads, so Tor relays can be matched offline
//! afterwards. It runs only when the user asks for it — never during an analysis.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Directory authorities (name, DirPort address), from Tor's `auth_dirs.inc`. Tried in order.
pub const AUTHORITIES: &[(&str, &str)] = &[
    ("moria1", "128.31.0.39:9231"),
    ("tor26", "217.196.147.77:80"),
    ("dizum", "45.66.35.11:80"),
    ("gabelmoo", "131.188.40.189:80"),
    ("dannenberg", "193.23.244.244:80"),
    ("maatuska", "171.25.193.9:443"),
    ("longclaw", "199.58.81.140:80"),
    ("bastet", "204.13.164.118:80"),
    ("faravahar", "216.218.219.41:80"),
];

/// Where consensus documents are kept: `~/.local/share/pcapxray/tor`, the folder the default pipeline
/// grants to the `tor` analyzer.
pub fn default_dir() -> PathBuf {
    crate::pipeline::expand_home("~/.local/share/pcapxray/tor")
}

/// Largest document accepted (a full consensus is about 2–3 MB).
const MAX_SIZE: u64 = 32 << 20;

/// Why no consensus was stored.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot {what} {}: {error}", path.display())]
    Store {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    /// Every source failed: each with its reason.
    #[error("no directory source gave a consensus:\n  {}", .0.join("\n  "))]
    NoSource(Vec<String>),
}

/// Downloads a consensus from the first source that answers with a complete one (see [`complete`])
/// and stores it in `dir` under a name taken from its `valid-after` time. Returns the file written
/// and the validity period.
pub fn fetch(
    sources: &[String],
    dir: &Path,
    timeout: Duration,
) -> Result<(PathBuf, String), FetchError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .user_agent(concat!("pcapxray/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut failures = Vec::new();
    for url in sources {
        match download(&agent, url) {
            Ok(text) => match validity(&text) {
                Some(_) if !complete(&text) => failures.push(format!("{url}: {INCOMPLETE}")),
                Some((after, until)) => {
                    std::fs::create_dir_all(dir).map_err(|error| FetchError::Store {
                        what: "create",
                        path: dir.to_path_buf(),
                        error,
                    })?;
                    let name = format!("consensus-{}", after.replace([' ', ':'], "-"));
                    let path = dir.join(name);
                    write_atomically(&path, text.as_bytes()).map_err(|error| {
                        FetchError::Store {
                            what: "write",
                            path: path.clone(),
                            error,
                        }
                    })?;
                    return Ok((path, format!("valid from {after} to {until} UTC")));
                }
                None => failures.push(format!(
                    "{url}: the answer is not a network-status consensus"
                )),
            },
            Err(e) => failures.push(format!("{url}: {e}")),
        }
    }
    Err(FetchError::NoSource(failures))
}

fn download(agent: &ureq::Agent, url: &str) -> Result<String, String> {
    let response = agent.get(url).call().map_err(|e| e.to_string())?;
    let mut body = Vec::new();
    response
        .into_body()
        .into_reader()
        .take(MAX_SIZE)
        .read_to_end(&mut body)
        .map_err(|e| e.to_string())?;
    String::from_utf8(body).map_err(|_| "the answer is not text".to_string())
}

/// Writes `bytes` beside `path` and renames them into place: a reader sees the old file or the new
/// one, never a part.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_file_name(format!(
        ".{}.part",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("consensus")
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Why a consensus that is not [`complete`] is refused.
pub const INCOMPLETE: &str = "the consensus ends before its `directory-footer` and signatures: it looks \
     truncated (relays after the cut would be missing), so it is not stored";

/// True when a consensus is whole: its router section ended (`directory-footer`) and the document
/// ends with a signature. A cut download or a truncated copy is not, and is never stored: it would
/// silently stand for a consensus whose relays after the cut are missing.
pub fn complete(text: &str) -> bool {
    let Some(at) = text.find("\ndirectory-footer\n") else {
        return false;
    };
    text[at..].contains("\ndirectory-signature ")
        && text.trim_end().ends_with("-----END SIGNATURE-----")
}

/// `valid-after` and `valid-until` of a consensus, if the text is one.
pub fn validity(text: &str) -> Option<(String, String)> {
    if !text.starts_with("network-status-version 3") {
        return None;
    }
    let field = |key: &str| {
        text.lines()
            .take(64)
            .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
    };
    Some((field("valid-after ")?, field("valid-until ")?))
}

/// The consensus URLs of the directory authorities.
pub fn authority_urls() -> Vec<String> {
    AUTHORITIES
        .iter()
        .map(|(_, addr)| format!("http://{addr}/tor/status-vote/current/consensus"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_consensus_is_recognised_by_its_header_and_validity() {
        let text = "network-status-version 3\nvote-status consensus\nvalid-after 2022-11-19 10:00:00\nfresh-until 2022-11-19 11:00:00\nvalid-until 2022-11-19 13:00:00\n";
        assert_eq!(
            super::validity(text),
            Some(("2022-11-19 10:00:00".into(), "2022-11-19 13:00:00".into()))
        );
        assert_eq!(super::validity("<html>not found</html>"), None);
    }
}
