//! The `enrich` analyzer: asks the network about the capture's internet hosts — reverse DNS names and
//! RDAP owners — but only when the pipeline grants it `dns` and `whois`. Without the grants it sends
//! nothing and says so once; the analysis stays offline by default. The host attaches the answers to
//! the hosts and records every query in the report; this plugin chooses whom to ask and when.

use pcapxray_plugin_sdk::RunNote;
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::net::IpClass;
use pcapxray_plugin_sdk::{
    Analyzer, CapabilityError, Flow, IpAddress, Outcome, PluginError, dns, hosts, log, whois,
};
use serde::Deserialize;

/// The `config` table of an `enrich` stage.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Look up PTR names of hosts that got no name from the capture.
    reverse_dns: bool,
    /// Look up the RDAP owner (network, organisation, country) of every internet host.
    whois: bool,
    /// Most hosts asked about per capability; the rest are skipped with a warning.
    max_hosts: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            reverse_dns: true,
            whois: true,
            max_hosts: 2000,
        }
    }
}

pub struct Enrich {
    config: Config,
}

impl Analyzer for Enrich {
    const NAME: &'static str = "enrich";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Adds reverse DNS names and RDAP owners of internet hosts, only when the pipeline grants dns and whois.";
    const NEEDS_PAYLOAD: bool = false;
    type Config = Config;

    fn new(config: Config) -> Result<Enrich, PluginError> {
        Ok(Enrich { config })
    }

    /// It asks about the host table at the end; the flows themselves tell it nothing.
    const READS_FLOWS: bool = false;

    fn analyze(&mut self, _flows: &[Flow], _out: &mut Outcome) -> Result<(), PluginError> {
        Ok(())
    }

    /// Asks once, at the end, about the internet hosts the capture touched, up to `max_hosts` per
    /// capability. The first batch of a capability is asked as soon as the walk of the host table
    /// has it: when no capability is granted the walk stops there instead of reading every host.
    fn finish(&mut self, out: &mut Outcome) -> Result<(), PluginError> {
        let max = self.config.max_hosts;
        let mut dns = Round::new("reverse DNS", self.config.reverse_dns, max);
        let mut rdap = Round::new("RDAP", self.config.whois, max);
        let reverse = |batch: &[IpAddress]| -> Vec<Result<(), CapabilityError>> {
            dns::reverse(batch)
                .into_iter()
                .map(|r| r.map(|_| ()))
                .collect()
        };
        let lookup = |batch: &[IpAddress]| -> Vec<Result<(), CapabilityError>> {
            whois::lookup(batch)
                .into_iter()
                .map(|r| r.map(|_| ()))
                .collect()
        };
        let mut public = 0;
        for page in hosts::pages() {
            for h in page
                .iter()
                .filter(|h| IpClass::of(h.ip.into()) == IpClass::Public)
            {
                public += 1;
                rdap.offer(h.ip);
                if h.fact(names::host::NAME).is_none() {
                    dns.offer(h.ip);
                }
            }
            // Queries keep their order (every reverse DNS batch, then every RDAP batch): RDAP's first
            // batch goes early only when reverse DNS asks nothing.
            dns.ask_first(&reverse);
            if dns.silent() {
                rdap.ask_first(&lookup);
            }
            if dns.silent() && rdap.silent() {
                break;
            }
        }
        if public == 0 {
            return Ok(());
        }
        let dns = dns.ask_rest(&reverse);
        summarize(out, names::enrich::NOTE_DNS, "reverse DNS", dns);
        let rdap = rdap.ask_rest(&lookup);
        summarize(out, names::enrich::NOTE_WHOIS, "RDAP", rdap);
        Ok(())
    }
}

/// Addresses asked per call: the host runs each batch concurrently.
const BATCH: usize = 64;

/// One kind of lookup over the host table: the first `max` addresses that qualify for it, how many
/// qualified in all, and how the asking went.
struct Round {
    what: &'static str,
    max: usize,
    ips: Vec<IpAddress>,
    qualified: usize,
    state: Asking,
    answered: usize,
    failed: usize,
    /// How many of `ips` were asked.
    asked: usize,
}

