//! Hand-made model values for plugins' native unit tests (feature `testing`): a plugin's decisions are
//! made from plain data, so each rule can be tested without a host or a capture; [`FakeHost`] stands
//! in for the host's imports (the [`crate::host`] traits).

use crate::CapabilityError;
use crate::extract::Kept;
use crate::host::{AnalyzerHost, Host, LogLevel, OutputHost};
use crate::sqlite::Value;
use crate::whois::NetworkOwner;
use crate::{
    Attribute, CaptureInfo, Direction, EndReason, Endpoint, Finding, FindingRecord, Flow, HostInfo,
    HostNote, IpAddress, Orientation, PacketFate, Protocol, Report, Severity, Subject,
};
use std::cell::{RefCell, RefMut};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::rc::Rc;

/// An address from text (panics on a typo: for tests only).
pub fn ip(text: &str) -> IpAddress {
    text.parse::<IpAddr>().unwrap().into()
}

/// A host with the given MACs and small traffic counters.
pub fn host(addr: &str, macs: &[u64]) -> HostInfo {
    HostInfo {
        ip: ip(addr),
        macs: macs.to_vec(),
        first_seen: 1_710_234_000_000_000_000,
        last_seen: 1_710_234_060_000_000_000,
        packets_sent: 3,
        packets_received: 4,
        bytes_sent: 300,
        bytes_received: 4000,
        seen_in_arp: false,
        notes: Vec::new(),
    }
}

/// A host fact published by `stage`.
pub fn note(stage: &str, key: &str, value: &str) -> HostNote {
    HostNote {
        stage: stage.into(),
        key: key.into(),
        value: value.into(),
        observed: None,
    }
}

/// The end-of-run report of a small demo capture with these hosts.
pub fn report(hosts: Vec<HostInfo>) -> Report {
    Report {
        capture: CaptureInfo {
            file: "demo.pcap".into(),
            size: 1234,
            sha256: "ab".repeat(32),
            format: "pcap".into(),
            format_details: "little-endian, microsecond".into(),
            link_types: vec!["ETHERNET (1)".into()],
            packets: 10,
            bytes: 1000,
            first_packet: 1_710_234_000_000_000_000,
            last_packet: 1_710_234_060_000_000_000,
            packet_fates: vec![PacketFate {
                key: "analyzed".into(),
                label: "analyzed (joined a flow)".into(),
                packets: 10,
            }],
            timestamp_anomalies: Vec::new(),
            read_error: None,
            flows: 1,
        },
        hosts,
        findings: Vec::new(),
        plugins: Vec::new(),
        queries: Vec::new(),
        notes: Vec::new(),
    }
}

/// One direction of a flow carrying `payload`.
pub fn direction(payload: &[u8], bytes: u64, first_seen: u64) -> Direction {
    Direction {
        packets: u64::from(bytes > 0),
        bytes,
        payload_bytes: payload.len() as u64,
        first_seen,
        last_seen: first_seen,
        tcp_flags: 0,
        ttl: 64,
        payload: payload.to_vec(),
        datagrams: Vec::new(),
        payload_truncated: false,
    }
}

/// A TCP flow from `client` to `server:port` without payload.
pub fn flow(id: u64, client: &str, server: &str, port: u16) -> Flow {
    flow_with(id, client, server, port, b"", b"")
}

/// A TCP flow from `client` to `server:port` with the given payloads.
pub fn flow_with(id: u64, client: &str, server: &str, port: u16, up: &[u8], down: &[u8]) -> Flow {
    let t = 1_710_234_001_000_000_000 + id * 1_000_000_000;
    FlowBuilder::new(Protocol::Tcp, (client, 49152), (server, port))
        .id(id)
        .macs(Some(0xf8bc126e4d21), Some(0x00146c3a910e))
        .to_server(direction(up, 100 + up.len() as u64, t))
        .to_client(direction(down, 100 + down.len() as u64, t + 5_000_000))
        .build()
}

