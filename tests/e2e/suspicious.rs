//! The `suspicious` analyzer on the ancestor's own example capture: it flags what it can give reasons
//! for, says which reasons, and leaves named web traffic alone — where PcapXray called 16 of the 18
//! sessions of this capture malicious. Also: intel lists and a port registry read through a granted
//! `files` capability, and the refusal when the grant is missing.

use crate::support::*;
use serde_json::Value;
use std::collections::HashMap;

const MIXED: &str = "mixed_pcapxray_malicious_traffic.pcap";

const WEB_SUSPICIOUS: &str = "[[analyzer]]\nplugin = \"web\"\n[[analyzer]]\nplugin = \"suspicious\"\n[[output]]\nplugin = \"json\"\n";

const NO_NAME: &str = "no DNS answer, SNI or Host name in the capture; reverse DNS not granted";

/// `tcp 192.168.0.6:63249 -> 216.165.2.56:9001` for each flow id.
fn endpoints(report: &Value) -> HashMap<u64, (String, u16, String)> {
    report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_u64().unwrap(),
                (
                    f["protocol"].as_str().unwrap().to_string(),
                    f["server"]["port"].as_u64().unwrap() as u16,
                    f["server"]["ip"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect()
}

/// The `suspicious` findings by (protocol, server ip, server port).
fn flagged(report: &Value) -> Vec<((String, String, u16), Value)> {
    let flows = endpoints(report);
    all_findings(report)
        .into_iter()
        .filter(|f| f["tag"] == "suspicious" && f["stage"] == "suspicious")
        .map(|f| {
            let id = f["subject"]["flow"].as_u64().expect("a flow finding");
            let (protocol, port, ip) = flows[&id].clone();
            ((protocol, ip, port), f["attributes"].clone())
        })
        .collect()
}

#[test]
fn web_flows_with_names_and_sessions_begun_before_the_capture_pass_the_tor_relay_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_pipeline(dir.path(), WEB_SUSPICIOUS, &testdata(MIXED));
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report = run.report();
    let flagged = flagged(&report);

    // Web flows whose server the capture named (SNI) are not flagged.
    let named_servers: Vec<String> = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["tag"] == "web.https" && x["attributes"]["tls.sni"].is_string())
        })
        .map(|f| f["server"]["ip"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(named_servers.len(), 3, "mail, accounts and www.googleapis");
    for ip in &named_servers {
        assert!(
            flagged
                .iter()
                .all(|((proto, server, _), _)| !(proto == "tcp" && server == ip)),
            "the web flow to {ip} has a name and must not be flagged"
        );
    }

    // The Tor relay on 9001: a registered port (IANA: etlservicemgr), so the reason is the missing name.
    let tor: Vec<&Value> = flagged
        .iter()
        .filter(|(k, _)| *k == ("tcp".to_string(), "216.165.2.56".to_string(), 9001))
        .map(|(_, a)| a)
        .collect();
    // One roll-up: the same client, server and reasons.
    assert_eq!(tor.len(), 1, "one roll-up for 216.165.2.56:9001");
    let rolled = all_findings(&report)
        .into_iter()
        .find(|f| f["tag"] == "suspicious" && f["attributes"]["peer"] == "216.165.2.56")
        .unwrap();
    assert_eq!(
        occurrences(rolled),
        2,
        "two connections to 216.165.2.56:9001"
    );
    assert_eq!(rolled["flows"].as_array().unwrap().len(), 2);
    for a in tor {
        assert_eq!(a["reason.unnamed"], NO_NAME);
        assert_eq!(a["port.service"], "9001/tcp is registered as etlservicemgr");
        assert!(a.get("reason.port").is_none());
        assert_eq!(a["score"], "0.30");
        assert_eq!(a["peer"], "216.165.2.56");
        assert_eq!(
            a["reasons"],
            format!("peer 216.165.2.56 has no name ({NO_NAME})")
        );
    }

    // The 5228 flow (Google's push channel) began before the capture (no SYN in either direction):
    // its missing name is no evidence, so it is not flagged (#10; it used to be a Low).
    let push: Vec<&Value> = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["protocol"] == "tcp" && f["server"]["port"] == 5228)
        .collect();
    assert_eq!(push.len(), 1);
    let syn = |d: &Value| d["tcp_flags"].as_u64().unwrap() & 0x02 != 0;
    assert!(!syn(&push[0]["to_server"]) && !syn(&push[0]["to_client"]));
    assert!(
        flagged
            .iter()
            .all(|((proto, _, port), _)| !(proto == "tcp" && *port == 5228))
    );

    // Every port in this capture is registered, and DNS to the resolver is not a reason.
    assert!(flagged.iter().all(|(_, a)| a.get("reason.port").is_none()));
    assert!(flagged.iter().all(|((_, _, port), _)| *port != 53));
    assert!(
        run.all_output()
            .contains("reverse DNS is not granted to this stage"),
        "{}",
        run.all_output()
    );
}

#[test]
fn intel_lists_and_a_newer_port_registry_are_read_through_granted_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let intel = data.join("intel.txt");
    std::fs::write(&intel, "# test list\n216.165.2.56 tor relay\n").unwrap();
    // A registry that does not know 9001.
    let ports = data.join("ports.csv");
    std::fs::write(
        &ports,
        "Service Name,Port Number,Transport Protocol,Description\nhttps,443,,HTTPS\nhttp,80,tcp,\"World Wide Web, HTTP\"\n",
    )
    .unwrap();
    let pipeline = format!(
        "[[analyzer]]\nplugin = \"web\"\n[[analyzer]]\nplugin = \"suspicious\"\n\
         config = {{ intel = [{intel:?}], ports_file = {ports:?} }}\n\
         grants = {{ files = [{data:?}] }}\n[[output]]\nplugin = \"json\"\n",
        intel = intel.to_str().unwrap(),
        ports = ports.to_str().unwrap(),
        data = data.to_str().unwrap(),
    );
    let run = run_pipeline(dir.path(), &pipeline, &testdata(MIXED));
    assert_eq!(run.code, 0, "{}", run.all_output());
    let flagged = flagged(&run.report());
    let tor = flagged
        .iter()
        .find(|(k, _)| *k == ("tcp".to_string(), "216.165.2.56".to_string(), 9001))
        .map(|(_, a)| a)
        .unwrap();
    assert_eq!(
        tor["reason.intel"],
        format!(
            "216.165.2.56 is listed in {} line 2 (tor relay)",
            intel.display()
        )
    );
    assert_eq!(tor["reason.port"], "9001/tcp is not in the IANA registry");
    assert_eq!(tor["reason.unnamed"], NO_NAME);
    assert_eq!(tor["score"], "0.96");
    assert_eq!(tor["intel.line"], "2");
}

#[test]
fn an_intel_list_without_a_files_grant_is_refused_with_a_message_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let intel = dir.path().join("intel.txt");
    std::fs::write(&intel, "216.165.2.56\n").unwrap();
    let pipeline = format!(
        "[[analyzer]]\nplugin = \"suspicious\"\nconfig = {{ intel = [{:?}] }}\n[[output]]\nplugin = \"json\"\n",
        intel.to_str().unwrap()
    );
    let run = run_pipeline(dir.path(), &pipeline, &testdata(MIXED));
    assert_eq!(run.code, 1, "{}", run.all_output());
    let output = run.all_output();
    assert!(output.contains("intel.0"), "{output}");
    assert!(
        output.contains("does not grant this stage the `files` capability"),
        "{output}"
    );
}
