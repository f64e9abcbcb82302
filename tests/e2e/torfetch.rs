//! `pcapxray tor fetch` stores a consensus where the default pipeline reads it. Tested against an HTTP
//! server on 127.0.0.1 serving the shared consensus (the real authorities are not reachable from tests).

use crate::support::*;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

/// Serves `body` to every request, once per connection.
fn serve(body: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() || line.trim().is_empty() {
                    break;
                }
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    port
}

#[test]
fn tor_fetch_stores_the_consensus_under_its_validity_time() {
    let consensus = std::fs::read(testdata("tor_cached-consensus_2022-11-19")).unwrap();
    let port = serve(consensus.clone());
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/tor/status-vote/current/consensus");
    let out = pcapxray(&[
        "tor",
        "fetch",
        "--dir",
        dir.path().to_str().unwrap(),
        "--from",
        &url,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let saved = dir.path().join("consensus-2022-11-19-10-00-00");
    assert_eq!(std::fs::read(&saved).unwrap(), consensus);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("valid from 2022-11-19 10:00:00 to 2022-11-19 13:00:00 UTC"),
        "{stdout}"
    );
}

#[test]
fn tor_fetch_refuses_an_answer_that_is_not_a_consensus() {
    let port = serve(b"<html>captive portal</html>".to_vec());
    let dir = tempfile::tempdir().unwrap();
    let out = fetch_from(port, dir.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not a network-status consensus"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// A consensus cut short (here after its first 100,000 bytes, 246 of its 6,088 relays) is refused:
/// stored, it would stand for the whole one with the relays after the cut missing.
#[test]
fn tor_fetch_refuses_a_truncated_consensus() {
    let consensus = std::fs::read(testdata("tor_cached-consensus_2022-11-19")).unwrap();
    let port = serve(consensus[..100_000].to_vec());
    let dir = tempfile::tempdir().unwrap();
    let out = fetch_from(port, dir.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ends before its `directory-footer` and signatures"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// `pcapxray tor fetch` into `dir` from the test server on `port`.
fn fetch_from(port: u16, dir: &std::path::Path) -> std::process::Output {
    let url = format!("http://127.0.0.1:{port}/consensus");
    pcapxray(&[
        "tor",
        "fetch",
        "--dir",
        dir.to_str().unwrap(),
        "--from",
        &url,
    ])
}