/// A flow from defaults, one setter per thing a test cares about: the flow of `protocol` between
/// `client` and `server` (address, port), id 1, no MACs, seen from its start (`Syn`), ended by FIN,
/// connection state `OTH` without history, empty directions, no findings. The only place a test
/// writes a whole `Flow`.
#[derive(Clone, Debug)]
pub struct FlowBuilder {
    flow: Flow,
}

impl FlowBuilder {
    /// A flow of `protocol` from `client` to `server`, each an (address, port), with the defaults above.
    pub fn new(protocol: Protocol, client: (&str, u16), server: (&str, u16)) -> FlowBuilder {
        let client_ip = ip(client.0);
        FlowBuilder {
            flow: Flow {
                id: 1,
                client: Endpoint {
                    ip: client_ip,
                    port: client.1,
                    mac: None,
                },
                server: Endpoint {
                    ip: ip(server.0),
                    port: server.1,
                    mac: None,
                },
                protocol,
                ip_protocol: match protocol {
                    Protocol::Tcp => 6,
                    Protocol::Udp => 17,
                    Protocol::Icmp => 1,
                    Protocol::Icmpv6 => 58,
                    Protocol::Other => 0,
                },
                vlan: Vec::new(),
                tunnel: Vec::new(),
                orientation: Orientation::Syn,
                end_reason: EndReason::Fin,
                icmp_type: 0,
                icmp_code: 0,
                fragments: 0,
                conn_state: crate::ConnState::Oth,
                history: String::new(),
                to_server: direction(b"", 0, 0),
                to_client: direction(b"", 0, 0),
                findings: Vec::new(),
            },
        }
    }

    /// The flow id.
    pub fn id(mut self, id: u64) -> Self {
        self.flow.id = id;
        self
    }

    /// The IP protocol number, for a protocol `Other` or an unusual pairing.
    pub fn ip_protocol(mut self, number: u8) -> Self {
        self.flow.ip_protocol = number;
        self
    }

    /// The client's and the server's MAC.
    pub fn macs(mut self, client: Option<u64>, server: Option<u64>) -> Self {
        (self.flow.client.mac, self.flow.server.mac) = (client, server);
        self
    }

    /// How the client was told from the server.
    pub fn orientation(mut self, orientation: Orientation) -> Self {
        self.flow.orientation = orientation;
        self
    }

    /// Why the flow ended.
    pub fn end_reason(mut self, end_reason: EndReason) -> Self {
        self.flow.end_reason = end_reason;
        self
    }

    /// The ICMP type and code of an ICMP flow.
    pub fn icmp(mut self, icmp_type: u8, icmp_code: u8) -> Self {
        (self.flow.icmp_type, self.flow.icmp_code) = (icmp_type, icmp_code);
        self
    }

    /// Zeek's connection state and history.
    pub fn conn_state(mut self, state: crate::ConnState, history: &str) -> Self {
        (self.flow.conn_state, self.flow.history) = (state, history.into());
        self
    }

    /// What the client sent.
    pub fn to_server(mut self, direction: Direction) -> Self {
        self.flow.to_server = direction;
        self
    }

    /// What the server sent.
    pub fn to_client(mut self, direction: Direction) -> Self {
        self.flow.to_client = direction;
        self
    }

    /// A finding an earlier stage put on the flow.
    pub fn finding(mut self, finding: FindingRecord) -> Self {
        self.flow.findings.push(finding);
        self
    }

    /// The flow.
    pub fn build(self) -> Flow {
        self.flow
    }
}

