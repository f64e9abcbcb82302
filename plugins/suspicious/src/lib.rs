//! # pcapxray `suspicious` analyzer
//!
//! Malicious-traffic identification done so that an investigator can act on it. The ancestor PcapXray
//! called "malicious" every session whose remote address had no reverse-DNS name or whose port was above
//! 1024 — offline, that was every internet session. This plugin flags a flow only for reasons it can
//! state, lists every reason that applies, and scores them so findings can be sorted:
//!
//! - the server port is on the notable-ports list (backdoors, C2 frameworks, IRC, miners, proxies:
//!   `config/data/ports-notable.tsv`, each entry with its source);
//! - the server port is not in the IANA port registry (the full registry, ranges included, built in);
//! - a cleartext protocol (HTTP, FTP, SMTP, POP3, IMAP, Telnet, IRC) runs on a port not meant for it;
//! - the internet peer got no name by any means (DNS answers, SNI and Host seen in the capture, reverse
//!   DNS when granted), decided at the end of the capture because DNS answers can come late; not
//!   counted for a connection that began before the capture, nor for ICMP;
//! - the peer's address, network or name is on an intel list the pipeline grants;
//!
//! Flows that `tor` or `beacon` already explained are not flagged again.
//!
//! and raises separate `cleartext.*` findings for logins sent in clear text (FTP, Telnet, HTTP Basic,
//! POP3, IMAP, SMTP AUTH), recognised from the payload.
//!
//! The modules hold the decisions and are tested natively (`registry`, `notable`, `intel`,
//! `cleartext`, `plaintext`, `rules`, `verdict`); `engine` keeps the state across a capture behind a
//! host trait; this file holds the configuration and the SDK glue.

mod cleartext;
mod engine;
mod intel;
mod notable;
mod plaintext;
mod registry;
mod rules;
mod verdict;

use engine::Engine;
use pcapxray_plugin_sdk::host::WitHost;
use pcapxray_plugin_sdk::{Analyzer, Flow, Outcome, PluginError, export_analyzer};
use serde::Deserialize;
use verdict::Weights;

/// The largest `max_candidates` accepted.
pub const MAX_CANDIDATES_LIMIT: usize = 10_000_000;

/// The stage's `config` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// A newer port registry to use instead of the built-in one: IANA's
    /// `service-names-port-numbers.csv`, or the compact format of `config/data/ports-iana.tsv`. Read
    /// through the `files` capability, which the pipeline must grant for it.
    pub ports_file: Option<String>,
    /// Intel lists (plain: one IP, CIDR or domain per line; or CSV: indicator, label). Read through
    /// the `files` capability, which the pipeline must grant for them.
    pub intel: Vec<String>,
    /// Flag flows whose internet peer got no name.
    pub flag_unnamed: bool,
    /// Flag flows whose server port is not in the IANA registry.
    pub flag_unregistered_ports: bool,
    /// Flag flows whose server port is on the notable-ports list (`config/data/ports-notable.tsv`).
    pub flag_notable_ports: bool,
    /// How much each reason weighs in the score.
    pub weights: Weights,
    /// Flows kept until the end of the capture while their peer has no name; past this, a flow is
    /// decided when it ends, with the names known then (a capture finding counts them).
    pub max_candidates: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            ports_file: None,
            intel: Vec::new(),
            flag_unnamed: true,
            flag_unregistered_ports: true,
            flag_notable_ports: true,
            weights: Weights::default(),
            max_candidates: 100_000,
        }
    }
}

/// The analyzer.
pub struct Suspicious(Engine<WitHost>);

impl Analyzer for Suspicious {
    const NAME: &'static str = "suspicious";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Flags flows to notable or unregistered ports, cleartext protocols on odd ports, unnamed internet peers and intel matches, with every reason and a score, and logins sent in clear text.";
    type Config = Config;

    fn new(config: Config) -> Result<Suspicious, PluginError> {
        Engine::new(config, WitHost).map(Suspicious)
    }

    fn analyze(&mut self, flows: &[Flow], out: &mut Outcome) -> Result<(), PluginError> {
        self.0.analyze(flows, out);
        Ok(())
    }

    fn finish(&mut self, out: &mut Outcome) -> Result<(), PluginError> {
        self.0.finish(out);
        Ok(())
    }
}

export_analyzer!(Suspicious);

#[cfg(test)]
mod tests;
