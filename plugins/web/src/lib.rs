//! # pcapxray `web` analyzer
//!
//! Recognises web traffic by parsing what the flows carried, not by their ports: HTTP/1.x requests
//! and responses (method, host, URI, user agent, status, server, form field names) and TLS
//! handshakes (SNI, offered and negotiated versions, ALPN, cipher, JA3/JA4 fingerprints, the TLS 1.2
//! certificate chain), and QUIC client handshakes on UDP flows (`quic`). When its stage receives
//! streams it reads TCP flows whole (`stream`, `http_stream`), else from their payload prefixes. It
//! raises one `web.http`, `web.https`, `web.tls` or `web.quic` finding per flow, a Low
//! `web.certificate` once per server and self-signed or expired certificate, and publishes the server names it learns (`name`) and the clients' user agents
//! (`http.user-agent`) as host facts, so later stages and reports can name the machines.
//!
//! The parsing lives in plain modules (`http`, `tls`, `report`) that make no host calls and are
//! tested natively; this file only holds the configuration, the de-duplication of facts and the SDK
//! glue.

#[cfg(test)]
mod captures;
mod cert;
mod fingerprint;
mod http;
mod http_stream;
mod quic;
mod report;
mod stream;
mod text;
mod tls;

/// Entry points for the fuzz targets in `tests/fuzz`: the parsers, called natively exactly as the
/// analyzer calls them. Not part of the plugin's interface.
#[doc(hidden)]
pub mod fuzz {
    use pcapxray_plugin_sdk::Flow;

    /// A client→server stream as HTTP requests, and as responses to them; then both read
    /// incrementally, cut where the first byte says.
    pub fn http(stream: &[u8]) {
        let requests = crate::http::parse_requests(stream, 20);
        let _ = crate::http::parse_responses(stream, &requests.methods, 20);
        let cut = usize::from(stream.first().copied().unwrap_or(0)).min(stream.len());
        let mut conv = crate::http_stream::Conversation::new(20);
        for to_server in [true, false] {
            conv.data(to_server, &stream[..cut]);
            conv.data(to_server, &stream[cut..]);
            conv.end(to_server);
        }
    }

    /// A stream as the start of a TLS client and of a TLS server, and as a server's certificates.
    pub fn tls(stream: &[u8]) {
        let _ = crate::tls::parse_client_hello(stream);
        let _ = crate::tls::parse_server_hello(stream);
        let _ = crate::cert::chain(stream);
        let _ = crate::tls::record_chain(stream);
        let _ = crate::tls::is_mid_stream(stream, stream);
    }

    /// One flow through the whole per-flow observation (HTTP, TLS, mid-stream TLS, the finding's text).
    pub fn observe(flow: &Flow) {
        let _ = crate::report::observe(flow, 20);
    }
}

use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::{
    Analyzer, ConfigError, Finding, Flow, IpAddress, Outcome, PluginError, Seen, Severity,
    StreamChunk, export_analyzer, log,
};
use report::{Kind, Observation};
use serde::Deserialize;

/// The stage's `config` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Transactions listed per flow in `http.transactions` (1 to 1000).
    pub max_transactions: usize,
    /// Publish the SNI or `Host` of a flow as the `name` fact of its server.
    pub publish_names: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_transactions: 20,
            publish_names: true,
        }
    }
}

/// The analyzer.
pub struct Web {
    config: Config,
    names: Seen<(IpAddress, String)>,
    agents: Seen<(IpAddress, String)>,
    /// Certificates already judged, by server and SHA-256.
    certificates: Seen<(IpAddress, u16, String)>,
    /// The live flows whose streams are being read (stages with `streams = ...`).
    streams: stream::Flows,
    http_flows: u64,
    tls_flows: u64,
}

impl Web {
    /// Adds the finding and facts of one flow to `out`.
    fn observe(&mut self, flow: &Flow, out: &mut Outcome) {
        let max = self.config.max_transactions;
        let observation = match self.streams.take(flow.id) {
            Some(conv) => report::observe_stream(flow, conv, max),
            None => report::observe(flow, max),
        };
        let Some(observation) = observation else {
            return;
        };
        self.judge_certificate(flow, &observation, out);
        match observation.kind {
            Kind::Http => self.http_flows += 1,
            Kind::Tls | Kind::Quic => self.tls_flows += 1,
        }
        let when = Some(flow.first_seen());
        if let Some(name) = observation.server_name
            && self.config.publish_names
            && self.names.first_time((flow.server.ip, name.clone()))
        {
            out.fact(flow.server.ip, names::host::NAME, name, when);
        }
        for agent in observation.user_agents {
            if self.agents.first_time((flow.client.ip, agent.clone())) {
                out.fact(flow.client.ip, names::http::USER_AGENT, agent, when);
            }
        }
        out.push(observation.finding);
    }

