//! The database's schema, in one place, so the plugin, its tests and its README agree. Tables are
//! created before the first flow arrives; the indexes are created at the end, after the bulk inserts
//! (building an index once is faster than maintaining it row by row). Foreign keys are enforced
//! while loading: a host gets a bare row when a flow first names it and is completed at the end
//! (an upsert), so every row only ever points to rows that exist.

/// Bumped whenever a table or column changes (`PRAGMA user_version`).
pub const VERSION: u32 = 3;

/// The first statements the plugin sends: the schema version, then [`TABLES`].
pub fn create() -> String {
    format!("PRAGMA user_version = {VERSION};\n{TABLES}")
}

/// Tables and views.
pub const TABLES: &str = r#"
PRAGMA foreign_keys = ON;

CREATE TABLE capture (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    file             TEXT NOT NULL,
    size             INTEGER NOT NULL,
    sha256           TEXT NOT NULL,
    format           TEXT NOT NULL,
    format_details   TEXT NOT NULL,
    link_types       TEXT NOT NULL,
    packets          INTEGER NOT NULL,
    bytes            INTEGER NOT NULL,
    first_packet     TEXT,
    last_packet      TEXT,
    duration_seconds REAL NOT NULL,
    flows            INTEGER NOT NULL,
    hosts            INTEGER NOT NULL,
    findings         INTEGER NOT NULL,
    packet_fates     TEXT NOT NULL,
    read_error       TEXT,
    complete         INTEGER NOT NULL
);

CREATE TABLE hosts (
    id               INTEGER PRIMARY KEY,
    ip               TEXT NOT NULL UNIQUE,
    class            TEXT NOT NULL,
    name             TEXT,
    vendor           TEXT,
    os               TEXT,
    dhcp_hostname    TEXT,
    macs             TEXT NOT NULL,
    first_seen       TEXT,
    last_seen        TEXT,
    packets_sent     INTEGER NOT NULL,
    packets_received INTEGER NOT NULL,
    bytes_sent       INTEGER NOT NULL,
    bytes_received   INTEGER NOT NULL,
    seen_in_arp      INTEGER NOT NULL
);

CREATE TABLE host_macs (
    host_id INTEGER NOT NULL REFERENCES hosts(id),
    mac     TEXT NOT NULL,
    PRIMARY KEY (host_id, mac)
) WITHOUT ROWID;

CREATE TABLE host_facts (
    id       INTEGER PRIMARY KEY,
    host_id  INTEGER NOT NULL REFERENCES hosts(id),
    position INTEGER NOT NULL,
    stage    TEXT NOT NULL,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    observed TEXT
);

CREATE TABLE flows (
    id                      INTEGER PRIMARY KEY,
    start_time              TEXT,
    end_time                TEXT,
    duration_seconds        REAL NOT NULL,
    protocol                TEXT NOT NULL,
    ip_protocol             INTEGER NOT NULL,
    client_host_id          INTEGER NOT NULL REFERENCES hosts(id),
    client_ip               TEXT NOT NULL,
    client_port             INTEGER,
    client_mac              TEXT,
    server_host_id          INTEGER NOT NULL REFERENCES hosts(id),
    server_ip               TEXT NOT NULL,
    server_port             INTEGER,
    server_mac              TEXT,
    service                 TEXT,
    server_name             TEXT,
    vlan                    TEXT,
    orientation             TEXT NOT NULL,
    end_reason              TEXT NOT NULL,
    conn_state              TEXT NOT NULL,
    history                 TEXT NOT NULL,
    icmp_type               INTEGER,
    icmp_code               INTEGER,
    fragments               INTEGER NOT NULL,
    packets_to_server       INTEGER NOT NULL,
    bytes_to_server         INTEGER NOT NULL,
    payload_bytes_to_server INTEGER NOT NULL,
    tcp_flags_to_server     INTEGER NOT NULL,
    ttl_to_server           INTEGER NOT NULL,
    packets_to_client       INTEGER NOT NULL,
    bytes_to_client         INTEGER NOT NULL,
    payload_bytes_to_client INTEGER NOT NULL,
    tcp_flags_to_client     INTEGER NOT NULL,
    ttl_to_client           INTEGER NOT NULL,
    tags                    TEXT NOT NULL,
    max_severity            TEXT
);

