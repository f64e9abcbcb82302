//! The plugin's state across a capture: it evaluates each finished flow, keeps the flows whose internet
//! peer has no name yet as small candidates (a DNS answer can arrive after the connection it named has
//! ended: UDP flows end later than TCP ones), and decides them in `finish`, when every name the capture
//! holds is known and reverse DNS, if granted, can be asked in batches.
//!
//! Everything the host provides (host facts, files, DNS, the log) goes through the [`Host`] trait, so
//! the whole engine runs natively in unit tests with a fake host.

use crate::cleartext;
use crate::intel::{Hit, Intel};
use crate::registry::{BUILTIN, Registry};
use crate::rules::{self, Conn, Named, Peer, PortCheck, Side};
use crate::verdict::{Verdict, Weights};
use crate::{Config, MAX_CANDIDATES_LIMIT};
use pcapxray_plugin_sdk::{
    CapabilityError, ConfigError, Finding, Flow, Outcome, PluginError, Severity,
};
use std::collections::HashMap;
use std::net::IpAddr;

/// How important a log message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Normal progress.
    Info,
    /// Something the investigator should know about the results.
    Warn,
}

/// What the engine asks of the host.
pub trait Host {
    /// The `name` facts published for `ip` so far, with the stage that published each.
    fn names(&mut self, ip: IpAddr) -> Vec<Named>;
    /// Reverse DNS for each address, in order.
    fn reverse(&mut self, ips: &[IpAddr]) -> Vec<Result<Vec<String>, CapabilityError>>;
    /// A granted file.
    fn read(&mut self, path: &str) -> Result<Vec<u8>, CapabilityError>;
    /// A message to the investigator.
    fn log(&mut self, level: Level, message: &str);
}

/// Addresses asked in one reverse DNS call.
const REVERSE_BATCH: usize = 256;
/// Named addresses remembered between batches.
const NAME_CACHE: usize = 65_536;

/// The no-name reason when the capture gave no name and reverse DNS was not asked.
const NO_NAME: &str = "no DNS answer, SNI or Host name in the capture";

/// A flow whose peer had no name when it ended.
#[derive(Debug)]
struct Candidate {
    conn: Conn,
    peer: Peer,
    intel: Option<Box<Hit>>,
    mid_stream: bool,
}

/// What reverse DNS said about one address.
#[derive(Debug, Clone)]
enum Reverse {
    Names(Vec<String>),
    NoName,
    NotGranted,
    Failed(String),
    NotAsked(&'static str),
}

impl Reverse {
    /// The tail of the no-name reason.
    fn explain(&self) -> String {
        match self {
            Reverse::Names(_) => String::new(),
            Reverse::NoName => "no reverse DNS (PTR) name".into(),
            Reverse::NotGranted => "reverse DNS not granted".into(),
            Reverse::Failed(why) => format!("reverse DNS failed: {why}"),
            Reverse::NotAsked(why) => format!("reverse DNS not asked ({why})"),
        }
    }
}

/// Counts for the closing log line.
#[derive(Debug, Default)]
struct Counts {
    flows: u64,
    flagged: u64,
    intel: u64,
    port: u64,
    unnamed: u64,
    cleartext: u64,
    decided_early: u64,
}

/// The analyzer, generic over its host.
pub struct Engine<H: Host> {
    host: H,
    weights: Weights,
    flag_unnamed: bool,
    flag_ports: bool,
    max_candidates: usize,
    registry: Registry,
    intel: Intel,
    candidates: Vec<Candidate>,
    named: HashMap<IpAddr, Vec<Named>>,
    counts: Counts,
}

fn config_error(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        message: message.into(),
    }
}

fn unit_interval(key: &str, value: f64, errors: &mut Vec<ConfigError>) {
    if !(0.0..=1.0).contains(&value) {
        errors.push(config_error(
            key,
            format!("must be between 0 and 1, not {value}"),
        ));
    }
}

