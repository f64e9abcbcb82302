//! Reverse and forward DNS through hickory-resolver, for stages granted `dns`. Lookups run
//! concurrently (up to the grant's `concurrency`), each bounded by its `timeout_ms`; answers are cached
//! for the run, recorded in the query log, and attached to the hosts they are about.

use super::Session;
use super::queries::QueryLog;
use crate::bindings::CapabilityError;
use crate::bindings::analyzer::pcapxray::plugin::dns;
use crate::bindings::wit;
use crate::config::TomlReader;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{Name, RData};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use std::time::Instant;
use toml::Spanned;
use toml::de::DeValue;

#[derive(Clone, Debug)]
pub struct DnsGrant {
    /// `ip:port` nameservers; empty means the system's resolver configuration.
    pub nameservers: Vec<String>,
    pub timeout_ms: u64,
    pub concurrency: usize,
}

/// `grants.dns`: `true` or `{ nameservers = ["ip:port", ...], timeout_ms, concurrency }`.
pub fn grant_from_toml(r: &mut TomlReader, v: &Spanned<DeValue>, stage: &str) -> Option<DnsGrant> {
    let mut grant = DnsGrant {
        nameservers: Vec::new(),
        timeout_ms: 2000,
        concurrency: 16,
    };
    match v.get_ref() {
        DeValue::Boolean(b) => return b.then_some(grant),
        DeValue::Table(t) => {
            for (key, v) in t.iter() {
                match key.get_ref().as_ref() {
                    "nameservers" => match v.get_ref() {
                        DeValue::Array(items) => {
                            for item in items {
                                if let Some(s) = r.string(item, "grants.dns.nameservers entries") {
                                    if s.parse::<std::net::SocketAddr>().is_err() {
                                        r.err(item.span(), format!("stage `{stage}`: nameserver `{s}` is not ip:port"));
                                    }
                                    grant.nameservers.push(s);
                                }
                            }
                        }
                        _ => r.err(v.span(), "`grants.dns.nameservers` must be an array of \"ip:port\""),
                    },
                    "timeout_ms" => grant.timeout_ms = r.uint(v, "timeout_ms", 1, 60_000).unwrap_or(2000),
                    "concurrency" => grant.concurrency = r.uint(v, "concurrency", 1, 1024).unwrap_or(16) as usize,
                    other => r.err(
                        key.span(),
                        format!("stage `{stage}`: unknown key `{other}` in grants.dns; expected nameservers, timeout_ms, concurrency"),
                    ),
                }
            }
        }
        _ => r.err(
            v.span(),
            format!("stage `{stage}`: `grants.dns` must be true or a table"),
        ),
    }
    Some(grant)
}

/// One stage's resolver.
pub struct Dns {
    runtime: tokio::runtime::Runtime,
    resolver: TokioResolver,
    grant: DnsGrant,
    /// Where queries go, for the query log.
    servers: String,
    reverse_cache: HashMap<IpAddr, Result<Vec<String>, CapabilityError>>,
    forward_cache: HashMap<String, Result<Vec<IpAddr>, CapabilityError>>,
}

