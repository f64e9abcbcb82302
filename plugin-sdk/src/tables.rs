//! The files and credentials tables every report writes, derived in one place from the findings'
//! tags and attributes, so json, csv, sqlite, text, html, the diagram and the web page list the same
//! rows with the same columns. A table reads findings, not analyzers: `files.<protocol>` findings
//! (the `files` analyzer) are the files table; `credentials.<protocol>` findings (the `credentials`
//! analyzer) and the cleartext logins `suspicious` raises today (`cleartext.*`) are the credentials
//! table, so a new analyzer that follows the tag and attribute names appears without any output
//! changing.
//!
//! A row is complete: every attribute of its finding is kept (the named columns first, then the
//! others in [`Row::others`]), and a secret is never masked here. Masking is the business of a page a
//! person reads ([`mask`]); machine-readable reports keep the evidence whole.
//!
//! De-duplication: a `cleartext.*` login on a flow is left out when a `credentials.*` finding on the
//! same flow names the same protocol and the same user (or the cleartext one named none), since the
//! credentials analyzer reports the same login with its secret.

use crate::{Attribute, Finding, FindingRecord, Flow, FlowId, Severity, Subject, tag_matches};
use crate::{credentials, names};

/// Tag prefix of the findings the files table lists.
pub const FILES_TAG: &str = names::files::TAG;
/// Tag prefix of the findings the credentials table lists.
pub const CREDENTIALS_TAG: &str = credentials::TAG;
/// Tag prefix of `suspicious`'s cleartext logins, listed as credentials until a `credentials.*`
/// finding of the same login supersedes them.
pub const CLEARTEXT_TAG: &str = names::cleartext::TAG;
/// The attribute of a credentials finding that holds the secret (password or crackable hash line).
pub const SECRET: &str = credentials::SECRET;

/// Columns every row has, before the table's own.
pub const COMMON_COLUMNS: &[&str] = &[
    "flow", "time", "client", "server", "stage", "tag", "severity",
];

/// The files table's attribute columns, in order (the `files` analyzer's attribute names).
pub const FILE_COLUMNS: &[&str] = &[
    names::files::PROTOCOL,
    names::files::DIRECTION,
    names::files::NAME,
    names::files::DECLARED_TYPE,
    names::files::DETECTED_TYPE,
    names::files::SIZE,
    names::files::MISSING,
    names::files::MISSING_RANGES,
    names::files::COMPLETE,
    names::files::MD5,
    names::files::SHA1,
    names::files::SHA256,
    names::files::EXTRACTED,
    names::files::NOT_EXTRACTED,
    names::files::MISMATCH,
];

/// The credentials table's attribute columns, in order (the `credentials` analyzer's names).
pub const CREDENTIAL_COLUMNS: &[&str] = &[
    credentials::PROTOCOL,
    credentials::USER,
    credentials::DOMAIN,
    credentials::WORKSTATION,
    SECRET,
    credentials::SECRET_FORMAT,
    credentials::SERVICE,
    credentials::OUTCOME,
];

/// One of the two tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Table {
    /// Files carried over the capture's flows.
    Files,
    /// Credentials sent over them.
    Credentials,
}

impl Table {
    /// Both tables, files first.
    pub const ALL: [Table; 2] = [Table::Files, Table::Credentials];

    /// `files` or `credentials`: the name of the table, file or section.
    pub fn name(self) -> &'static str {
        match self {
            Table::Files => "files",
            Table::Credentials => "credentials",
        }
    }

    /// The attribute columns of the table, in order (after [`COMMON_COLUMNS`]).
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Table::Files => FILE_COLUMNS,
            Table::Credentials => CREDENTIAL_COLUMNS,
        }
    }

    /// Every column's name: the common ones, the table's, then `attributes` (the others, as
    /// `key=value` pairs).
    pub fn header(self) -> Vec<&'static str> {
        let mut all = COMMON_COLUMNS.to_vec();
        all.extend_from_slice(self.columns());
        all.push("attributes");
        all
    }

    /// The table a finding's tag belongs to, if any.
    pub fn of_tag(tag: &str) -> Option<Table> {
        if tag_matches(tag, FILES_TAG) && tag != FILES_TAG {
            Some(Table::Files)
        } else if (tag_matches(tag, CREDENTIALS_TAG) && tag != CREDENTIALS_TAG)
            || (tag_matches(tag, CLEARTEXT_TAG) && tag != CLEARTEXT_TAG)
        {
            Some(Table::Credentials)
        } else {
            None
        }
    }
}