impl<H: Host> Engine<H> {
    /// Checks the configuration and loads the registry and intel lists (through `files`). Every
    /// problem is reported at once.
    pub fn new(config: Config, mut host: H) -> Result<Engine<H>, PluginError> {
        let mut errors = Vec::new();
        unit_interval("weights.intel", config.weights.intel, &mut errors);
        unit_interval(
            "weights.unregistered_port",
            config.weights.unregistered_port,
            &mut errors,
        );
        unit_interval(
            "weights.unnamed_peer",
            config.weights.unnamed_peer,
            &mut errors,
        );
        if config.max_candidates > MAX_CANDIDATES_LIMIT {
            errors.push(config_error(
                "max_candidates",
                format!(
                    "must be at most {MAX_CANDIDATES_LIMIT}, not {}",
                    config.max_candidates
                ),
            ));
        }
        let registry = match &config.ports_file {
            None => Registry::parse(BUILTIN.as_bytes()).map_err(|e| {
                PluginError::Other(format!("the built-in port registry is broken: {}", e.0))
            })?,
            Some(path) => match read(&mut host, path) {
                Err(message) => {
                    errors.push(config_error("ports_file", message));
                    Registry::default()
                }
                Ok(bytes) => match Registry::parse(&bytes) {
                    Ok(r) => {
                        host.log(
                            Level::Info,
                            &format!(
                                "ports_file={path} rows={}: using this port registry instead of the built-in one.",
                                r.rows()
                            ),
                        );
                        r
                    }
                    Err(e) => {
                        errors.push(config_error(
                            "ports_file",
                            format!("`{path}` is not a port registry: {}", e.0),
                        ));
                        Registry::default()
                    }
                },
            },
        };
        let mut intel = Intel::default();
        for (i, path) in config.intel.iter().enumerate() {
            let bytes = match read(&mut host, path) {
                Ok(b) => b,
                Err(message) => {
                    errors.push(config_error(format!("intel.{i}"), message));
                    continue;
                }
            };
            let stats = intel.add_list(path, &bytes);
            if stats.indicators == 0 {
                errors.push(config_error(
                    format!("intel.{i}"),
                    format!("`{path}` holds no IP, CIDR or domain indicator"),
                ));
                continue;
            }
            let skipped = match stats.first_skipped {
                Some(line) => format!(
                    " {} lines were not indicators and were skipped, the first at line {line}.",
                    stats.skipped
                ),
                None => String::new(),
            };
            let level = if stats.skipped > 0 {
                Level::Warn
            } else {
                Level::Info
            };
            host.log(
                level,
                &format!(
                    "intel={path} indicators={}: intel list loaded.{skipped}",
                    stats.indicators
                ),
            );
        }
        if !errors.is_empty() {
            return Err(PluginError::Config(errors));
        }
        Ok(Engine {
            host,
            weights: config.weights,
            flag_unnamed: config.flag_unnamed,
            flag_ports: config.flag_unregistered_ports,
            max_candidates: config.max_candidates,
            registry,
            intel,
            candidates: Vec::new(),
            named: HashMap::new(),
            counts: Counts::default(),
        })
    }

    /// Evaluates a batch of finished flows.
    pub fn analyze(&mut self, flows: &[Flow], out: &mut Outcome) {
        for flow in flows {
            self.counts.flows += 1;
            self.cleartext(flow, out);
            self.evaluate(flow, out);
        }
    }

    /// Cleartext logins: their own findings, Medium, whatever the rest of the verdict.
    fn cleartext(&mut self, flow: &Flow, out: &mut Outcome) {
        let conn = Conn::of(flow);
        if flow.is_tcp()
            && let Some(found) = cleartext::detect(
                &flow.to_server.payload,
                &flow.to_client.payload,
                flow.server.port,
            )
        {
            let what = match (&found.user, found.password_sent) {
                (Some(user), true) => format!("login as {user}, password sent in clear text"),
                (Some(user), false) => format!("user name {user} sent in clear text"),
                (None, _) => "session in clear text".to_string(),
            };
            let mut finding = Finding::on_flow(flow.id, found.tag, Severity::Medium)
                .confidence(found.confidence)
                .summary(format!("{} {what}: {}", found.protocol, conn.describe()))
                .attr("cleartext.protocol", found.protocol)
                .attr("cleartext.password-sent", found.password_sent.to_string());
            if let Some(user) = &found.user {
                finding = finding.attr("cleartext.user", user.as_str());
            }
            if let Some(method) = found.method {
                finding = finding.attr("cleartext.method", method);
            }
            out.push(finding);
            self.counts.cleartext += 1;
        }
        if let Some((user, host)) = rules::http_basic_user(flow) {
            let to = host.unwrap_or_else(|| conn.server.to_string());
            out.push(
                Finding::on_flow(flow.id, "cleartext.http-basic", Severity::Medium)
                    .summary(format!(
                        "HTTP Basic credentials of {user} sent in clear text to {to}: {}",
                        conn.describe()
                    ))
                    .attr("cleartext.protocol", "HTTP")
                    .attr("cleartext.user", user)
                    .attr("cleartext.method", "Basic")
                    .attr("cleartext.password-sent", "true"),
            );
            self.counts.cleartext += 1;
        }
    }