impl Dns {
    pub fn new(grant: &DnsGrant) -> Result<Dns, CapabilityError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| CapabilityError::Other(format!("cannot start the DNS runtime: {e}")))?;
        let (config, servers) = if grant.nameservers.is_empty() {
            let (config, _) = hickory_resolver::system_conf::read_system_conf().map_err(|e| {
                CapabilityError::Other(format!(
                    "cannot read the system's resolver configuration: {e}"
                ))
            })?;
            let servers = config
                .name_servers
                .iter()
                .map(|s| s.ip.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            (config, servers)
        } else {
            let mut list = Vec::new();
            for server in &grant.nameservers {
                let addr: SocketAddr = server.parse().map_err(|_| {
                    CapabilityError::Other(format!("nameserver `{server}` is not ip:port"))
                })?;
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                list.push(NameServerConfig::new(addr.ip(), true, vec![udp, tcp]));
            }
            (
                ResolverConfig::from_name_servers(list),
                grant.nameservers.join(", "),
            )
        };
        let mut builder =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
        let opts = builder.options_mut();
        opts.timeout = Duration::from_millis(grant.timeout_ms);
        opts.attempts = 1;
        opts.num_concurrent_reqs = grant.concurrency.max(1);
        let resolver = {
            let _guard = runtime.enter();
            builder.build().map_err(|e| {
                CapabilityError::Other(format!("cannot build the DNS resolver: {e}"))
            })?
        };
        Ok(Dns {
            runtime,
            resolver,
            grant: grant.clone(),
            servers,
            reverse_cache: HashMap::new(),
            forward_cache: HashMap::new(),
        })
    }

    /// PTR lookups, concurrently; one result per address.
    pub fn reverse(
        &mut self,
        stage: &str,
        ips: &[IpAddr],
        log: &QueryLog,
    ) -> Vec<Result<Vec<String>, CapabilityError>> {
        let todo: Vec<IpAddr> = unique(
            ips.iter()
                .filter(|ip| !self.reverse_cache.contains_key(ip))
                .copied(),
        );
        let resolver = &self.resolver;
        let timeout = Duration::from_millis(self.grant.timeout_ms);
        let answers = self.runtime.block_on(bounded(
            self.grant.concurrency,
            todo.iter().map(|ip| async move {
                let name = Name::from(*ip);
                match tokio::time::timeout(timeout, resolver.reverse_lookup(name)).await {
                    Err(_) => Err(CapabilityError::Timeout(format!(
                        "no PTR answer for {ip} within {timeout:?}"
                    ))),
                    Ok(Err(e)) => Err(lookup_error(&ip.to_string(), &e.to_string())),
                    Ok(Ok(lookup)) => Ok(lookup
                        .answers()
                        .iter()
                        .filter_map(|r| match &r.data {
                            RData::PTR(ptr) => {
                                Some(ptr.0.to_utf8().trim_end_matches('.').to_string())
                            }
                            _ => None,
                        })
                        .collect::<Vec<_>>()),
                }
            }),
        ));
        for (ip, answer) in todo.iter().zip(answers) {
            log.record(
                stage,
                "dns.reverse",
                &ip.to_string(),
                &self.servers,
                &describe(&answer),
            );
            self.reverse_cache.insert(*ip, answer);
        }
        ips.iter()
            .map(|ip| self.reverse_cache[ip].clone())
            .collect()
    }

    /// A and AAAA lookups, concurrently; one result per name.
    pub fn forward(
        &mut self,
        stage: &str,
        names: &[String],
        log: &QueryLog,
    ) -> Vec<Result<Vec<IpAddr>, CapabilityError>> {
        let todo: Vec<String> = unique(
            names
                .iter()
                .filter(|n| !self.forward_cache.contains_key(*n))
                .cloned(),
        );
        let resolver = &self.resolver;
        let timeout = Duration::from_millis(self.grant.timeout_ms);
        let answers = self.runtime.block_on(bounded(
            self.grant.concurrency,
            todo.iter().map(|name| async move {
                match tokio::time::timeout(timeout, resolver.lookup_ip(name.as_str())).await {
                    Err(_) => Err(CapabilityError::Timeout(format!(
                        "no answer for {name} within {timeout:?}"
                    ))),
                    Ok(Err(e)) => Err(lookup_error(name, &e.to_string())),
                    Ok(Ok(lookup)) => Ok(lookup.iter().collect::<Vec<IpAddr>>()),
                }
            }),
        ));
        for (name, answer) in todo.iter().zip(answers) {
            let text = match &answer {
                Ok(ips) => ips
                    .iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                Err(e) => error_text(e),
            };
            log.record(stage, "dns.forward", name, &self.servers, &text);
            self.forward_cache.insert(name.clone(), answer);
        }
        names
            .iter()
            .map(|n| self.forward_cache[n].clone())
            .collect()
    }
}

/// Runs futures with at most `limit` in flight, keeping their order.
async fn bounded<F: std::future::Future>(
    limit: usize,
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let futures: Vec<F> = futures.collect();
    let mut out = Vec::with_capacity(futures.len());
    let mut pending = futures.into_iter();
    loop {
        let chunk: Vec<F> = pending.by_ref().take(limit.max(1)).collect();
        if chunk.is_empty() {
            break;
        }
        let handles: Vec<_> = chunk.into_iter().map(Box::pin).collect();
        for h in join_all(handles).await {
            out.push(h);
        }
    }
    out
}

