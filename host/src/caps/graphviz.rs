//! Graphviz's `dot` for output plugins (`grants.graphviz`), when the user has it installed: PNG and PDF
//! output and Graphviz's own layouts, which the sandbox cannot do. The program gets the DOT text on
//! stdin, runs with a time limit, and only whitelisted engines and formats are accepted.

use super::Session;
use crate::bindings::CapabilityError;
use crate::bindings::output::pcapxray::plugin::graphviz;
use crate::config::TomlReader;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use toml::Spanned;
use toml::de::DeValue;

#[derive(Clone, Debug)]
pub struct GraphvizGrant {
    /// The program to run (`dot` on the PATH by default).
    pub program: String,
    pub timeout_ms: u64,
}

/// `grants.graphviz`: `true` or `{ program, timeout_ms }`.
pub fn grant_from_toml(
    r: &mut TomlReader,
    v: &Spanned<DeValue>,
    stage: &str,
) -> Option<GraphvizGrant> {
    let mut grant = GraphvizGrant {
        program: "dot".into(),
        timeout_ms: 60_000,
    };
    match v.get_ref() {
        DeValue::Boolean(b) => return b.then_some(grant),
        DeValue::Table(t) => {
            for (key, v) in t.iter() {
                match key.get_ref().as_ref() {
                    "program" => grant.program = r.string(v, "grants.graphviz.program").unwrap_or_default(),
                    "timeout_ms" => grant.timeout_ms = r.uint(v, "timeout_ms", 1, 600_000).unwrap_or(60_000),
                    other => r.err(
                        key.span(),
                        format!("stage `{stage}`: unknown key `{other}` in grants.graphviz; expected program, timeout_ms"),
                    ),
                }
            }
        }
        _ => r.err(
            v.span(),
            format!("stage `{stage}`: `grants.graphviz` must be true or a table"),
        ),
    }
    Some(grant)
}

/// The layout engines a plugin may ask for; also the program names `validate` accepts without a warning.
pub const ENGINES: &[&str] = &["dot", "neato", "sfdp", "circo", "fdp", "twopi"];
const FORMATS: &[&str] = &["svg", "png", "pdf"];

pub fn render(
    grant: &GraphvizGrant,
    dot: &str,
    engine: &str,
    format: &str,
) -> Result<Vec<u8>, CapabilityError> {
    if !ENGINES.contains(&engine) {
        return Err(CapabilityError::Denied(format!(
            "layout engine `{engine}` is not one of {}",
            ENGINES.join(", ")
        )));
    }
    if !FORMATS.contains(&format) {
        return Err(CapabilityError::Denied(format!(
            "format `{format}` is not one of {}",
            FORMATS.join(", ")
        )));
    }
    let mut child = Command::new(&grant.program)
        .arg(format!("-K{engine}"))
        .arg(format!("-T{format}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => CapabilityError::NotFound(format!(
                "the Graphviz program `{}` is not installed (Debian/Ubuntu: apt-get install graphviz)",
                grant.program
            )),
            _ => CapabilityError::Other(format!("cannot run `{}`: {e}", grant.program)),
        })?;
    let mut stdin = child.stdin.take().expect("piped");
    let text = dot.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).map(|_| out)
    });
    let deadline = Instant::now() + Duration::from_millis(grant.timeout_ms);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(CapabilityError::Timeout(format!(
                    "`{}` did not finish within {} ms",
                    grant.program, grant.timeout_ms
                )));
            }
        }
    };
    let _ = writer.join();
    let output = reader
        .join()
        .map_err(|_| CapabilityError::Other("reading dot's output failed".into()))?;
    let output =
        output.map_err(|e| CapabilityError::Other(format!("reading dot's output: {e}")))?;
    if !status.success() {
        let mut err = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            let _ = stderr.read_to_string(&mut err);
        }
        return Err(CapabilityError::Other(format!(
            "`{}` failed: {}",
            grant.program,
            err.trim()
        )));
    }
    Ok(output)
}

impl graphviz::Host for Session {
    fn render(
        &mut self,
        dot: String,
        engine: String,
        format: String,
    ) -> Result<Vec<u8>, CapabilityError> {
        let Some(grant) = &self.grants.graphviz else {
            return Err(super::not_granted(
                &self.stage,
                "graphviz",
                "to run Graphviz",
            ));
        };
        let started = Instant::now();
        let result = super::graphviz::render(grant, &dot, &engine, &format);
        self.host_time += started.elapsed();
        result
    }
}