/// A finding record on flow `id` from `stage`.
pub fn finding(
    stage: &str,
    id: u64,
    tag: &str,
    summary: &str,
    attrs: &[(&str, &str)],
) -> FindingRecord {
    FindingRecord {
        stage: stage.into(),
        finding: Finding {
            tag: tag.into(),
            subject: Subject::Flow(id),
            severity: Severity::Info,
            confidence: 100,
            summary: summary.into(),
            attributes: attrs
                .iter()
                .map(|(k, v)| Attribute {
                    key: (*k).into(),
                    value: (*v).into(),
                })
                .collect(),
            flows: Vec::new(),
        },
        rollup: false,
    }
}

/// What a [`FakeHost`] holds and recorded. Everything starts not granted; the builder methods of
/// [`FakeHost`] grant a capability as they fill it.
#[derive(Default)]
pub struct FakeState {
    /// The stage name the refusals name.
    pub stage: String,
    /// The host table.
    pub hosts: BTreeMap<IpAddr, HostInfo>,
    /// Granted files by path (folders are the paths with entries below them); `None`: `files`
    /// not granted.
    pub files: Option<BTreeMap<String, Vec<u8>>>,
    /// Paths below these are refused with [`CapabilityError::Denied`] (granted, but not there).
    pub denied: Vec<String>,
    /// PTR names by address; `None`: `dns` not granted. An address without an entry has no name.
    pub ptr: Option<BTreeMap<IpAddr, Vec<String>>>,
    /// Forward answers by name (under the same `dns` grant as `ptr`).
    pub forward: BTreeMap<String, Vec<IpAddr>>,
    /// RDAP owners by address; `None`: `whois` not granted.
    pub owners: Option<BTreeMap<IpAddr, NetworkOwner>>,
    /// What Graphviz returns for every render; `None`: `graphviz` not granted.
    pub graphviz: Option<Vec<u8>>,
    /// Runs the SQLite calls (database, SQL, rows: `None` for `execute`), e.g. on an in-memory
    /// database of the test's own; `None`: `sqlite` not granted.
    #[allow(clippy::type_complexity)]
    pub sqlite:
        Option<Box<dyn FnMut(&str, &str, Option<&[Vec<Value>]>) -> Result<u64, CapabilityError>>>,
    /// Files being kept, by handle; `None` when `extract` is not granted.
    pub extracting: Option<BTreeMap<u32, (String, Vec<u8>)>>,
    /// Files closed: (extension, bytes).
    pub kept: Vec<(String, Vec<u8>)>,
    /// Every message logged.
    pub logs: Vec<(LogLevel, String)>,
    /// Every capability call, in order: `read_file PATH`, `list_dir PATH`, `reverse_dns N`,
    /// `forward_dns N`, `whois N`, `graphviz ENGINE/FORMAT`, `sqlite_execute DB`,
    /// `sqlite_insert DB SQL`, `extract_open EXT`.
    pub calls: Vec<String>,
}

/// The host for native tests: implements [`Host`], [`AnalyzerHost`] and [`OutputHost`] from what
/// the test put in, and records what the plugin asked. Clones share their state, so a test keeps
/// one clone to look at after handing the other to the plugin; the builder methods take `&self`
/// and return a clone, so they chain and also work as statements. Refusals read like the host's.
///
/// ```
/// use pcapxray_plugin_sdk::host::{Host, LogLevel};
/// use pcapxray_plugin_sdk::testing::FakeHost;
/// let host = FakeHost::new("tor").file("consensus/a", b"...");
/// let plugin_side: Box<dyn Host> = Box::new(host.clone());
/// assert_eq!(plugin_side.list_dir("consensus").unwrap(), ["a"]);
/// assert!(plugin_side.reverse_dns(&["192.0.2.1".parse().unwrap()])[0].is_err());
/// plugin_side.log(LogLevel::Info, "done");
/// assert_eq!(host.logs(), [(LogLevel::Info, "done".to_string())]);
/// ```
#[derive(Clone, Default)]
pub struct FakeHost(Rc<RefCell<FakeState>>);

impl FakeHost {
    /// A host that grants stage `stage` nothing and knows no host.
    pub fn new(stage: &str) -> FakeHost {
        let host = FakeHost::default();
        host.state().stage = stage.to_string();
        host
    }

