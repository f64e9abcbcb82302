//! The plugin's state across a capture: it evaluates each finished flow, keeps the flows that have a
//! reason, or whose internet peer has no name yet, as small candidates, and decides them in `finish`:
//! then every name the capture holds is known (a DNS answer can arrive after the connection it named
//! has ended: UDP flows end later than TCP ones), reverse DNS, if granted, can be asked in batches,
//! and the conclusions earlier stages reach only at their own end (`beacon`'s `beacon.peer` facts)
//! can be read, so flows another stage explained are not flagged again. Flows `tor` explained are
//! left out as they come.
//!
//! Everything the host provides (host facts, files, DNS, the log) goes through the [`Host`] trait, so
//! the whole engine runs natively in unit tests with a fake host.

use crate::cleartext;
use crate::intel::{Hit, Intel};
use crate::notable::{self, NotablePorts};
use crate::plaintext;
use crate::registry::{BUILTIN, Registry};
use crate::rules::{self, Conn, Named, Peer, PortCheck, Side};
use crate::verdict::{Verdict, Weights};
use crate::{Config, MAX_CANDIDATES_LIMIT};
use pcapxray_plugin_sdk::RunNote;
use pcapxray_plugin_sdk::collections::{HashMap, HashMapExt, HashSet, HashSetExt};
use pcapxray_plugin_sdk::host::{Host, LogLevel};
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::{
    CapabilityError, ConfigError, Finding, Flow, Outcome, PluginError, Severity,
};
use std::net::IpAddr;

/// Addresses asked in one reverse DNS call.
const REVERSE_BATCH: usize = 256;
/// Named addresses remembered between batches.
const NAME_CACHE: usize = 65_536;

/// The no-name reason when the capture gave no name and reverse DNS was not asked.
const NO_NAME: &str = "no DNS answer, SNI or Host name in the capture";