    /// A self-signed, expired or not yet valid server certificate is a Low finding, once per server
    /// and certificate.
    fn judge_certificate(&mut self, flow: &Flow, observation: &Observation, out: &mut Outcome) {
        let Some(leaf) = &observation.certificate else {
            return;
        };
        let problems = leaf.problems(i64::try_from(flow.first_seen() / 1_000_000_000).unwrap_or(0));
        if problems.is_empty()
            || !self.certificates.first_time((
                flow.server.ip,
                flow.server.port,
                leaf.sha256.clone(),
            ))
        {
            return;
        }
        let server = std::net::SocketAddr::new(flow.server_ip(), flow.server.port);
        out.push(
            Finding::on_flow(flow.id, names::web::CERTIFICATE, Severity::Low)
                .summary(format!(
                    "The certificate {} presented by {server} deserves a look: {}",
                    leaf.subject,
                    problems.join("; ")
                ))
                .attr(names::tls::CERT_SUBJECT, leaf.subject.as_str())
                .attr(names::tls::CERT_ISSUER, leaf.issuer.as_str())
                .attr(names::tls::CERT_NOT_BEFORE, cert::date(leaf.not_before))
                .attr(names::tls::CERT_NOT_AFTER, cert::date(leaf.not_after))
                .attr(names::tls::CERT_SELF_SIGNED, leaf.self_signed.to_string())
                .attr(names::tls::CERT_SHA256, leaf.sha256.as_str())
                .attr(names::common::REASONS, problems.join("; ")),
        );
    }
}

impl Analyzer for Web {
    const NAME: &'static str = "web";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Recognises HTTP and TLS by parsing flow payloads and names web servers from Host headers and SNI.";
    /// HTTP, TLS and QUIC are read from payloads: a flow without any has nothing to read.
    const PAYLOAD_FLOWS_ONLY: bool = true;
    type Config = Config;

    fn new(config: Config) -> Result<Web, PluginError> {
        if !(1..=1000).contains(&config.max_transactions) {
            return Err(PluginError::Config(vec![ConfigError {
                key: "max_transactions".into(),
                message: format!(
                    "must be between 1 and 1000, not {}",
                    config.max_transactions
                ),
            }]));
        }
        let max = config.max_transactions;
        Ok(Web {
            config,
            names: Seen::new(),
            agents: Seen::new(),
            certificates: Seen::new(),
            streams: stream::Flows::new(max),
            http_flows: 0,
            tls_flows: 0,
        })
    }

    fn analyze(&mut self, flows: &[Flow], out: &mut Outcome) -> Result<(), PluginError> {
        for flow in flows {
            self.observe(flow, out);
        }
        Ok(())
    }

    fn stream(&mut self, chunk: &StreamChunk, out: &mut Outcome) -> Result<(), PluginError> {
        if self.streams.chunk(chunk) {
            out.stop_stream(chunk.flow);
        }
        Ok(())
    }

    fn finish(&mut self, _out: &mut Outcome) -> Result<(), PluginError> {
        self.streams.clear();
        log::info(&format!(
            "Recognised {} HTTP and {} TLS or QUIC flows.",
            self.http_flows, self.tls_flows
        ));
        Ok(())
    }
}

export_analyzer!(Web);

#[cfg(test)]
mod tests {
    use super::*;
    use report::tests::flow;

    fn config(json: &str) -> Result<Config, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn reads_its_configuration() {
        assert_eq!(config("{}").unwrap(), Config::default());
        let c = config(r#"{"max_transactions": 5, "publish_names": false}"#).unwrap();
        assert_eq!(
            c,
            Config {
                max_transactions: 5,
                publish_names: false
            }
        );
        assert!(config(r#"{"max_transaction": 5}"#).is_err());
        assert!(
            Web::new(Config {
                max_transactions: 0,
                publish_names: true
            })
            .is_err()
        );
    }

    #[test]
    fn publishes_each_name_and_user_agent_once() {
        let get = b"GET / HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/8.5.0\r\n\r\n";
        let flows = [
            flow("93.184.216.34", 80, get, b""),
            flow("93.184.216.34", 80, get, b""),
        ];
        let mut web = Web::new(Config::default()).unwrap();
        let mut out = Outcome::default();
        web.analyze(&flows, &mut out).unwrap();
        assert_eq!(out.findings.len(), 2);
        // Facts are observed when the flow began.
        let began = Some(flows[0].first_seen());
        let facts: Vec<_> = out
            .host_facts
            .iter()
            .map(|f| {
                (
                    f.host.to_string(),
                    f.key.as_str(),
                    f.value.as_str(),
                    f.observed,
                )
            })
            .collect();
        assert_eq!(
            facts,
            [
                (
                    "93.184.216.34".to_string(),
                    "name",
                    "www.example.com",
                    began
                ),
                (
                    "10.0.0.2".to_string(),
                    "http.user-agent",
                    "curl/8.5.0",
                    began
                ),
            ]
        );

        let mut quiet = Web::new(Config {
            publish_names: false,
            ..Config::default()
        })
        .unwrap();
        let mut out = Outcome::default();
        quiet.analyze(&flows, &mut out).unwrap();
        assert!(out.host_facts.iter().all(|f| f.key != "name"));
    }
}