    /// The `suspicious` verdict of one flow: now, or in `finish` when the peer's name is still open.
    fn evaluate(&mut self, flow: &Flow, out: &mut Outcome) {
        let conn = Conn::of(flow);
        let peer = rules::peer(&conn);
        let mut names = match peer {
            Some(Peer {
                side: Side::Server, ..
            }) => rules::flow_names(flow),
            _ => Vec::new(),
        };
        let name_matters = match peer {
            Some(p) => {
                self.flag_unnamed
                    && !(p.side == Side::Server && rules::is_dns_exchange(flow))
                    && !rules::is_discovery(&conn)
            }
            None => false,
        };
        if let Some(p) = peer
            && ((name_matters && names.is_empty()) || self.intel.has_domains())
        {
            for named in self.host_names(p.ip) {
                if !names.iter().any(|(n, _)| *n == named.0) {
                    names.push(named);
                }
            }
        }
        let intel_ip = peer.map_or(conn.server, |p| p.ip);
        let ip_hit = self.intel.match_ip(intel_ip);
        if let Some(p) = peer
            && name_matters
            && names.is_empty()
        {
            if self.candidates.len() < self.max_candidates {
                self.candidates.push(Candidate {
                    conn,
                    peer: p,
                    intel: ip_hit.map(Box::new),
                    mid_stream: rules::began_before_capture(flow),
                });
                return;
            }
            self.counts.decided_early += 1;
            let unnamed = format!("{NO_NAME} when the flow ended; max_candidates reached");
            let mut verdict = self.verdict(&conn, peer, names, ip_hit, Some(unnamed));
            verdict.mid_stream = rules::began_before_capture(flow);
            self.emit(&conn, &verdict, out);
            return;
        }
        let verdict = self.verdict(&conn, peer, names, ip_hit, None);
        self.emit(&conn, &verdict, out);
    }

    /// The names host facts give `ip` now; positive answers are remembered.
    fn host_names(&mut self, ip: IpAddr) -> Vec<Named> {
        if let Some(names) = self.named.get(&ip) {
            return names.clone();
        }
        let mut names: Vec<Named> = Vec::new();
        for (name, stage) in self.host.names(ip) {
            if let Some(name) = rules::dns_name(&name)
                && !names.iter().any(|(n, _)| *n == name)
            {
                names.push((name, stage));
            }
        }
        if !names.is_empty() {
            if self.named.len() >= NAME_CACHE {
                self.named.clear();
            }
            self.named.insert(ip, names.clone());
        }
        names
    }

    /// Puts the reasons together.
    fn verdict(
        &self,
        conn: &Conn,
        peer: Option<Peer>,
        names: Vec<Named>,
        ip_hit: Option<Hit>,
        unnamed: Option<String>,
    ) -> Verdict {
        let (port, service) = match rules::check_port(&self.registry, conn) {
            PortCheck::Unregistered if self.flag_ports => (
                Some(format!(
                    "{}/{} is not in the IANA registry",
                    conn.server_port, conn.protocol
                )),
                None,
            ),
            PortCheck::Registered(name) => (None, Some(name)),
            _ => (None, None),
        };
        let intel = ip_hit.or_else(|| names.iter().find_map(|(n, _)| self.intel.match_name(n)));
        Verdict {
            port,
            service,
            unnamed,
            intel,
            peer,
            names,
            mid_stream: false,
        }
    }

    fn emit(&mut self, conn: &Conn, verdict: &Verdict, out: &mut Outcome) {
        if let Some(finding) = verdict.finding(conn, &self.weights) {
            self.counts.flagged += 1;
            self.counts.intel += u64::from(verdict.intel.is_some());
            self.counts.port += u64::from(verdict.port.is_some());
            self.counts.unnamed += u64::from(verdict.unnamed.is_some());
            out.push(finding);
        }
    }