/// One file or credential: where it was seen and every attribute of its finding.
#[derive(Clone, Debug)]
pub struct Row {
    /// Which table it belongs to.
    pub table: Table,
    /// The flow it was seen on.
    pub flow: FlowId,
    /// When (ISO 8601 UTC): the finding's own `time`, else the flow's first packet; empty if unknown.
    pub time: String,
    /// The client, `ip:port` (`[v6]:port`); empty if unknown.
    pub client: String,
    /// The server, as the client.
    pub server: String,
    /// The stage that raised the finding.
    pub stage: String,
    /// The finding's tag (`files.http`, `credentials.ntlm`, `cleartext.ftp`).
    pub tag: String,
    /// The finding's severity.
    pub severity: Severity,
    /// The finding's summary.
    pub summary: String,
    /// Every attribute, in the finding's order, with cleartext logins' keys named as the table's
    /// (`cleartext.user` is `user`).
    pub attributes: Vec<Attribute>,
}

impl Row {
    /// The value of attribute `key`, if the finding had it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.key == key)
            .map(|a| a.value.as_str())
    }

    /// The value of any column of [`Table::header`] but `attributes`, empty when absent.
    pub fn cell(&self, column: &str) -> String {
        match column {
            "flow" => self.flow.to_string(),
            "time" => self.time.clone(),
            "client" => self.client.clone(),
            "server" => self.server.clone(),
            "stage" => self.stage.clone(),
            "tag" => self.tag.clone(),
            "severity" => self.severity.as_str().to_string(),
            key => self.get(key).unwrap_or("").to_string(),
        }
    }

    /// The attributes that have no column of their own, in order.
    pub fn others(&self) -> impl Iterator<Item = &Attribute> {
        let columns = self.table.columns();
        self.attributes
            .iter()
            .filter(move |a| !columns.contains(&a.key.as_str()) && a.key != "time")
    }

    /// The row's cells in the order of [`Table::header`], `attributes` as `key=value; ...`.
    pub fn cells(&self) -> Vec<String> {
        let mut cells: Vec<String> = COMMON_COLUMNS.iter().map(|c| self.cell(c)).collect();
        cells.extend(self.table.columns().iter().map(|c| self.cell(c)));
        let others: Vec<String> = self
            .others()
            .map(|a| format!("{}={}", a.key, a.value))
            .collect();
        cells.push(others.join("; "));
        cells
    }

    /// A login `suspicious` reported in clear text (superseded by a `credentials.*` finding).
    pub fn is_cleartext(&self) -> bool {
        tag_matches(&self.tag, CLEARTEXT_TAG)
    }
}

/// The rows of the findings on `flow`, in the findings' order, cleartext logins that a credentials
/// finding of the same flow repeats left out.
pub fn rows_of_flow(flow: &Flow) -> Vec<Row> {
    let rows: Vec<Row> = flow
        .findings
        .iter()
        .filter_map(|r| row(&r.stage, &r.finding, flow.id))
        .collect();
    if rows.is_empty() {
        // Nearly every flow: its addresses and time are not formatted for nothing.
        return rows;
    }
    let client = endpoint(&flow.client);
    let server = endpoint(&flow.server);
    let first = match flow.first_seen() {
        0 => String::new(),
        t => crate::time::iso8601(t),
    };
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|mut row| {
            fill(&mut row.client, &client);
            fill(&mut row.server, &server);
            fill(&mut row.time, &first);
            row
        })
        .collect();
    dedup(rows)
}

/// The row of a finding the host handed over apart from its flow (raised at the end of the run), if
/// it is a file or credential on a flow. Roll-ups give none: each of their findings came on its flow.
/// Client, server and time are what the finding's attributes say (`client`, `server`, `time`).
pub fn row_of_record(r: &FindingRecord) -> Option<Row> {
    if r.rollup {
        return None;
    }
    match r.finding.subject {
        Subject::Flow(id) => row(&r.stage, &r.finding, id),
        _ => None,
    }
}

