//! IP ownership through RDAP (the JSON successor of whois), for stages granted `whois`. Queries go to
//! the grant's base URL (`https://rdap.org/` by default, which redirects to the right registry), run
//! concurrently, are cached for the run, recorded in the query log and attached to the hosts.

use super::Session;
use super::dns::{error_text, unique};
use super::queries::QueryLog;
use crate::bindings::CapabilityError;
use crate::bindings::analyzer::pcapxray::plugin::whois;
use crate::bindings::analyzer::pcapxray::plugin::whois::NetworkOwner;
use crate::bindings::wit;
use crate::config::TomlReader;
use serde_json::Value;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;
use std::time::Instant;
use toml::Spanned;
use toml::de::DeValue;

#[derive(Clone, Debug)]
pub struct WhoisGrant {
    /// RDAP base URL, e.g. `https://rdap.arin.net/registry/`.
    pub url: String,
    pub timeout_ms: u64,
    pub concurrency: usize,
}

/// `grants.whois`: `true` or `{ url, timeout_ms, concurrency }`.
pub fn grant_from_toml(
    r: &mut TomlReader,
    v: &Spanned<DeValue>,
    stage: &str,
) -> Option<WhoisGrant> {
    let mut grant = WhoisGrant {
        url: "https://rdap.org/".into(),
        timeout_ms: 5000,
        concurrency: 4,
    };
    match v.get_ref() {
        DeValue::Boolean(b) => return b.then_some(grant),
        DeValue::Table(t) => {
            for (key, v) in t.iter() {
                match key.get_ref().as_ref() {
                    "url" => grant.url = r.string(v, "grants.whois.url").unwrap_or_default(),
                    "timeout_ms" => grant.timeout_ms = r.uint(v, "timeout_ms", 1, 120_000).unwrap_or(5000),
                    "concurrency" => grant.concurrency = r.uint(v, "concurrency", 1, 64).unwrap_or(4) as usize,
                    other => r.err(
                        key.span(),
                        format!("stage `{stage}`: unknown key `{other}` in grants.whois; expected url, timeout_ms, concurrency"),
                    ),
                }
            }
        }
        _ => r.err(
            v.span(),
            format!("stage `{stage}`: `grants.whois` must be true or a table"),
        ),
    }
    Some(grant)
}

/// Largest RDAP answer read.
const MAX_ANSWER: u64 = 1 << 20;

pub struct Whois {
    agent: ureq::Agent,
    grant: WhoisGrant,
    cache: HashMap<IpAddr, Result<NetworkOwner, CapabilityError>>,
}

impl Whois {
    pub fn new(grant: &WhoisGrant) -> Whois {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_millis(grant.timeout_ms)))
            .http_status_as_error(false)
            .user_agent(concat!("pcapxray/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Whois {
            agent,
            grant: grant.clone(),
            cache: HashMap::new(),
        }
    }

    fn url(&self, ip: &IpAddr) -> String {
        format!("{}/ip/{ip}", self.grant.url.trim_end_matches('/'))
    }

    /// Looks up owners, `concurrency` at a time; one result per address.
    pub fn lookup(
        &mut self,
        stage: &str,
        ips: &[IpAddr],
        log: &QueryLog,
    ) -> Vec<Result<NetworkOwner, CapabilityError>> {
        let todo: Vec<IpAddr> = unique(
            ips.iter()
                .filter(|ip| !self.cache.contains_key(ip))
                .copied(),
        );
        for chunk in todo.chunks(self.grant.concurrency.max(1)) {
            let answers: Vec<_> = std::thread::scope(|scope| {
                let handles: Vec<_> = chunk
                    .iter()
                    .map(|ip| scope.spawn(|| self.fetch(ip)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(CapabilityError::Other("RDAP lookup failed".into()))
                        })
                    })
                    .collect()
            });
            for (ip, answer) in chunk.iter().zip(answers) {
                let text = match &answer {
                    Ok(o) => format!(
                        "{} {} {} {}",
                        o.network_name,
                        o.organisation,
                        o.country,
                        o.cidrs.join(" ")
                    ),
                    Err(e) => error_text(e),
                };
                log.record(stage, "whois", &ip.to_string(), &self.url(ip), text.trim());
                self.cache.insert(*ip, answer);
            }
        }
        ips.iter().map(|ip| self.cache[ip].clone()).collect()
    }

    fn fetch(&self, ip: &IpAddr) -> Result<NetworkOwner, CapabilityError> {
        let url = self.url(ip);
        let mut response = self
            .agent
            .get(&url)
            .header("Accept", "application/rdap+json")
            .call()
            .map_err(|e| match e {
                ureq::Error::Timeout(_) => {
                    CapabilityError::Timeout(format!("{url}: no answer in time"))
                }
                other => CapabilityError::Other(format!("{url}: {other}")),
            })?;
        let status = response.status().as_u16();
        if status == 404 {
            return Err(CapabilityError::NotFound(format!(
                "{url}: the registry has no record of {ip}"
            )));
        }
        if status != 200 {
            return Err(CapabilityError::Other(format!("{url}: HTTP {status}")));
        }
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_string()
            .map_err(|e| CapabilityError::Other(format!("{url}: {e}")))?;
        let json: Value = serde_json::from_str(&text)
            .map_err(|e| CapabilityError::Other(format!("{url}: not RDAP JSON: {e}")))?;
        Ok(parse_rdap(&json))
    }
}