CREATE TABLE findings (
    id            INTEGER PRIMARY KEY,
    stage         TEXT NOT NULL,
    tag           TEXT NOT NULL,
    severity      TEXT NOT NULL,
    severity_rank INTEGER NOT NULL,
    confidence    INTEGER NOT NULL,
    subject       TEXT NOT NULL CHECK (subject IN ('flow', 'host', 'capture')),
    flow_id       INTEGER REFERENCES flows(id),
    host_id       INTEGER REFERENCES hosts(id),
    summary       TEXT NOT NULL,
    raised_at_end INTEGER NOT NULL,
    -- 1 for the findings an analyst reads (about hosts and the capture, and roll-ups of flow
    -- findings); 0 for a flow's own findings, which a roll-up also stands for.
    listed        INTEGER NOT NULL,
    -- 1 for a roll-up of flow findings (its flows in finding_flows).
    rollup        INTEGER NOT NULL,
    -- How many findings the row stands for: its flows, at least 1.
    count         INTEGER NOT NULL
);

-- Every flow a finding rests on (a roll-up's flows, a scan's connections), complete.
CREATE TABLE finding_flows (
    finding_id INTEGER NOT NULL REFERENCES findings(id),
    flow_id    INTEGER NOT NULL REFERENCES flows(id),
    PRIMARY KEY (finding_id, flow_id)
) WITHOUT ROWID;

-- Statements about the run, not the traffic: limits reached, capabilities missing.
CREATE TABLE run_notes (
    id         INTEGER PRIMARY KEY,
    stage      TEXT NOT NULL,
    key        TEXT NOT NULL,
    level      TEXT NOT NULL CHECK (level IN ('info', 'warning')),
    message    TEXT NOT NULL,
    attributes TEXT NOT NULL
);

CREATE TABLE finding_attributes (
    finding_id INTEGER NOT NULL REFERENCES findings(id),
    position   INTEGER NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (finding_id, position)
) WITHOUT ROWID;

CREATE TABLE dns (
    id         INTEGER PRIMARY KEY,
    flow_id    INTEGER NOT NULL REFERENCES flows(id),
    finding_id INTEGER NOT NULL REFERENCES findings(id),
    time       TEXT,
    protocol   TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('query', 'answer')),
    name       TEXT NOT NULL,
    type       TEXT,
    answer     TEXT,
    rcode      TEXT
);

CREATE TABLE web (
    id           INTEGER PRIMARY KEY,
    flow_id      INTEGER NOT NULL REFERENCES flows(id),
    finding_id   INTEGER NOT NULL REFERENCES findings(id),
    time         TEXT,
    kind         TEXT NOT NULL CHECK (kind IN ('http', 'tls')),
    position     INTEGER NOT NULL,
    method       TEXT,
    host         TEXT,
    uri          TEXT,
    user_agent   TEXT,
    status       INTEGER,
    server       TEXT,
    content_type TEXT,
    sni          TEXT,
    tls_versions TEXT,
    tls_version  TEXT,
    tls_alpn     TEXT,
    tls_cipher   TEXT
);

CREATE TABLE plugins (
    position INTEGER PRIMARY KEY,
    stage    TEXT NOT NULL,
    name     TEXT NOT NULL,
    version  TEXT NOT NULL,
    kind     TEXT NOT NULL,
    digest   TEXT NOT NULL,
    error    TEXT
);

CREATE TABLE queries (
    id         INTEGER PRIMARY KEY,
    stage      TEXT NOT NULL,
    capability TEXT NOT NULL,
    query      TEXT NOT NULL,
    server     TEXT NOT NULL,
    answer     TEXT NOT NULL,
    sent       TEXT
);