/// The rows of `records` (see [`row_of_record`]), cleartext logins repeated by a credentials row of
/// the same flow left out.
pub fn rows_of_records(records: &[FindingRecord]) -> Vec<Row> {
    dedup(records.iter().filter_map(row_of_record).collect())
}

/// What a page shows in place of a secret before the reader asks: the same eight dots whatever the
/// secret, so not even its length shows (empty when there is no secret).
pub fn mask(secret: &str) -> &'static str {
    if secret.is_empty() { "" } else { MASK }
}

/// The dots a masked secret shows.
pub const MASK: &str = "••••••••";

/// A secret as a static page keeps it until a click reveals it: base64 of its UTF-8, so it is not
/// on screen, in a screenshot, in the browser's find-in-page or in a glance at the source. This is a
/// guard against onlookers, not encryption: whoever has the page (or report.json) has the secret.
pub fn conceal(secret: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(secret.as_bytes())
}

fn fill(cell: &mut String, value: &str) {
    if cell.is_empty() {
        *cell = value.to_string();
    }
}

fn row(stage: &str, f: &Finding, flow: FlowId) -> Option<Row> {
    let table = Table::of_tag(&f.tag)?;
    let cleartext = tag_matches(&f.tag, CLEARTEXT_TAG);
    let mut attributes: Vec<Attribute> = f
        .attributes
        .iter()
        .map(|a| match a.key.strip_prefix("cleartext.") {
            Some(key) if cleartext && matches!(key, "user" | "protocol") => Attribute::new(
                key,
                if key == "protocol" {
                    a.value.to_ascii_lowercase()
                } else {
                    a.value.clone()
                },
            ),
            _ => a.clone(),
        })
        .collect();
    if table == Table::Credentials && !attributes.iter().any(|a| a.key == "protocol") {
        let proto = f.tag.split_once('.').map_or("", |(_, p)| p);
        attributes.insert(0, Attribute::new("protocol", proto));
    }
    let get = |key: &str| f.get(key).unwrap_or("").to_string();
    Some(Row {
        table,
        flow,
        time: get("time"),
        client: get("client"),
        server: get("server"),
        stage: stage.to_string(),
        tag: f.tag.clone(),
        severity: f.severity,
        summary: f.summary.clone(),
        attributes,
    })
}

/// The protocol a credential row is about, as the credentials analyzer names it (`smtp-auth` is
/// `smtp`, `HTTP` with method `Basic` is `http-basic`).
fn login_protocol(row: &Row) -> String {
    let suffix = row.tag.split_once('.').map_or("", |(_, p)| p);
    match suffix {
        "smtp-auth" => "smtp".into(),
        other => other.to_ascii_lowercase(),
    }
}

fn dedup(rows: Vec<Row>) -> Vec<Row> {
    let superseded = |c: &Row| {
        rows.iter().any(|r| {
            !r.is_cleartext()
                && r.table == Table::Credentials
                && r.flow == c.flow
                && login_protocol(r) == login_protocol(c)
                && c.get("user").is_none_or(|u| r.get("user") == Some(u))
        })
    };
    let keep: Vec<bool> = rows
        .iter()
        .map(|r| !(r.is_cleartext() && superseded(r)))
        .collect();
    rows.into_iter()
        .zip(keep)
        .filter_map(|(r, k)| k.then_some(r))
        .collect()
}

