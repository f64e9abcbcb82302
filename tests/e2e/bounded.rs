//! Bounded plugin state (issue #13): the default pipeline over a capture with more hosts than each
//! plugin keeps one by one (the bounds lowered in the test's own pipeline, so that a small capture
//! crosses them) exits 0, says what each plugin cut and which config key raises it, and its reports
//! still add up: what is listed plus what is counted is what the capture has.

use crate::support::*;
use serde_json::Value;

/// Clients in the capture: each sends one UDP datagram to the same server.
const CLIENTS: u64 = 3000;

/// The default pipeline (its Tor stage pointed at a folder that does not exist) with low bounds.
fn pipeline(missing_consensus: &std::path::Path) -> String {
    let default = std::fs::read_to_string(repo().join("config/pipeline.toml")).unwrap();
    let mut text = default.replace(
        "\"~/.local/share/pcapxray/tor\"",
        &format!("{:?}", missing_consensus.display().to_string()),
    );
    for (plugin, config) in [
        ("devices", "{ max_hosts = 100 }"),
        ("text", "{ max_hosts = 50, max_pairs = 100 }"),
        ("html", "{ max_hosts = 100, diagram_max_hosts = 200 }"),
        ("graph", "{ max_hosts = 200, views = [\"all\"] }"),
    ] {
        let stage = format!("plugin = \"{plugin}\"\n");
        assert_eq!(text.matches(&stage).count(), 1, "one {plugin} stage");
        text = text.replace(&stage, &format!("{stage}config = {config}\n"));
    }
    text
}

/// The number after `label` in `text` (`hosts     3001 with ...`).
fn number_after(text: &str, label: &str) -> u64 {
    let at = text
        .find(label)
        .unwrap_or_else(|| panic!("no `{label}` in:\n{text}"));
    let digits: String = text[at + label.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after `{label}`"))
}

#[test]
fn past_each_plugins_bound_the_run_says_what_was_cut_and_the_reports_still_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("many-hosts.pcap");
    pcapgen::behaviours::udp_many_hosts(CLIENTS as usize)
        .unwrap()
        .write_file(&file)
        .unwrap();
    let pipeline_path = dir.path().join("pipeline.toml");
    std::fs::write(&pipeline_path, pipeline(&dir.path().join("no-consensus"))).unwrap();
    let out_dir = dir.path().join("report");
    let out = command()
        .args([
            "run",
            pipeline_path.to_str().unwrap(),
            file.to_str().unwrap(),
            "-o",
        ])
        .arg(&out_dir)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{log}");
    let read = |name: &str| std::fs::read_to_string(out_dir.join(name)).unwrap();
    let report: Value = serde_json::from_str(&read("report.json")).unwrap();
    // Every client and the server; report.json keeps them all.
    let hosts = CLIENTS + 1;
    assert_eq!(report["hosts"].as_array().unwrap().len() as u64, hosts);

    // devices: a run note with the bound, the host count and what was left out.
    let note = report["notes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["key"] == "devices.host-limit")
        .unwrap_or_else(|| panic!("no devices.host-limit note: {:#}", report["notes"]));
    let attr = |k: &str| {
        note["attributes"][k]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert_eq!(
        (attr("limit"), attr("hosts"), attr("left_out")),
        (100, hosts, hosts - 100)
    );
    assert!(note["message"].as_str().unwrap().contains("max_hosts"));
    // The busiest host, the server, was examined: the clients' MAC is still found to be the gateway.
    let tags: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["tag"].as_str().unwrap())
        .collect();
    assert!(tags.contains(&"device.gateway"), "{tags:?}");

    // text: devices.txt lists 50 hosts and counts the rest; communication.txt 100 pairs.
    // The server only received, so the host table has no MAC address for it.
    let devices = read("devices.txt");
    let with_mac = number_after(&devices, "hosts     ");
    assert_eq!(with_mac, CLIENTS);
    assert!(devices.contains(", 1 without one"), "{devices}");
    let listed = number_after(&devices, "listed    ");
    assert_eq!(listed, 50);
    assert!(devices.contains(&format!("{} more are counted", with_mac - listed)));
    let local = number_after(&devices, "== Local network hosts (");
    let other = number_after(&devices, "== Other hosts (");
    assert_eq!(local + other, listed, "{devices}");
    let communication = read("communication.txt");
    assert_eq!(number_after(&communication, "traffic   "), CLIENTS);
    assert!(
        communication.contains(", 100 host pairs between"),
        "{communication}"
    );
    assert_eq!(number_after(&communication, "not listed "), CLIENTS - 100);
    for key in ["config max_hosts", "config max_pairs"] {
        assert!(log.contains("[text]") && log.contains(key), "{key}: {log}");
    }

    // html: the hosts table says how many it lists of how many; the diagram folds past 200.
    let html = read("report.html");
    assert!(
        html.contains(&format!(
            "The 100 hosts with the most traffic of {hosts} are listed (config max_hosts)"
        )),
        "hosts note"
    );
    assert!(
        log.contains(&format!(
            "[html] The diagrams of report.html draw 200 hosts one by one and fold {} more",
            hosts - 200
        )),
        "{log}"
    );

    // graph: 200 hosts with a node, the rest folded into address blocks; every flow is still on a
    // conversation.
    assert!(
        log.contains(&format!(
            "[graph] The diagrams draw 200 hosts one by one and fold {} more",
            hosts - 200
        )),
        "{log}"
    );
    let classes: Value = serde_json::from_str(&read("graph/classes.json")).unwrap();
    let conversations = classes["conversations"].as_array().unwrap();
    let flows: u64 = conversations
        .iter()
        .map(|c| c["flows"].as_array().unwrap().len() as u64)
        .sum();
    assert_eq!(
        flows + classes["untracked_flows"].as_u64().unwrap(),
        CLIENTS
    );
    assert!(
        conversations
            .iter()
            .any(|c| c["client"].as_str().unwrap().ends_with("/24")),
        "a folded block"
    );
    // The diagram counts the hosts a folded block stands for, not its node.
    assert!(
        log.contains(&format!("graph/all: {CLIENTS} internet hosts drawn as")),
        "{log}"
    );
}
