//! The `json` output: one machine-readable file with everything the run learned, for other tools and
//! for tests. Flows are kept as compact summaries (no payload bytes), so the report stays a fraction of
//! the capture's size.

use pcapxray_plugin_sdk::{
    Artifact, Finding, Flow, Output, PluginError, Report, Subject,
    format_mac, time::iso8601,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The `config` table of a `json` stage.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// File name inside the report folder.
    file: String,
    /// Indent the JSON for people (true) or write it compact (false).
    pretty: bool,
    /// Include one entry per flow.
    flows: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            file: "report.json".into(),
            pretty: true,
            flows: true,
        }
    }
}

pub struct Json {
    config: Config,
    flows: Vec<Value>,
}

impl Output for Json {
    const NAME: &'static str = "json";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Writes report.json: capture summary, hosts, flows with tags, findings and the plugins that produced them.";
    type Config = Config;

    fn new(config: Config) -> Result<Json, PluginError> {
        if config.file.is_empty() || config.file.contains("..") {
            return Err(PluginError::Config(vec![
                pcapxray_plugin_sdk::ConfigError {
                    key: "file".into(),
                    message: "must be a plain file name such as report.json".into(),
                },
            ]));
        }
        Ok(Json {
            config,
            flows: Vec::new(),
        })
    }

    fn consume(&mut self, flows: Vec<Flow>) -> Result<(), PluginError> {
        if self.config.flows {
            self.flows.extend(flows.iter().map(flow_json));
        }
        Ok(())
    }

    fn finish(&mut self, report: Report) -> Result<Vec<Artifact>, PluginError> {
        // Findings raised in an analyzer's `finish` are not on the flows yet: add their tags.
        let mut late_tags: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for f in &report.findings {
            if let Subject::Flow(id) = f.finding.subject {
                late_tags.entry(id).or_default().push(f.finding.tag.clone());
            }
        }
        for flow in &mut self.flows {
            let id = flow["id"].as_u64().unwrap_or(0);
            if let (Some(extra), Some(tags)) = (late_tags.get(&id), flow["tags"].as_array_mut()) {
                for tag in extra {
                    if !tags.iter().any(|t| t == tag) {
                        tags.push(json!(tag));
                    }
                }
            }
        }
        let mut by_tag: BTreeMap<&str, u64> = BTreeMap::new();
        for f in &report.findings {
            *by_tag.entry(&f.finding.tag).or_default() += 1;
        }
        let c = &report.capture;
        let doc = json!({
            "capture": {
                "file": c.file,
                "size": c.size,
                "sha256": c.sha256,
                "format": c.format,
                "format_details": c.format_details,
                "link_types": c.link_types,
                "packets": c.packets,
                "bytes": c.bytes,
                "first_packet": ts(c.first_packet),
                "last_packet": ts(c.last_packet),
                "duration_seconds": (c.last_packet.saturating_sub(c.first_packet)) as f64 / 1e9,
                "decode_errors": c.decode_errors.iter().map(|a| (a.key.clone(), json!(a.value.parse::<u64>().unwrap_or(0)))).collect::<Map<_, _>>(),
                "read_error": c.read_error,
                "flows": c.flows,
            },
            "summary": { "hosts": report.hosts.len(), "findings": report.findings.len(), "findings_by_tag": by_tag },
            "hosts": report.hosts.iter().map(host_json).collect::<Vec<_>>(),
            "flows": self.flows,
            "findings": report.findings.iter().map(|f| finding_json(&f.stage, &f.finding)).collect::<Vec<_>>(),
            "plugins": report.plugins.iter().map(|p| json!({
                "stage": p.stage,
                "name": p.name,
                "version": p.version,
                "kind": p.kind.as_str(),
                "digest": format!("sha256:{}", p.digest),
                "error": p.error,
            })).collect::<Vec<_>>(),
        });
        let bytes = if self.config.pretty {
            serde_json::to_vec_pretty(&doc)
        } else {
            serde_json::to_vec(&doc)
        }
        .map_err(|e| PluginError::other(format!("cannot encode the report: {e}")))?;
        Ok(vec![Artifact {
            name: self.config.file.clone(),
            media_type: "application/json".into(),
            bytes,
        }])
    }
}

fn ts(t: u64) -> Value {
    if t == 0 {
        Value::Null
    } else {
        json!(iso8601(t))
    }
}

fn host_json(h: &pcapxray_plugin_sdk::HostInfo) -> Value {
    let names: Vec<&str> = {
        let mut v: Vec<&str> = h
            .notes
            .iter()
            .filter(|n| n.key == "name")
            .map(|n| n.value.as_str())
            .collect();
        v.dedup();
        v
    };
    json!({
        "ip": h.ip.to_string(),
        "class": pcapxray_plugin_sdk::net::IpClass::of(h.ip.into()).as_str(),
        "macs": h.macs.iter().map(|m| format_mac(*m)).collect::<Vec<_>>(),
        "names": names,
        "first_seen": ts(h.first_seen),
        "last_seen": ts(h.last_seen),
        "packets_sent": h.packets_sent,
        "packets_received": h.packets_received,
        "bytes_sent": h.bytes_sent,
        "bytes_received": h.bytes_received,
        "seen_in_arp": h.seen_in_arp,
        "notes": h.notes.iter().map(|n| json!({"stage": n.stage, "key": n.key, "value": n.value, "observed": n.observed.map(iso8601)})).collect::<Vec<_>>(),
    })
}

fn flow_json(f: &Flow) -> Value {
    let mut tags: Vec<&str> = f.annotations.iter().map(|a| a.tag.as_str()).collect();
    tags.dedup();
    let dir = |d: &pcapxray_plugin_sdk::Direction| {
        json!({
            "packets": d.packets,
            "bytes": d.bytes,
            "payload_bytes": d.payload_bytes,
            "tcp_flags": d.tcp_flags,
            "ttl": d.ttl,
        })
    };
    json!({
        "id": f.id,
        "protocol": f.protocol.as_str(),
        "client": {"ip": f.client.ip.to_string(), "port": f.client.port, "mac": f.client.mac.map(format_mac)},
        "server": {"ip": f.server.ip.to_string(), "port": f.server.port, "mac": f.server.mac.map(format_mac)},
        "start": ts(f.first_seen()),
        "end": ts(f.last_seen()),
        "duration_seconds": f.last_seen().saturating_sub(f.first_seen()) as f64 / 1e9,
        "vlan": f.vlan,
        "orientation": f.orientation.as_str(),
        "end_reason": f.end_reason.as_str(),
        "to_server": dir(&f.to_server),
        "to_client": dir(&f.to_client),
        "tags": tags,
    })
}

fn finding_json(stage: &str, f: &Finding) -> Value {
    let subject = match f.subject {
        Subject::Flow(id) => json!({ "flow": id }),
        Subject::Host(ip) => json!({ "host": ip.to_string() }),
        Subject::Capture => json!("capture"),
    };
    let severity = f.severity.as_str();
    json!({
        "stage": stage,
        "tag": f.tag,
        "subject": subject,
        "severity": severity,
        "confidence": f.confidence,
        "summary": f.summary,
        "attributes": f.attributes.iter().map(|a| (a.key.clone(), json!(a.value))).collect::<Map<_, _>>(),
    })
}

pcapxray_plugin_sdk::export_output!(Json);