/// `ip:port`, IPv6 in brackets.
pub fn endpoint(e: &crate::Endpoint) -> String {
    let ip: std::net::IpAddr = e.ip.into();
    match ip {
        std::net::IpAddr::V6(_) => format!("[{ip}]:{}", e.port),
        std::net::IpAddr::V4(_) => format!("{ip}:{}", e.port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{finding, flow};

    fn on(mut f: Flow, records: Vec<FindingRecord>) -> Flow {
        f.findings = records;
        f
    }

    #[test]
    fn files_and_credentials_are_rows_with_every_attribute_and_the_flow_endpoints() {
        let f = on(
            flow(7, "10.0.0.2", "10.0.0.9", 21),
            vec![
                finding(
                    "files",
                    7,
                    "files.ftp",
                    "FTP download a.pdf",
                    &[
                        ("protocol", "ftp"),
                        ("name", "a.pdf"),
                        ("sha256", "ab"),
                        ("time", "2024-03-12T09:00:00Z"),
                        ("control_flow", "6"),
                    ],
                ),
                finding("web", 7, "web.http", "GET /", &[("method", "GET")]),
                finding(
                    "credentials",
                    7,
                    "credentials.ntlm",
                    "NTLM login",
                    &[
                        ("user", "bob"),
                        ("domain", "CORP"),
                        ("secret", "bob::CORP:1122:aabb:ccdd"),
                        ("secret_format", "netntlmv2"),
                    ],
                ),
            ],
        );
        let rows = rows_of_flow(&f);
        assert_eq!(rows.len(), 2);
        let file = &rows[0];
        assert_eq!(file.table, Table::Files);
        assert_eq!(file.client, "10.0.0.2:49152");
        assert_eq!(file.server, "10.0.0.9:21");
        assert_eq!(file.time, "2024-03-12T09:00:00Z");
        let header = Table::Files.header();
        let cells = file.cells();
        assert_eq!(header.len(), cells.len());
        let at = |c: &str| &cells[header.iter().position(|h| *h == c).unwrap()];
        assert_eq!(at("sha256"), "ab");
        assert_eq!(at("flow"), "7");
        assert_eq!(at("attributes"), "control_flow=6");
        let cred = &rows[1];
        assert_eq!(cred.table, Table::Credentials);
        assert_eq!(cred.get("protocol"), Some("ntlm"));
        assert_eq!(cred.get(SECRET), Some("bob::CORP:1122:aabb:ccdd"));
        assert!(!cred.time.is_empty());
    }

    #[test]
    fn a_cleartext_login_is_a_credential_until_the_credentials_analyzer_reports_it() {
        let cleartext = finding(
            "suspicious",
            3,
            "cleartext.smtp-auth",
            "SMTP login",
            &[
                ("cleartext.protocol", "SMTP"),
                ("cleartext.user", "alice"),
                ("cleartext.method", "AUTH LOGIN"),
            ],
        );
        let alone = rows_of_flow(&on(
            flow(3, "10.0.0.2", "10.0.0.9", 25),
            vec![cleartext.clone()],
        ));
        assert_eq!(alone.len(), 1);
        assert_eq!(alone[0].get("user"), Some("alice"));
        assert_eq!(alone[0].get("protocol"), Some("smtp"));
        assert_eq!(alone[0].cell("attributes"), "");
        assert_eq!(
            alone[0].cells().last().unwrap(),
            "cleartext.method=AUTH LOGIN"
        );
        let credential = finding(
            "credentials",
            3,
            "credentials.smtp",
            "SMTP login",
            &[
                ("protocol", "smtp"),
                ("user", "alice"),
                ("secret", "hunter2"),
            ],
        );
        let both = rows_of_flow(&on(
            flow(3, "10.0.0.2", "10.0.0.9", 25),
            vec![cleartext.clone(), credential.clone()],
        ));
        assert_eq!(both.len(), 1);
        assert_eq!(both[0].tag, "credentials.smtp");
        let other_user = finding(
            "credentials",
            3,
            "credentials.smtp",
            "SMTP login",
            &[("user", "mallory")],
        );
        let kept = rows_of_records(&[cleartext, other_user]);
        assert_eq!(kept.len(), 2, "a different user is a different login");
    }

    #[test]
    fn roll_ups_and_findings_off_flows_give_no_rows() {
        let mut r = finding("files", 1, "files.http", "x", &[]);
        assert!(row_of_record(&r).is_some());
        r.rollup = true;
        assert!(row_of_record(&r).is_none());
        r.rollup = false;
        r.finding.subject = Subject::Capture;
        assert!(row_of_record(&r).is_none());
        assert_eq!(Table::of_tag("files"), None);
        assert_eq!(Table::of_tag("filesystem.x"), None);
    }

    #[test]
    fn a_masked_secret_shows_nothing_of_it() {
        assert_eq!(mask(""), "");
        assert_eq!(mask("hunter2"), mask("correct horse battery staple"));
        assert_eq!(conceal("hunter2"), "aHVudGVyMg==");
        assert_eq!(
            crate::encoding::base64(&conceal("pässwörd")).unwrap(),
            "pässwörd".as_bytes()
        );
    }
}