    /// The shared state, to fill or to look at.
    pub fn state(&self) -> RefMut<'_, FakeState> {
        self.0.borrow_mut()
    }

    /// Adds (or replaces) a host of the host table.
    pub fn with_host(&self, host: HostInfo) -> FakeHost {
        self.state().hosts.insert(host.ip.into(), host);
        self.clone()
    }

    /// Publishes a fact about `ip` as stage `stage` (adding the host if the table lacks it).
    pub fn fact(&self, ip: &str, stage: &str, key: &str, value: &str) -> FakeHost {
        let addr: IpAddr = ip.parse().expect("a test address");
        self.state()
            .hosts
            .entry(addr)
            .or_insert_with(|| host(ip, &[]))
            .notes
            .push(note(stage, key, value));
        self.clone()
    }

    /// Grants `files` (with no file yet).
    pub fn grant_files(&self) -> FakeHost {
        self.state().files.get_or_insert_with(BTreeMap::new);
        self.clone()
    }

    /// Grants `files` and adds a file.
    pub fn file(&self, path: &str, bytes: &[u8]) -> FakeHost {
        self.state()
            .files
            .get_or_insert_with(BTreeMap::new)
            .insert(path.to_string(), bytes.to_vec());
        self.clone()
    }

    /// Refuses paths below `prefix` as outside the granted folders.
    pub fn deny(&self, prefix: &str) -> FakeHost {
        self.state().denied.push(prefix.to_string());
        self.clone()
    }

    /// Grants `dns` (no name known yet).
    pub fn grant_dns(&self) -> FakeHost {
        self.state().ptr.get_or_insert_with(BTreeMap::new);
        self.clone()
    }

    /// Grants `dns` and gives `ip` PTR names.
    pub fn ptr(&self, ip: &str, names: &[&str]) -> FakeHost {
        self.state().ptr.get_or_insert_with(BTreeMap::new).insert(
            ip.parse().expect("a test address"),
            names.iter().map(|n| n.to_string()).collect(),
        );
        self.clone()
    }

    /// Grants `dns` and gives `name` addresses.
    pub fn forward(&self, name: &str, ips: &[&str]) -> FakeHost {
        let mut state = self.state();
        state.ptr.get_or_insert_with(BTreeMap::new);
        state.forward.insert(
            name.to_string(),
            ips.iter()
                .map(|ip| ip.parse().expect("a test address"))
                .collect(),
        );
        drop(state);
        self.clone()
    }

    /// Grants `whois` and gives `ip` an owner.
    pub fn owner(&self, ip: &str, owner: NetworkOwner) -> FakeHost {
        self.state()
            .owners
            .get_or_insert_with(BTreeMap::new)
            .insert(ip.parse().expect("a test address"), owner);
        self.clone()
    }

    /// Grants `graphviz`; every render returns `output`.
    pub fn grant_graphviz(&self, output: &[u8]) -> FakeHost {
        self.state().graphviz = Some(output.to_vec());
        self.clone()
    }

    /// Grants `sqlite`; `run` gets each call (database, SQL, rows; `None` for `execute`).
    pub fn grant_sqlite(
        &self,
        run: impl FnMut(&str, &str, Option<&[Vec<Value>]>) -> Result<u64, CapabilityError> + 'static,
    ) -> FakeHost {
        self.state().sqlite = Some(Box::new(run));
        self.clone()
    }

    /// Grants `extract` (without caps).
    pub fn grant_extract(&self) -> FakeHost {
        self.state().extracting.get_or_insert_with(BTreeMap::new);
        self.clone()
    }

    /// Every message logged so far.
    pub fn logs(&self) -> Vec<(LogLevel, String)> {
        self.0.borrow().logs.clone()
    }

    /// Every capability call so far (see [`FakeState::calls`]).
    pub fn calls(&self) -> Vec<String> {
        self.0.borrow().calls.clone()
    }

    fn call(&self, text: String) {
        self.state().calls.push(text);
    }

    fn refuse(&self, capability: &str, what: &str) -> CapabilityError {
        CapabilityError::NotGranted(format!(
            "stage `{}` asked {what}, but the pipeline does not grant it `{capability}` \
             (add it under [analyzer.grants] or [output.grants] to allow it)",
            self.0.borrow().stage
        ))
    }

    /// Checks the `files` grant and the denied prefixes for `path`.
    fn may_touch(&self, verb: &str, path: &str) -> Result<(), CapabilityError> {
        let state = self.0.borrow();
        if state.files.is_none() {
            drop(state);
            return Err(self.refuse("files", &format!("to {verb} `{path}`")));
        }
        if state.denied.iter().any(|d| path.starts_with(d.as_str())) {
            return Err(CapabilityError::Denied(format!(
                "`{path}` is not inside a folder granted to stage `{}`",
                state.stage
            )));
        }
        Ok(())
    }
}