/// A flow with a reason, or whose peer had no name when it ended, waiting for `finish`.
#[derive(Debug)]
struct Candidate {
    conn: Conn,
    peer: Option<Peer>,
    /// The names known when the flow ended.
    names: Vec<Named>,
    /// Whether a missing name is a question for this flow.
    name_matters: bool,
    intel: Option<Box<Hit>>,
    plaintext: Option<(&'static str, String)>,
    mid_stream: bool,
    /// The server never answered (or the client sent nothing).
    unanswered: bool,
    /// Which side is the server was guessed (no TCP handshake seen).
    guessed: bool,
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
    notable: u64,
    plaintext: u64,
    cleartext: u64,
    decided_early: u64,
    explained: u64,
}

/// The analyzer, generic over its host.
pub struct Engine<H: Host> {
    host: H,
    weights: Weights,
    flag_unnamed: bool,
    flag_ports: bool,
    flag_notable: bool,
    max_candidates: usize,
    registry: Registry,
    notable: NotablePorts,
    intel: Intel,
    candidates: Vec<Candidate>,
    named: HashMap<IpAddr, Vec<Named>>,
    /// (client, server) of FTP control connections (TCP to port 21) seen: their other TCP
    /// connections are data connections (bounded by [`MAX_FTP_PAIRS`]).
    ftp_pairs: HashSet<(IpAddr, IpAddr)>,
    counts: Counts,
}

/// FTP control pairs remembered; beyond it, further ones are not (their data connections are judged
/// like any other connection).
const MAX_FTP_PAIRS: usize = 4096;

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
        unit_interval(
            "weights.notable_port",
            config.weights.notable_port,
            &mut errors,
        );
        unit_interval(
            "weights.cleartext_port",
            config.weights.cleartext_port,
            &mut errors,
        );
        let notable = NotablePorts::parse(notable::BUILTIN).map_err(|e| {
            PluginError::Other(format!("the built-in notable-ports list is broken: {e}"))
        })?;
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
                            LogLevel::Info,
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
                LogLevel::Warn
            } else {
                LogLevel::Info
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
            flag_notable: config.flag_notable_ports,
            max_candidates: config.max_candidates,
            registry,
            notable,
            intel,
            candidates: Vec::new(),
            named: HashMap::new(),
            ftp_pairs: HashSet::new(),
            counts: Counts::default(),
        })
    }

    /// Evaluates a batch of finished flows.
    pub fn analyze(&mut self, flows: &[Flow], out: &mut Outcome) {
        for flow in flows {
            self.counts.flows += 1;
            self.cleartext(flow, out);
            self.file_hashes(flow, out);
            self.evaluate(flow, out);
        }
    }

    /// Files earlier stages found on the flow (`files.*` findings) whose MD5, SHA-1 or SHA-256 is on
    /// an intel list: one High finding per file, naming the list and line.
    fn file_hashes(&mut self, flow: &Flow, out: &mut Outcome) {
        if !self.intel.has_hashes() {
            return;
        }
        for file in flow.findings_tagged(names::files::TAG) {
            let hit = [names::files::SHA256, names::files::SHA1, names::files::MD5]
                .iter()
                .find_map(|key| file.get(key).and_then(|h| self.intel.match_hash(h)));
            let Some(hit) = hit else { continue };
            let name = file.get(names::files::NAME).unwrap_or("");
            let finding = Finding::on_flow(flow.id, names::suspicious::FILE, Severity::High)
                .confidence(95)
                .summary(format!(
                    "File {name} is on an intel list: {}",
                    hit.describe()
                ))
                .attr(names::suspicious::REASON_INTEL, hit.describe())
                .attr(names::suspicious::FILE_NAME, name)
                .attr(
                    names::suspicious::FILE_SHA256,
                    file.get(names::files::SHA256).unwrap_or(""),
                )
                .attr(names::suspicious::INTEL_LIST, hit.list.clone())
                .attr(names::suspicious::INTEL_LINE, hit.entry.line.to_string())
                .attr(
                    names::suspicious::INTEL_INDICATOR,
                    hit.entry.indicator.to_string(),
                );
            out.push(finding);
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
                .attr(names::cleartext::PROTOCOL, found.protocol)
                .attr(
                    names::cleartext::PASSWORD_SENT,
                    found.password_sent.to_string(),
                );
            if let Some(user) = &found.user {
                finding = finding.attr(names::cleartext::USER, user.as_str());
            }
            if let Some(method) = found.method {
                finding = finding.attr(names::cleartext::METHOD, method);
            }
            out.push(refer_to_credential(flow, finding));
            self.counts.cleartext += 1;
        }
        if let Some((user, host)) = rules::http_basic_user(flow) {
            let to = host.unwrap_or_else(|| conn.server.to_string());
            let finding = Finding::on_flow(flow.id, names::cleartext::HTTP_BASIC, Severity::Medium)
                .summary(format!(
                    "HTTP Basic credentials of {user} sent in clear text to {to}: {}",
                    conn.describe()
                ))
                .attr(names::cleartext::PROTOCOL, "HTTP")
                .attr(names::cleartext::USER, user)
                .attr(names::cleartext::METHOD, "Basic")
                .attr(names::cleartext::PASSWORD_SENT, "true");
            out.push(refer_to_credential(flow, finding));
            self.counts.cleartext += 1;
        }
    }

    /// Keeps a flow that has a reason, or whose peer has no name yet, for `finish`; past
    /// `max_candidates`, decides it now with the names known.
    fn evaluate(&mut self, flow: &Flow, out: &mut Outcome) {
        let conn = Conn::of(flow);
        if flow.is_tcp() && conn.server_port == 21 && self.ftp_pairs.len() < MAX_FTP_PAIRS {
            self.ftp_pairs.insert((conn.client, conn.server));
        }
        let peer = rules::peer(&conn);
        let mut names = match peer {
            Some(Peer {
                side: Side::Server, ..
            }) => rules::flow_names(flow),
            _ => Vec::new(),
        };
        // Pings and ICMP errors are addressed by number, not looked up by name; an internet client
        // reaching a local server is not named by anyone's lookup; an attempt nobody answered, or a
        // flow whose "client" sent nothing (a lone SYN-ACK or reset), is not a session with the peer.
        let unanswered = rules::unanswered(flow) || flow.to_server.packets == 0;
        let name_matters = match peer {
            Some(p) => {
                self.flag_unnamed
                    && p.side == Side::Server
                    && !unanswered
                    && conn.transport().is_some()
                    && !rules::is_dns_exchange(flow)
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
        let intel = self
            .intel
            .match_ip(intel_ip)
            .or_else(|| names.iter().find_map(|(n, _)| self.intel.match_name(n)));
        if flow.has_tag(names::tor::TAG) && intel.is_none() {
            self.counts.explained += 1;
            return;
        }
        let plaintext = self.plaintext(flow, &conn);
        let (notable, mut unregistered, _) = self.port_reasons(&conn, peer);
        // A TCP flow seen without its handshake has its server guessed (rules::guessed_server): its
        // "server port" may be the client's ephemeral one.
        if unanswered || rules::guessed_server(flow) {
            unregistered = None;
        }
        let reason = intel.is_some()
            || plaintext.is_some()
            || notable.is_some()
            || unregistered.is_some()
            || (name_matters && names.is_empty());
        if !reason {
            return;
        }
        let candidate = Candidate {
            conn,
            peer,
            names,
            name_matters,
            intel: intel.map(Box::new),
            plaintext,
            mid_stream: rules::began_before_capture(flow),
            unanswered,
            guessed: rules::guessed_server(flow),
        };
        if self.candidates.len() < self.max_candidates {
            self.candidates.push(candidate);
            return;
        }
        self.counts.decided_early += 1;
        let unnamed = (candidate.name_matters && candidate.names.is_empty())
            .then(|| format!("{NO_NAME} when the flow ended; max_candidates reached"));
        let verdict = self.verdict(candidate, unnamed);
        self.emit(&verdict.0, &verdict.1, out);
    }

    /// A cleartext protocol on a port not meant for it, as (protocol, reason in words).
    fn plaintext(&self, flow: &Flow, conn: &Conn) -> Option<(&'static str, String)> {
        if rules::check_port(&self.registry, conn) == PortCheck::NotApplicable {
            return None;
        }
        let plain = plaintext::recognise(flow)?;
        if plaintext::is_standard(plain, &self.registry, conn.server_port) {
            return None;
        }
        Some((
            plain.name,
            format!(
                "{} in clear text on {}/{}, a port {} is not served on",
                plain.name, conn.server_port, conn.protocol, plain.name
            ),
        ))
    }

    /// The notable-ports entry (label, source) and the unregistered-port reason of the server port,
    /// and the service it is registered to (context). A notable port is not also counted as
    /// unregistered: both would say the same about one port.
    fn port_reasons(
        &self,
        conn: &Conn,
        peer: Option<Peer>,
    ) -> (Option<(String, String)>, Option<String>, Option<String>) {
        let check = rules::check_port(&self.registry, conn);
        let internet = peer.is_some_and(|p| p.side == Side::Server);
        let notable = match (conn.transport(), &check) {
            (Some(t), PortCheck::Registered(_) | PortCheck::Unregistered) if self.flag_notable => {
                self.notable
                    .lookup(t, conn.server_port, internet)
                    .map(|e| (e.label.clone(), e.source.clone()))
            }
            _ => None,
        };
        match check {
            PortCheck::Unregistered if self.flag_ports && notable.is_none() => (
                notable,
                Some(format!(
                    "{}/{} is not in the IANA registry",
                    conn.server_port, conn.protocol
                )),
                None,
            ),
            PortCheck::Registered(name) => (notable, None, Some(name)),
            _ => (notable, None, None),
        }
    }

    /// The names host facts give `ip` now; positive answers are remembered.
    fn host_names(&mut self, ip: IpAddr) -> Vec<Named> {
        if let Some(names) = self.named.get(&ip) {
            return names.clone();
        }
        let mut names: Vec<Named> = Vec::new();
        let noted: Vec<(String, String)> = self
            .host
            .host(ip)
            .map(|h| {
                h.notes
                    .into_iter()
                    .filter(|n| n.key == names::host::NAME)
                    .map(|n| (n.value, n.stage))
                    .collect()
            })
            .unwrap_or_default();
        for (name, stage) in noted {
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

    /// True for a TCP connection between the two ends of an FTP control connection (either way)
    /// on ports other than 21: an FTP data connection, whose high port the control connection
    /// announced, and whose peer is the control connection's (named or not there).
    fn ftp_data(&self, conn: &Conn) -> bool {
        conn.protocol == "tcp"
            && conn.server_port != 21
            && (self.ftp_pairs.contains(&(conn.client, conn.server))
                || self.ftp_pairs.contains(&(conn.server, conn.client)))
    }

    /// Puts the reasons together: the verdict and the flow it is about.
    fn verdict(&self, c: Candidate, unnamed: Option<String>) -> (Conn, Verdict) {
        let (notable, port, service) = self.port_reasons(&c.conn, c.peer);
        let ftp_data = self.ftp_data(&c.conn);
        let port = port.filter(|_| !c.unanswered && !c.guessed && !ftp_data);
        let unnamed = unnamed.filter(|_| !ftp_data);
        let intel = c
            .intel
            .map(|b| *b)
            .or_else(|| c.names.iter().find_map(|(n, _)| self.intel.match_name(n)));
        let verdict = Verdict {
            port,
            notable,
            plaintext: c.plaintext,
            service,
            unnamed,
            intel,
            peer: c.peer,
            names: c.names,
            mid_stream: c.mid_stream,
            unanswered: c.unanswered,
        };
        (c.conn, verdict)
    }

    fn emit(&mut self, conn: &Conn, verdict: &Verdict, out: &mut Outcome) {
        if let Some(finding) = verdict.finding(conn, &self.weights) {
            self.counts.flagged += 1;
            self.counts.intel += u64::from(verdict.intel.is_some());
            self.counts.port += u64::from(verdict.port.is_some());
            self.counts.notable += u64::from(verdict.notable.is_some());
            self.counts.plaintext += u64::from(verdict.plaintext.is_some());
            self.counts.unnamed += u64::from(verdict.unnamed.is_some() && !verdict.mid_stream);
            out.push(finding);
        }
    }

    /// True when `beacon` published that the flow's client beacons to the flow's server.
    fn beaconing(
        &mut self,
        conn: &Conn,
        cache: &mut HashMap<IpAddr, Vec<(IpAddr, u16, String)>>,
    ) -> bool {
        let peers = cache.entry(conn.client).or_insert_with(|| {
            self.host
                .host(conn.client)
                .map(|h| {
                    h.beacon_peers()
                        .iter()
                        .map(|p| (p.server, p.port, p.protocol.to_string()))
                        .collect()
                })
                .unwrap_or_default()
        });
        peers.iter().any(|(server, port, protocol)| {
            *server == conn.server && *port == conn.server_port && protocol == conn.protocol
        })
    }

    /// Decides the candidates with every name the capture gave, and reverse DNS if granted.
    pub fn finish(&mut self, out: &mut Outcome) {
        let candidates = std::mem::take(&mut self.candidates);
        let mut peers: Vec<IpAddr> = candidates
            .iter()
            .filter(|c| c.name_matters && c.names.is_empty())
            .filter_map(|c| c.peer.map(|p| p.ip))
            .collect();
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
        let mut beacons = HashMap::new();
        for mut candidate in candidates {
            let mut why = None;
            if let Some(peer) = candidate.peer
                && candidate.name_matters
                && candidate.names.is_empty()
            {
                candidate.names = names.get(&peer.ip).cloned().unwrap_or_default();
                if candidate.names.is_empty() {
                    let tail = reverse
                        .get(&peer.ip)
                        .map_or_else(|| Reverse::NotGranted.explain(), Reverse::explain);
                    why = Some(format!("{NO_NAME}; {tail}"));
                }
            }
            let (conn, verdict) = self.verdict(candidate, why);
            if verdict.intel.is_none() && self.beaconing(&conn, &mut beacons) {
                self.counts.explained += 1;
                continue;
            }
            self.emit(&conn, &verdict, out);
        }
        if self.counts.decided_early > 0 {
            out.note(
                RunNote::warning(
                    names::suspicious::NOTE_LIMIT,
                    format!(
                        "{} flows were decided when they ended because max_candidates ({}) was reached: \
                         names seen later in the capture and reverse DNS were not used for them",
                        self.counts.decided_early, self.max_candidates
                    ),
                )
                .attr(names::suspicious::NOTE_DECIDED_EARLY, self.counts.decided_early.to_string())
                    .attr(names::suspicious::NOTE_MAX_CANDIDATES, self.max_candidates.to_string()),
            );
        }
        let c = &self.counts;
        let message = format!(
            "flows={} flagged={} intel={} notable_port={} unregistered_port={} cleartext_port={} \
             unnamed_peer={} explained={} cleartext={}: flagged {} of {} flows as suspicious, left {} \
             that tor or beacon explained, and found {} cleartext logins.",
            c.flows,
            c.flagged,
            c.intel,
            c.notable,
            c.port,
            c.plaintext,
            c.unnamed,
            c.explained,
            c.cleartext,
            c.flagged,
            c.flows,
            c.explained,
            c.cleartext
        );
        self.host.log(LogLevel::Info, &message);
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
            let results = self.host.reverse_dns(batch);
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
                        LogLevel::Info,
                        "dns=not-granted: reverse DNS is not granted to this stage, so peer names come from the capture only.",
                    );
                    stop = Some(Reverse::NotGranted);
                }
                answers.insert(*ip, answer);
            }
            if stop.is_none() && failures == batch.len() {
                self.host.log(
                    LogLevel::Warn,
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
    host.read_file(path).map_err(|e| match e {
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

/// The verdict "a password crossed the network in clear" refers to the evidence: when an earlier
/// stage (`credentials`) holds the credential itself on the same flow, the `cleartext.*` finding
/// names that finding's tag in `cleartext.credential` and says so in its summary, so the analyst
/// reads two findings for one login as the verdict and its evidence, not as two unexplained ones.
fn refer_to_credential(flow: &Flow, finding: Finding) -> Finding {
    let wanted = match finding.tag.as_str() {
        names::cleartext::SMTP_AUTH => names::credentials::SMTP,
        tag => &format!(
            "{}.{}",
            pcapxray_plugin_sdk::credentials::TAG,
            tag.trim_start_matches("cleartext.")
        ),
    };
    let Some(credential) = flow.findings_tagged(wanted).next() else {
        return finding;
    };
    let tag = credential.tag.clone();
    let summary = format!(
        "{} (the credential itself: the {tag} finding on this flow)",
        finding.summary
    );
    finding
        .summary(summary)
        .attr(names::cleartext::CREDENTIAL, tag)
}