-- One row per file carried over a flow (files.* findings), columns as the SDK's tables module names
-- them; every other attribute of the finding in `attributes` (key=value; ...).
CREATE TABLE files (
    id             INTEGER PRIMARY KEY,
    flow_id        INTEGER NOT NULL,
    time           TEXT,
    client         TEXT,
    server         TEXT,
    stage          TEXT NOT NULL,
    tag            TEXT NOT NULL,
    severity       TEXT NOT NULL,
    protocol       TEXT,
    direction      TEXT,
    name           TEXT,
    declared_type  TEXT,
    detected_type  TEXT,
    size           INTEGER,
    missing        INTEGER,
    missing_ranges TEXT,
    complete       TEXT,
    md5            TEXT,
    sha1           TEXT,
    sha256         TEXT,
    extracted      TEXT,
    not_extracted  TEXT,
    mismatch       TEXT,
    attributes     TEXT NOT NULL
);

-- One row per credential (credentials.* findings; cleartext.* logins no credentials finding
-- repeats), secrets whole.
CREATE TABLE credentials (
    id            INTEGER PRIMARY KEY,
    flow_id       INTEGER NOT NULL,
    time          TEXT,
    client        TEXT,
    server        TEXT,
    stage         TEXT NOT NULL,
    tag           TEXT NOT NULL,
    severity      TEXT NOT NULL,
    protocol      TEXT,
    user          TEXT,
    domain        TEXT,
    workstation   TEXT,
    secret        TEXT,
    secret_format TEXT,
    service       TEXT,
    outcome       TEXT,
    attributes    TEXT NOT NULL
);

-- The findings list as report.json and report.html show it.
CREATE VIEW findings_listed AS
SELECT * FROM findings WHERE listed = 1;

CREATE VIEW flows_named AS
SELECT f.id, f.start_time, f.protocol,
       f.client_ip, c.name AS client_name, f.client_port,
       f.server_ip, COALESCE(f.server_name, s.name) AS server_name, f.server_port, f.service,
       f.bytes_to_server, f.bytes_to_client, f.tags, f.max_severity
FROM flows f
JOIN hosts c ON c.id = f.client_host_id
JOIN hosts s ON s.id = f.server_host_id;
"#;

/// Indexes on what investigators filter by, created once the data is in.
pub const INDEXES: &str = r#"
CREATE INDEX hosts_name ON hosts(name);
CREATE INDEX host_macs_mac ON host_macs(mac);
CREATE INDEX host_facts_host ON host_facts(host_id);
CREATE INDEX host_facts_key_value ON host_facts(key, value);
CREATE INDEX flows_client_ip ON flows(client_ip);
CREATE INDEX flows_server_ip ON flows(server_ip);
CREATE INDEX flows_server_port ON flows(server_port);
CREATE INDEX flows_client_host ON flows(client_host_id);
CREATE INDEX flows_server_host ON flows(server_host_id);
CREATE INDEX flows_start ON flows(start_time);
CREATE INDEX flows_server_name ON flows(server_name);
CREATE INDEX findings_tag ON findings(tag);
CREATE INDEX findings_flow ON findings(flow_id);
CREATE INDEX findings_host ON findings(host_id);
CREATE INDEX finding_flows_flow ON finding_flows(flow_id);
CREATE INDEX finding_attributes_key_value ON finding_attributes(key, value);
CREATE INDEX dns_name ON dns(name);
CREATE INDEX dns_answer ON dns(answer);
CREATE INDEX dns_flow ON dns(flow_id);
CREATE INDEX web_host ON web(host);
CREATE INDEX web_sni ON web(sni);
CREATE INDEX web_flow ON web(flow_id);
CREATE INDEX files_sha256 ON files(sha256);
CREATE INDEX files_flow ON files(flow_id);
CREATE INDEX credentials_user ON credentials(user);
CREATE INDEX credentials_flow ON credentials(flow_id);
ANALYZE;
"#;