impl Host for FakeHost {
    fn log(&self, level: LogLevel, message: &str) {
        self.state().logs.push((level, message.to_string()));
    }

    fn host(&self, ip: IpAddr) -> Option<HostInfo> {
        self.0.borrow().hosts.get(&ip).cloned()
    }

    fn read_file(&self, path: &str) -> Result<Vec<u8>, CapabilityError> {
        self.call(format!("read_file {path}"));
        self.may_touch("read", path)?;
        let state = self.0.borrow();
        let files = state.files.as_ref().expect("checked by may_touch");
        match files.get(path) {
            Some(bytes) => Ok(bytes.clone()),
            None if entries(files, path).is_some() => {
                Err(CapabilityError::Other(format!("{path} is not a file")))
            }
            None => Err(CapabilityError::NotFound(format!(
                "{path}: no such file or folder"
            ))),
        }
    }

    fn list_dir(&self, path: &str) -> Result<Vec<String>, CapabilityError> {
        self.call(format!("list_dir {path}"));
        self.may_touch("list", path)?;
        let state = self.0.borrow();
        let files = state.files.as_ref().expect("checked by may_touch");
        if files.contains_key(path) {
            return Err(CapabilityError::Other(format!("{path}: Not a directory")));
        }
        entries(files, path)
            .ok_or_else(|| CapabilityError::NotFound(format!("{path}: no such file or folder")))
    }

    fn reverse_dns(&self, ips: &[IpAddr]) -> Vec<Result<Vec<String>, CapabilityError>> {
        self.call(format!("reverse_dns {}", ips.len()));
        let state = self.0.borrow();
        let Some(ptr) = state.ptr.as_ref() else {
            drop(state);
            let refusal = self.refuse("dns", "for reverse DNS lookups");
            return ips.iter().map(|_| Err(refusal.clone())).collect();
        };
        ips.iter()
            .map(|ip| {
                ptr.get(ip)
                    .cloned()
                    .ok_or_else(|| CapabilityError::NotFound(format!("{ip}: no PTR record")))
            })
            .collect()
    }

    fn forward_dns(&self, names: &[String]) -> Vec<Result<Vec<IpAddr>, CapabilityError>> {
        self.call(format!("forward_dns {}", names.len()));
        let state = self.0.borrow();
        if state.ptr.is_none() {
            drop(state);
            let refusal = self.refuse("dns", "for DNS lookups");
            return names.iter().map(|_| Err(refusal.clone())).collect();
        }
        names
            .iter()
            .map(|name| {
                state
                    .forward
                    .get(name)
                    .cloned()
                    .ok_or_else(|| CapabilityError::NotFound(format!("{name}: no such name")))
            })
            .collect()
    }

