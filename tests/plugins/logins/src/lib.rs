//! Test plugin: raises `credentials.ftp` / `credentials.pop3` findings, with the attributes the
//! `credentials` analyzer will use (`protocol`, `user`, `secret`, `secret_format`), for the `USER` and
//! `PASS` lines a client sent in the payload prefix. It stands in for that analyzer in the tests of
//! the credentials tables (masking, revealing, de-duplication against `cleartext.*`) until it lands.

use pcapxray_plugin_sdk::{Analyzer, Finding, Flow, NoConfig, Outcome, PluginError, Severity};

pub struct Logins;

/// The argument of the first line of `text` whose command is `verb`.
fn argument<'a>(text: &'a str, verb: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let (command, rest) = line.trim_end().split_once(' ')?;
        command.eq_ignore_ascii_case(verb).then_some(rest)
    })
}

impl Analyzer for Logins {
    const NAME: &'static str = "logins";
    const VERSION: &'static str = "0.1.0";
    const DESCRIPTION: &'static str =
        "Reports FTP and POP3 USER/PASS logins with their password (test plugin).";
    type Config = NoConfig;

    fn new(_: NoConfig) -> Result<Logins, PluginError> {
        Ok(Logins)
    }

    fn analyze(&mut self, flows: &[Flow], out: &mut Outcome) -> Result<(), PluginError> {
        for flow in flows.iter().filter(|f| f.is_tcp()) {
            let protocol = match flow.server.port {
                21 => "ftp",
                110 => "pop3",
                _ => continue,
            };
            let text = String::from_utf8_lossy(&flow.to_server.payload);
            let (Some(user), Some(pass)) = (argument(&text, "USER"), argument(&text, "PASS"))
            else {
                continue;
            };
            out.push(
                Finding::on_flow(flow.id, format!("credentials.{protocol}"), Severity::Medium)
                    .summary(format!("{} login of {user}", protocol.to_uppercase()))
                    .attr("protocol", protocol)
                    .attr("user", user)
                    .attr("secret", pass)
                    .attr("secret_format", "cleartext"),
            );
        }
        Ok(())
    }
}

pcapxray_plugin_sdk::export_analyzer!(Logins);