    /// Decides the candidates with every name the capture gave, and reverse DNS if granted.
    pub fn finish(&mut self, out: &mut Outcome) {
        let candidates = std::mem::take(&mut self.candidates);
        let mut peers: Vec<IpAddr> = candidates.iter().map(|c| c.peer.ip).collect();
        peers.sort_unstable();
        peers.dedup();
        let mut names: HashMap<IpAddr, Vec<Named>> = HashMap::new();
        let mut unnamed = Vec::new();
        for ip in peers {
            let found = self.host_names(ip);
            if found.is_empty() {
                unnamed.push(ip);
            } else {
                names.insert(ip, found);
            }
        }
        let reverse = self.reverse_dns(&unnamed);
        for (ip, answer) in &reverse {
            if let Reverse::Names(ptr) = answer {
                let found = ptr
                    .iter()
                    .filter_map(|n| rules::dns_name(n))
                    .map(|n| (n, "reverse DNS".to_string()))
                    .collect();
                names.insert(*ip, found);
            }
        }
        for candidate in candidates {
            let ip = candidate.peer.ip;
            let known = names.get(&ip).cloned().unwrap_or_default();
            let why = if known.is_empty() {
                let tail = reverse
                    .get(&ip)
                    .map_or_else(|| Reverse::NotGranted.explain(), Reverse::explain);
                Some(format!("{NO_NAME}; {tail}"))
            } else {
                None
            };
            let mut verdict = self.verdict(
                &candidate.conn,
                Some(candidate.peer),
                known,
                candidate.intel.map(|b| *b),
                why,
            );
            verdict.mid_stream = candidate.mid_stream;
            self.emit(&candidate.conn, &verdict, out);
        }
        if self.counts.decided_early > 0 {
            out.push(
                Finding::on_capture("suspicious.limit", Severity::Info)
                    .summary(format!(
                        "{} flows were decided when they ended because max_candidates ({}) was reached: \
                         names seen later in the capture and reverse DNS were not used for them",
                        self.counts.decided_early, self.max_candidates
                    ))
                    .attr("decided-early", self.counts.decided_early.to_string())
                    .attr("max_candidates", self.max_candidates.to_string()),
            );
        }
        let c = &self.counts;
        let message = format!(
            "flows={} flagged={} intel={} unregistered_port={} unnamed_peer={} cleartext={}: \
             flagged {} of {} flows as suspicious and found {} cleartext logins.",
            c.flows,
            c.flagged,
            c.intel,
            c.port,
            c.unnamed,
            c.cleartext,
            c.flagged,
            c.flows,
            c.cleartext
        );
        self.host.log(Level::Info, &message);
    }

    /// Reverse DNS for `ips`, in batches; stops at the first refusal, or after a batch that failed
    /// entirely.
    fn reverse_dns(&mut self, ips: &[IpAddr]) -> HashMap<IpAddr, Reverse> {
        let mut answers = HashMap::new();
        let mut stop: Option<Reverse> = None;
        for batch in ips.chunks(REVERSE_BATCH) {
            if let Some(state) = &stop {
                answers.extend(batch.iter().map(|ip| (*ip, state.clone())));
                continue;
            }
            let results = self.host.reverse(batch);
            let mut failures = 0;
            let mut last_failure = String::new();
            for (i, ip) in batch.iter().enumerate() {
                let answer = match results.get(i) {
                    Some(Ok(names)) if !names.is_empty() => Reverse::Names(names.clone()),
                    Some(Ok(_)) | Some(Err(CapabilityError::NotFound(_))) => Reverse::NoName,
                    Some(Err(CapabilityError::NotGranted(_))) => Reverse::NotGranted,
                    Some(Err(e)) => {
                        failures += 1;
                        last_failure = format!("{} ({})", e.kind(), e.message());
                        Reverse::Failed(e.kind().to_string())
                    }
                    None => Reverse::NotAsked("the host gave fewer answers than questions"),
                };
                if matches!(answer, Reverse::NotGranted) && stop.is_none() {
                    self.host.log(
                        Level::Info,
                        "dns=not-granted: reverse DNS is not granted to this stage, so peer names come from the capture only.",
                    );
                    stop = Some(Reverse::NotGranted);
                }
                answers.insert(*ip, answer);
            }
            if stop.is_none() && failures == batch.len() {
                self.host.log(
                    Level::Warn,
                    &format!(
                        "addresses={} error={last_failure}: every reverse DNS lookup of a batch failed; not asking for the rest.",
                        batch.len()
                    ),
                );
                stop = Some(Reverse::NotAsked("an earlier batch of lookups failed"));
            }
        }
        answers
    }
}

/// Reads a granted file; the error says what to grant.
fn read<H: Host>(host: &mut H, path: &str) -> Result<Vec<u8>, String> {
    host.read(path).map_err(|e| match e {
        CapabilityError::NotGranted(_) => format!(
            "cannot read `{path}`: the pipeline does not grant this stage the `files` capability for it \
             (add grants = {{ files = [\"{path}\"] }} to the stage)"
        ),
        CapabilityError::Denied(m) => format!(
            "cannot read `{path}`: it is outside the files granted to this stage (grant it under grants.files); the host said: {m}"
        ),
        other => format!("cannot read `{path}`: {}: {}", other.kind(), other.message()),
    })
}