/// The insert statement of the files or credentials table: its columns are the SDK's
/// [`Table::header`](pcapxray_plugin_sdk::tables::Table::header), in order.
pub fn insert_table(table: pcapxray_plugin_sdk::tables::Table) -> String {
    let header = table.header();
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        table.name(),
        header
            .iter()
            .map(|c| if *c == "flow" { "flow_id" } else { c })
            .collect::<Vec<_>>()
            .join(", "),
        vec!["?"; header.len()].join(", ")
    )
}

/// The insert statements, one per table.
pub mod insert {
    pub const CAPTURE: &str = "INSERT INTO capture (id, file, size, sha256, format, format_details, link_types, packets, bytes, first_packet, last_packet, duration_seconds, flows, hosts, findings, packet_fates, read_error, complete) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    /// A bare row for a host first named by a flow or a finding.
    pub const NEW_HOSTS: &str = "INSERT INTO hosts (id, ip, class, name, vendor, os, dhcp_hostname, macs, first_seen, last_seen, packets_sent, packets_received, bytes_sent, bytes_received, seen_in_arp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    /// The full row of a host at the end of the run, over its bare row when it has one.
    pub const HOSTS: &str = "INSERT INTO hosts (id, ip, class, name, vendor, os, dhcp_hostname, macs, first_seen, last_seen, packets_sent, packets_received, bytes_sent, bytes_received, seen_in_arp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
        ON CONFLICT(id) DO UPDATE SET ip = excluded.ip, class = excluded.class, name = excluded.name, vendor = excluded.vendor, os = excluded.os, \
        dhcp_hostname = excluded.dhcp_hostname, macs = excluded.macs, first_seen = excluded.first_seen, last_seen = excluded.last_seen, \
        packets_sent = excluded.packets_sent, packets_received = excluded.packets_received, bytes_sent = excluded.bytes_sent, \
        bytes_received = excluded.bytes_received, seen_in_arp = excluded.seen_in_arp";
    pub const HOST_MACS: &str = "INSERT OR IGNORE INTO host_macs (host_id, mac) VALUES (?, ?)";
    pub const HOST_FACTS: &str = "INSERT INTO host_facts (host_id, position, stage, key, value, observed) VALUES (?, ?, ?, ?, ?, ?)";
    pub const FLOWS: &str = "INSERT INTO flows (id, start_time, end_time, duration_seconds, protocol, ip_protocol, client_host_id, client_ip, client_port, client_mac, server_host_id, server_ip, server_port, server_mac, service, server_name, vlan, orientation, end_reason, conn_state, history, icmp_type, icmp_code, fragments, packets_to_server, bytes_to_server, payload_bytes_to_server, tcp_flags_to_server, ttl_to_server, packets_to_client, bytes_to_client, payload_bytes_to_client, tcp_flags_to_client, ttl_to_client, tags, max_severity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    pub const FINDINGS: &str = "INSERT INTO findings (id, stage, tag, severity, severity_rank, confidence, subject, flow_id, host_id, summary, raised_at_end, listed, rollup, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    pub const FINDING_FLOWS: &str = "INSERT INTO finding_flows (finding_id, flow_id) VALUES (?, ?)";
    pub const RUN_NOTES: &str =
        "INSERT INTO run_notes (stage, key, level, message, attributes) VALUES (?, ?, ?, ?, ?)";
    pub const FINDING_ATTRIBUTES: &str =
        "INSERT INTO finding_attributes (finding_id, position, key, value) VALUES (?, ?, ?, ?)";
    pub const DNS: &str = "INSERT INTO dns (flow_id, finding_id, time, protocol, kind, name, type, answer, rcode) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
    pub const WEB: &str = "INSERT INTO web (flow_id, finding_id, time, kind, position, method, host, uri, user_agent, status, server, content_type, sni, tls_versions, tls_version, tls_alpn, tls_cipher) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    pub const PLUGINS: &str = "INSERT INTO plugins (position, stage, name, version, kind, digest, error) VALUES (?, ?, ?, ?, ?, ?, ?)";
    pub const QUERIES: &str = "INSERT INTO queries (stage, capability, query, server, answer, sent) VALUES (?, ?, ?, ?, ?, ?)";
}