/// The parts of an RDAP IP network object an investigator needs.
pub fn parse_rdap(json: &Value) -> NetworkOwner {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut cidrs: Vec<String> = json["cidr0_cidrs"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|c| {
                    let prefix = c["v4prefix"].as_str().or_else(|| c["v6prefix"].as_str())?;
                    Some(format!("{prefix}/{}", c["length"].as_u64()?))
                })
                .collect()
        })
        .unwrap_or_default();
    if cidrs.is_empty() && json["startAddress"].is_string() {
        cidrs.push(format!(
            "{} - {}",
            text(&json["startAddress"]),
            text(&json["endAddress"])
        ));
    }
    NetworkOwner {
        network_name: text(&json["name"]),
        organisation: organisation(json).unwrap_or_default(),
        country: text(&json["country"]),
        cidrs,
        handle: text(&json["handle"]),
    }
}

/// The full name (`fn`) of the registrant entity, else of the first entity with a name.
fn organisation(json: &Value) -> Option<String> {
    let entities = json["entities"].as_array()?;
    let name = |e: &Value| -> Option<String> {
        e["vcardArray"][1]
            .as_array()?
            .iter()
            .find(|f| f[0] == "fn")
            .and_then(|f| f[3].as_str())
            .map(str::to_string)
    };
    let registrant = entities.iter().find(|e| {
        e["roles"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x == "registrant"))
    });
    registrant
        .and_then(name)
        .or_else(|| entities.iter().find_map(name))
}

impl whois::Host for Session {
    fn lookup(
        &mut self,
        ips: Vec<wit::IpAddress>,
    ) -> Vec<Result<whois::NetworkOwner, CapabilityError>> {
        let ips: Vec<IpAddr> = ips.into_iter().map(crate::bindings::ip_from_wit).collect();
        let Some(grant) = &self.grants.whois else {
            let refusal = super::not_granted(&self.stage, "whois", "for RDAP lookups");
            return ips.iter().map(|_| Err(refusal.clone())).collect();
        };
        let started = Instant::now();
        let whois = self
            .whois
            .get_or_insert_with(|| super::whois::Whois::new(grant));
        let answers = whois.lookup(&self.stage, &ips, &self.services.queries);
        self.host_time += started.elapsed();
        for (ip, answer) in ips.iter().zip(&answers) {
            if let Ok(owner) = answer {
                self.note(*ip, "whois.network", &owner.network_name);
                self.note(*ip, "whois.org", &owner.organisation);
                self.note(*ip, "whois.country", &owner.country);
                self.note(*ip, "whois.cidr", &owner.cidrs.join(", "));
            }
        }
        answers
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_rdap_network_object_gives_name_owner_country_and_cidr() {
        let json = serde_json::json!({
            "objectClassName": "ip network",
            "handle": "NET-158-69-0-0-1",
            "name": "OVH-ARIN-CA",
            "country": "CA",
            "startAddress": "158.69.0.0",
            "endAddress": "158.69.255.255",
            "cidr0_cidrs": [{"v4prefix": "158.69.0.0", "length": 16}],
            "entities": [
                {"roles": ["abuse"], "vcardArray": ["vcard", [["fn", {}, "text", "Abuse Desk"]]]},
                {"roles": ["registrant"], "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "OVH Hosting, Inc."]]]}
            ]
        });
        let owner = super::parse_rdap(&json);
        assert_eq!(owner.network_name, "OVH-ARIN-CA");
        assert_eq!(owner.organisation, "OVH Hosting, Inc.");
        assert_eq!(owner.country, "CA");
        assert_eq!(owner.cidrs, ["158.69.0.0/16"]);
        assert_eq!(owner.handle, "NET-158-69-0-0-1");
    }
}