    fn whois(&self, ips: &[IpAddr]) -> Vec<Result<NetworkOwner, CapabilityError>> {
        self.call(format!("whois {}", ips.len()));
        let state = self.0.borrow();
        let Some(owners) = state.owners.as_ref() else {
            drop(state);
            let refusal = self.refuse("whois", "for RDAP lookups");
            return ips.iter().map(|_| Err(refusal.clone())).collect();
        };
        ips.iter()
            .map(|ip| {
                owners
                    .get(ip)
                    .cloned()
                    .ok_or_else(|| CapabilityError::NotFound(format!("{ip}: no RDAP record")))
            })
            .collect()
    }
}

/// The entry names directly below folder `path`, sorted; `None` when nothing is below it.
fn entries(files: &BTreeMap<String, Vec<u8>>, path: &str) -> Option<Vec<String>> {
    let prefix = format!("{}/", path.trim_end_matches('/'));
    let names: BTreeSet<String> = files
        .keys()
        .filter_map(|k| k.strip_prefix(&prefix))
        .map(|rest| rest.split('/').next().unwrap_or(rest).to_string())
        .collect();
    (!names.is_empty()).then(|| names.into_iter().collect())
}

impl AnalyzerHost for FakeHost {
    fn extract_open(&self, extension: &str) -> Result<u32, CapabilityError> {
        self.call(format!("extract_open {extension}"));
        let mut state = self.state();
        let Some(open) = state.extracting.as_mut() else {
            drop(state);
            return Err(self.refuse("extract", "to keep a file's bytes"));
        };
        let handle = open.keys().next_back().map_or(1, |h| h + 1);
        open.insert(handle, (extension.to_string(), Vec::new()));
        Ok(handle)
    }

    fn extract_append(&self, handle: u32, bytes: &[u8]) -> Result<bool, CapabilityError> {
        let mut state = self.state();
        match state.extracting.as_mut().and_then(|o| o.get_mut(&handle)) {
            Some((_, kept)) => {
                kept.extend_from_slice(bytes);
                Ok(true)
            }
            None => Err(CapabilityError::Other(format!("no open file {handle}"))),
        }
    }

    fn extract_close(&self, handle: u32) -> Result<Kept, CapabilityError> {
        let mut state = self.state();
        let Some((extension, bytes)) = state.extracting.as_mut().and_then(|o| o.remove(&handle))
        else {
            return Err(CapabilityError::Other(format!("no open file {handle}")));
        };
        let path = format!("files/{}.{extension}", state.kept.len());
        state.kept.push((extension, bytes));
        Ok(Kept::Written(path))
    }

    fn extract_discard(&self, handle: u32) {
        if let Some(open) = self.state().extracting.as_mut() {
            open.remove(&handle);
        }
    }
}

impl OutputHost for FakeHost {
    fn sqlite_execute(&self, database: &str, sql: &str) -> Result<(), CapabilityError> {
        self.call(format!("sqlite_execute {database}"));
        let run = self.state().sqlite.take();
        let Some(mut run) = run else {
            return Err(self.refuse("sqlite", "to write a SQLite database"));
        };
        let result = run(database, sql, None).map(|_| ());
        self.state().sqlite = Some(run);
        result
    }

    fn sqlite_insert(
        &self,
        database: &str,
        sql: &str,
        rows: &[Vec<Value>],
    ) -> Result<u64, CapabilityError> {
        self.call(format!("sqlite_insert {database} {sql}"));
        let run = self.state().sqlite.take();
        let Some(mut run) = run else {
            return Err(self.refuse("sqlite", "to write a SQLite database"));
        };
        let result = run(database, sql, Some(rows));
        self.state().sqlite = Some(run);
        result
    }

    fn graphviz(&self, _dot: &str, engine: &str, format: &str) -> Result<Vec<u8>, CapabilityError> {
        self.call(format!("graphviz {engine}/{format}"));
        let output = self.0.borrow().graphviz.clone();
        output.ok_or_else(|| self.refuse("graphviz", "to run Graphviz"))
    }
}
