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

/// Addresses asked per call: the host runs each batch concurrently.
const BATCH: usize = 64;

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
    /// capability.
    fn finish(&mut self, out: &mut Outcome) -> Result<(), PluginError> {
        let candidates = self.candidates();
        if candidates.public.qualified == 0 {
            return Ok(());
        }
        if self.config.reverse_dns {
            let asked = self.ask("reverse DNS", &candidates.unnamed, |batch| {
                dns::reverse(batch)
                    .into_iter()
                    .map(|r| r.map(|_| ()))
                    .collect()
            });
            summarize(out, names::enrich::NOTE_DNS, "reverse DNS", asked);
        }
        if self.config.whois {
            let asked = self.ask("RDAP", &candidates.public, |batch| {
                whois::lookup(batch)
                    .into_iter()
                    .map(|r| r.map(|_| ()))
                    .collect()
            });
            summarize(out, names::enrich::NOTE_WHOIS, "RDAP", asked);
        }
        Ok(())
    }
}

/// The first `max_hosts` addresses that qualify for a kind of lookup, and how many qualified in all.
#[derive(Default)]
struct Qualified {
    ips: Vec<IpAddress>,
    qualified: usize,
}

impl Qualified {
    fn offer(&mut self, ip: IpAddress, max: usize) {
        self.qualified += 1;
        if self.ips.len() < max {
            self.ips.push(ip);
        }
    }
}

/// Who may be asked: every internet host (RDAP), and those without a name (reverse DNS).
struct Candidates {
    public: Qualified,
    unnamed: Qualified,
}

/// How a round of lookups went: (answered, failed, asked, qualified), or None when the capability is
/// not granted.
type Tally = Option<(usize, usize, usize, usize)>;

impl Enrich {
    /// Walks the host table a page at a time: the plugin holds at most `max_hosts` addresses per
    /// capability, however many hosts the capture has.
    fn candidates(&self) -> Candidates {
        let max = self.config.max_hosts;
        let (mut public, mut unnamed) = (Qualified::default(), Qualified::default());
        for page in hosts::pages() {
            for h in page
                .iter()
                .filter(|h| IpClass::of(h.ip.into()) == IpClass::Public)
            {
                public.offer(h.ip, max);
                if h.fact(names::host::NAME).is_none() {
                    unnamed.offer(h.ip, max);
                }
            }
        }
        Candidates { public, unnamed }
    }

    fn ask(
        &self,
        what: &str,
        candidates: &Qualified,
        lookup: impl Fn(&[IpAddress]) -> Vec<Result<(), CapabilityError>>,
    ) -> Tally {
        let (mut answered, mut failed) = (0, 0);
        let asked = &candidates.ips;
        for (i, batch) in asked.chunks(BATCH).enumerate() {
            for result in lookup(batch) {
                match result {
                    Ok(()) => answered += 1,
                    Err(CapabilityError::NotGranted(m)) => {
                        log::info(&format!("No {what} lookups: {m}."));
                        return None;
                    }
                    Err(_) => failed += 1,
                }
            }
            // Only worth saying once the capability turned out to be granted.
            if i == 0 && candidates.qualified > asked.len() {
                log::warn(&format!(
                    "{} hosts qualify for {what} lookups; only the first {} are asked (config max_hosts).",
                    candidates.qualified,
                    asked.len()
                ));
            }
        }
        Some((answered, failed, asked.len(), candidates.qualified))
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