/// Polls all futures to completion concurrently (a small `join_all`, to avoid another dependency).
async fn join_all<F: std::future::Future + Unpin>(mut futures: Vec<F>) -> Vec<F::Output> {
    let mut results: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, f) in futures.iter_mut().enumerate() {
            if results[i].is_none() {
                match std::pin::Pin::new(f).poll(cx) {
                    std::task::Poll::Ready(v) => results[i] = Some(v),
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    results
        .into_iter()
        .map(|r| r.expect("every future finished"))
        .collect()
}

/// The distinct items, in first-seen order.
pub fn unique<T: Eq + std::hash::Hash + Clone>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut seen = std::collections::HashSet::new();
    items.filter(|i| seen.insert(i.clone())).collect()
}

fn lookup_error(query: &str, error: &str) -> CapabilityError {
    if error.contains("no record")
        || error.contains("NXDomain")
        || error.contains("no records found")
    {
        CapabilityError::NotFound(format!("{query}: no record"))
    } else {
        CapabilityError::Other(format!("{query}: {error}"))
    }
}

fn describe(answer: &Result<Vec<String>, CapabilityError>) -> String {
    match answer {
        Ok(names) if names.is_empty() => "no PTR record".into(),
        Ok(names) => names.join(", "),
        Err(e) => error_text(e),
    }
}

pub fn error_text(e: &CapabilityError) -> String {
    match e {
        CapabilityError::NotGranted(m)
        | CapabilityError::Denied(m)
        | CapabilityError::NotFound(m)
        | CapabilityError::Timeout(m)
        | CapabilityError::Other(m) => m.clone(),
    }
}

impl dns::Host for Session {
    fn reverse(&mut self, ips: Vec<wit::IpAddress>) -> Vec<Result<Vec<String>, CapabilityError>> {
        let ips: Vec<IpAddr> = ips.into_iter().map(crate::bindings::ip_from_wit).collect();
        let started = Instant::now();
        let answers = match self.dns_service("for reverse DNS lookups") {
            Err(e) => return ips.iter().map(|_| Err(e.clone())).collect(),
            Ok(()) => {
                let (stage, services) = (self.stage.clone(), self.services.clone());
                match self.dns.as_mut() {
                    Some(Ok(dns)) => dns.reverse(&stage, &ips, &services.queries),
                    _ => unreachable!("checked by dns_service"),
                }
            }
        };
        self.host_time += started.elapsed();
        for (ip, answer) in ips.iter().zip(&answers) {
            if let Ok(names) = answer {
                for name in names {
                    self.note(*ip, "name", name);
                    self.note(*ip, "dns.ptr", name);
                }
            }
        }
        answers
    }

    fn forward(&mut self, names: Vec<String>) -> Vec<Result<Vec<wit::IpAddress>, CapabilityError>> {
        let started = Instant::now();
        let answers = match self.dns_service("for DNS lookups") {
            Err(e) => return names.iter().map(|_| Err(e.clone())).collect(),
            Ok(()) => {
                let (stage, services) = (self.stage.clone(), self.services.clone());
                match self.dns.as_mut() {
                    Some(Ok(dns)) => dns.forward(&stage, &names, &services.queries),
                    _ => unreachable!("checked by dns_service"),
                }
            }
        };
        self.host_time += started.elapsed();
        answers
            .into_iter()
            .map(|r| r.map(|ips| ips.into_iter().map(crate::bindings::ip_to_wit).collect()))
            .collect()
    }
}

impl Session {
    /// The stage's resolver, created on first use; a refusal when `dns` is not granted.
    fn dns_service(&mut self, what: &str) -> Result<(), CapabilityError> {
        let Some(grant) = &self.grants.dns else {
            return Err(super::not_granted(&self.stage, "dns", what));
        };
        let dns = self.dns.get_or_insert_with(|| super::dns::Dns::new(grant));
        dns.as_ref().map(|_| ()).map_err(Clone::clone)
    }
}
