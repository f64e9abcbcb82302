//! One credential, whatever carried it, and the rule that turns it into one finding: tag
//! `credentials.<protocol>` on the flow that carried it, the attribute names of
//! [`pcapxray_plugin_sdk::credentials`], Low when a password crossed the network readably and Info
//! when only a hash, a challenge-response or a user name did. The same credential sent again in the
//! same flow (same user, secret and service) is counted on the first one, not repeated.

use pcapxray_plugin_sdk::credentials::{self as names, format};
use pcapxray_plugin_sdk::{Finding, FlowId, Severity};

/// What the server said about a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Outcome {
    Accepted,
    Rejected,
    #[default]
    Unknown,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Rejected => "rejected",
            Outcome::Unknown => "unknown",
        }
    }
}

/// A credential read from a stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cred {
    /// `ftp`, `pop3`, `imap`, `smtp`, `telnet`, `http-basic`, `http-digest`, `http-form`, `ntlm`,
    /// `kerberos`.
    pub protocol: &'static str,
    /// How it was sent, in a word or two for the summary: `USER/PASS`, `AUTH PLAIN`, `SMB2`, ...
    pub method: String,
    pub user: String,
    pub domain: Option<String>,
    pub workstation: Option<String>,
    /// The password or the crackable line; empty when none could be read.
    pub secret: String,
    /// One of [`format`].
    pub secret_format: &'static str,
    pub service: Option<String>,
    pub outcome: Outcome,
    /// Times sent in the flow.
    pub count: u32,
}

impl Cred {
    /// A credential with no secret yet.
    pub fn new(protocol: &'static str, method: impl Into<String>, user: impl Into<String>) -> Cred {
        Cred {
            protocol,
            method: method.into(),
            user: user.into(),
            secret_format: format::NONE,
            count: 1,
            ..Cred::default()
        }
    }

    /// Sets a cleartext password.
    pub fn password(self, password: impl Into<String>) -> Cred {
        self.secret(password, format::CLEARTEXT)
    }

    pub fn secret(mut self, secret: impl Into<String>, secret_format: &'static str) -> Cred {
        self.secret = secret.into();
        self.secret_format = secret_format;
        self
    }

    pub fn service(mut self, service: impl Into<String>) -> Cred {
        self.service = Some(service.into());
        self
    }

    /// Whether `other` is the same credential sent again.
    fn same(&self, other: &Cred) -> bool {
        self.protocol == other.protocol
            && self.user == other.user
            && self.domain == other.domain
            && self.secret == other.secret
            && self.service == other.service
    }

    /// The finding on `flow`.
    pub fn finding(&self, flow: FlowId) -> Finding {
        let cleartext = self.secret_format == format::CLEARTEXT;
        let severity = if cleartext {
            Severity::Low
        } else {
            Severity::Info
        };
        let mut f = Finding::on_flow(flow, format!("{}.{}", names::TAG, self.protocol), severity)
            .summary(self.summary())
            .attr(names::PROTOCOL, self.protocol)
            .attr(names::USER, self.user.as_str());
        for (key, value) in [
            (names::DOMAIN, &self.domain),
            (names::WORKSTATION, &self.workstation),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                f = f.attr(key, v);
            }
        }
        if !self.secret.is_empty() {
            f = f.attr(names::SECRET, self.secret.as_str());
        }
        f = f.attr(names::SECRET_FORMAT, self.secret_format);
        if let Some(service) = &self.service {
            f = f.attr(names::SERVICE, service.as_str());
        }
        f.attr(names::OUTCOME, self.outcome.as_str())
            .attr(names::COUNT, self.count.to_string())
            .attr(names::METHOD, self.method.as_str())
    }

    /// One line naming the user, the protocol, the service and what was readable; never the secret,
    /// so a summary can be shown where secrets are masked.
    fn summary(&self) -> String {
        let who = match self.domain.as_deref().filter(|d| !d.is_empty()) {
            Some(d) => format!("{d}\\{}", self.user),
            None => self.user.clone(),
        };
        let what = match self.secret_format {
            format::CLEARTEXT => "password in clear text",
            format::NONE => "user name only",
            _ => "crackable hash",
        };
        let to = self
            .service
            .as_deref()
            .map(|s| format!(" for {s}"))
            .unwrap_or_default();
        let times = if self.count > 1 {
            format!(", sent {} times", self.count)
        } else {
            String::new()
        };
        format!(
            "{} {} credentials of {who}{to}: {what}, {}{times}",
            self.protocol,
            self.method,
            self.outcome.as_str()
        )
    }
}

/// The credentials of one flow, repeats counted.
#[derive(Debug, Default)]
pub struct Found {
    pub creds: Vec<Cred>,
}

/// Distinct credentials kept per flow; more are counted on the last one (a brute force of a million
/// passwords is `behaviour`'s finding, not a million of these).
pub const MAX_PER_FLOW: usize = 256;

impl Found {
    /// Adds a credential, or counts it on the same one seen before; returns its index.
    pub fn add(&mut self, cred: Cred) -> usize {
        if let Some(i) = self.creds.iter().position(|c| c.same(&cred)) {
            self.creds[i].count += 1;
            if cred.outcome != Outcome::Unknown {
                self.creds[i].outcome = cred.outcome;
            }
            return i;
        }
        if self.creds.len() >= MAX_PER_FLOW {
            let last = self.creds.len() - 1;
            self.creds[last].count += 1;
            return last;
        }
        self.creds.push(cred);
        self.creds.len() - 1
    }

    /// Sets the outcome of credential `i` (a later reply wins: the last attempt decides).
    pub fn outcome(&mut self, i: usize, outcome: Outcome) {
        if let Some(c) = self.creds.get_mut(i) {
            c.outcome = outcome;
        }
    }
}