#[derive(PartialEq)]
enum Asking {
    /// Not configured.
    Off,
    /// Nothing asked yet.
    NotYet,
    /// The capability answered the first batch (each answer succeeded or failed).
    Granted,
    /// The pipeline does not grant it.
    Refused,
}

/// How a round of lookups went: (answered, failed, asked, qualified), or None when nothing was asked
/// or the capability is not granted.
type Tally = Option<(usize, usize, usize, usize)>;

impl Round {
    fn new(what: &'static str, on: bool, max: usize) -> Round {
        Round {
            what,
            max,
            ips: Vec::new(),
            qualified: 0,
            state: if on { Asking::NotYet } else { Asking::Off },
            answered: 0,
            failed: 0,
            asked: 0,
        }
    }

    fn offer(&mut self, ip: IpAddress) {
        if matches!(self.state, Asking::Off | Asking::Refused) {
            return;
        }
        self.qualified += 1;
        if self.ips.len() < self.max {
            self.ips.push(ip);
        }
    }

    /// Asks nothing now or later: not configured, or not granted.
    fn silent(&self) -> bool {
        matches!(self.state, Asking::Off | Asking::Refused)
    }

    /// Asks the first batch once the walk has gathered it whole.
    fn ask_first(&mut self, lookup: &impl Fn(&[IpAddress]) -> Vec<Result<(), CapabilityError>>) {
        if self.state == Asking::NotYet
            && !self.ips.is_empty()
            && self.ips.len() >= BATCH.min(self.max)
        {
            self.ask(lookup);
        }
    }

    /// Asks the next batch (the first one decides whether the capability is granted).
    fn ask(&mut self, lookup: &impl Fn(&[IpAddress]) -> Vec<Result<(), CapabilityError>>) {
        let end = (self.asked + BATCH).min(self.ips.len());
        for result in lookup(&self.ips[self.asked..end]) {
            match result {
                Ok(()) => self.answered += 1,
                Err(CapabilityError::NotGranted(m)) => {
                    log::info(&format!("No {} lookups: {m}.", self.what));
                    self.state = Asking::Refused;
                    self.ips = Vec::new();
                    return;
                }
                Err(_) => self.failed += 1,
            }
        }
        self.state = Asking::Granted;
        self.asked = end;
    }

    /// Asks what is left once the walk is over (which found internet hosts); says when `max_hosts`
    /// left hosts out. A configured round with none to ask (every host named, `max_hosts = 0`)
    /// still tells that it asked none.
    fn ask_rest(
        mut self,
        lookup: &impl Fn(&[IpAddress]) -> Vec<Result<(), CapabilityError>>,
    ) -> Tally {
        while !self.silent() && self.asked < self.ips.len() {
            self.ask(lookup);
        }
        if self.silent() {
            return None;
        }
        if self.qualified > self.ips.len() {
            log::warn(&format!(
                "{} hosts qualify for {} lookups; only the first {} are asked (config max_hosts).",
                self.qualified,
                self.what,
                self.ips.len()
            ));
        }
        Some((self.answered, self.failed, self.asked, self.qualified))
    }
}

/// A run note on how the lookups went, and a warning when `max_hosts` left hosts unasked.
fn summarize(out: &mut Outcome, key: &str, what: &str, tally: Tally) {
    let Some((answered, failed, asked, qualified)) = tally else {
        return;
    };
    out.note(
        RunNote::info(
            key,
            format!(
                "{what}: asked about {asked} hosts, {answered} answered, {failed} without answer"
            ),
        )
        .attr(names::enrich::NOTE_ASKED, asked.to_string())
        .attr(names::enrich::NOTE_ANSWERED, answered.to_string())
        .attr(names::enrich::NOTE_FAILED, failed.to_string()),
    );
    if qualified > asked {
        out.note(
            RunNote::warning(
                format!("{key}.limit"),
                format!(
                    "{what}: {qualified} hosts qualified, only the first {asked} were asked (config max_hosts)"
                ),
            )
            .attr(names::enrich::NOTE_QUALIFIED, qualified.to_string())
            .attr(names::enrich::NOTE_MAX_HOSTS, asked.to_string()),
        );
    }
}

pcapxray_plugin_sdk::export_analyzer!(Enrich);
