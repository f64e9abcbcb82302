//! What a person sees in the case page's views, found wanting by a new user's trial of the web
//! interface (issue 14): findings about a host (an ARP sweep has no flow) vanished from their own
//! view and from the timeline; a time range dropped the hosts seen only in ARP and their findings;
//! the web table left QUIC out; the findings filter did not match severity words; the search box
//! needed one spelling of an address or MAC and ended its list with "null"; internet hosts showed
//! the gateway's MAC as their own.

use super::*;

fn views(
    url: &str,
    states: &[&str],
    searches: &[&str],
    filter: Option<&str>,
    report_html: bool,
) -> Value {
    let states = serde_json::to_string(states).unwrap();
    let searches = serde_json::to_string(searches).unwrap();
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "--case".as_ref(),
        url.as_ref(),
        "--states".as_ref(),
        states.as_ref(),
        "--searches".as_ref(),
        searches.as_ref(),
    ];
    if let Some(word) = filter {
        args.push("--filter-findings".as_ref());
        args.push(word.as_ref());
    }
    if report_html {
        args.push("--report-html".as_ref());
        args.push("1".as_ref());
    }
    let r = drive("views.mjs", &args);
    assert!(r["consoleErrors"].as_array().unwrap().is_empty(), "{r}");
    r
}

fn report_of(server: &Server, id: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(server.data.join(id).join("report/report.json")).unwrap(),
    )
    .unwrap()
}

fn texts(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn host_findings_time_ranges_quic_severity_words_and_search_spellings_show_what_the_report_holds() {
    let server = Server::start(&[]);
    // The ARP sweep: a finding about 192.168.1.71, on no flow.
    let nmap = server.upload_capture(&testdata("nmap_host_discovery_arp_sweep.pcap"));
    server.wait_done(&nmap, Duration::from_secs(120));
    let report = report_of(&server, &nmap);
    let sweep: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["tag"] == "behaviour.arp-sweep")
        .collect();
    assert_eq!(sweep.len(), 1);
    assert_eq!(sweep[0]["subject"]["host"], "192.168.1.71");
    let url = format!("http://{}/cases/{nmap}", server.addr);
    let r = views(
        &url,
        &["view=tag:behaviour.arp-sweep"],
        &[],
        Some("medium"),
        false,
    );
    let own = &r["states"][0];
    assert_eq!(texts(&own["findingTags"]), ["behaviour.arp-sweep"], "{own}");
    assert!(
        texts(&own["hosts"]).contains(&"192.168.1.71".to_string()),
        "{own}"
    );
    assert!(
        own["timeline"]
            .as_str()
            .unwrap()
            .ends_with("Marks: 1 findings above info."),
        "{own}"
    );
    // The findings filter matches the severity word shown: every medium finding is found by it
    // (a row of another severity may mention the word too).
    let medium = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .chain(
            report["flows"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|f| f["findings"].as_array().unwrap()),
        )
        .filter(|f| f["severity"] == "medium" && f["rollup"] != true)
        .count();
    let filtered = &r["filtered"];
    assert!(
        medium > 0 && medium <= 50,
        "{medium}: one page of the table"
    );
    let shown = texts(&filtered["severities"])
        .iter()
        .filter(|s| *s == "medium")
        .count();
    assert_eq!(shown, medium, "{filtered}");

    // A time range covering the whole capture keeps every host and finding, ARP-only ones too.
    let wiki = server.upload_capture(&testdata("http_wikipedia_browsing.pcap"));
    server.wait_done(&wiki, Duration::from_secs(120));
    let report = report_of(&server, &wiki);
    let hosts = report["hosts"].as_array().unwrap();
    let gateway = hosts
        .iter()
        .find(|h| {
            h["notes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["key"] == "device" && n["value"] == "gateway")
        })
        .expect("the wikipedia capture's gateway");
    let gateway_ip = gateway["ip"].as_str().unwrap();
    let gateway_mac = gateway["macs"][0].as_str().unwrap();
    // Hosts beyond the LAN carry the gateway's MAC in report.json: the page says whose it is.
    let beyond: Vec<&str> = hosts
        .iter()
        .filter(|h| {
            h["macs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m == gateway_mac)
                && h["ip"] != gateway_ip
                && h["class"] == "public"
        })
        .map(|h| h["ip"].as_str().unwrap())
        .collect();
    assert!(!beyond.is_empty());
    let fe80 = hosts
        .iter()
        .map(|h| h["ip"].as_str().unwrap())
        .find(|ip| ip.starts_with("fe80::"))
        .expect("a link-local IPv6 host");
    let long_fe80 = fe80.replacen("::", ":0:0:0:", 1);
    let dotted = {
        let d: String = gateway_mac.chars().filter(|c| *c != ':').collect();
        format!("{}.{}.{}", &d[0..4], &d[4..8], &d[8..12])
    };
    let prefix = "141.142.220";
    let with_prefix = hosts
        .iter()
        .filter(|h| h["ip"].as_str().unwrap().starts_with("141.142.220."))
        .count();
    assert!(with_prefix > 1);
    let url = format!("http://{}/cases/{wiki}", server.addr);
    let r = views(
        &url,
        &[
            "view=all",
            "view=all&time=2011-03-01T00:00:00.000000Z/2011-03-31T00:00:00.000000Z",
        ],
        &[gateway_mac, &dotted, &long_fe80, prefix],
        None,
        false,
    );
    let (all, ranged) = (&r["states"][0], &r["states"][1]);
    let (_, hosts_all, findings_all) = summary_counts(all["summary"].as_str().unwrap());
    let (_, hosts_ranged, findings_ranged) = summary_counts(ranged["summary"].as_str().unwrap());
    assert_eq!(hosts_all, hosts.len() as u64, "{all}");
    assert_eq!(
        (hosts_ranged, findings_ranged),
        (hosts_all, findings_all),
        "{r}"
    );
    // The hosts table: the gateway's MAC is its own; the internet hosts' is the next hop's.
    let table_hosts = texts(&all["hosts"]);
    let macs = texts(&all["hostMacs"]);
    for (ip, mac) in table_hosts.iter().zip(&macs) {
        if ip == gateway_ip {
            assert!(mac.starts_with(gateway_mac), "{ip}: {mac}");
        } else if beyond.contains(&ip.as_str()) {
            assert!(
                mac.starts_with(&format!("via {gateway_mac} (next hop)")),
                "{ip}: {mac}"
            );
        }
    }
    // Search: the gateway's MAC in two spellings finds the gateway alone, a long IPv6 spelling its
    // host, a prefix every host under it, and no list ends in "null".
    let searches = r["searches"].as_array().unwrap();
    let found = |i: usize| searches[i]["text"].as_str().unwrap().to_string();
    assert_eq!(found(0), format!("Found {gateway_ip}."));
    assert_eq!(found(1), format!("Found {gateway_ip}."));
    assert_eq!(found(2), format!("Found {fe80}."));
    assert!(
        found(3).starts_with(&format!("{with_prefix} hosts match: ")),
        "{}",
        found(3)
    );
    assert!(
        searches
            .iter()
            .all(|s| !s["text"].as_str().unwrap().contains("null")),
        "{r}"
    );
    // QUIC sessions are web transactions: every QUIC server name is in the web table.
    let mixed = server.upload_capture(&testdata("mixed_pcapxray_malicious_traffic.pcap"));
    server.wait_done(&mixed, Duration::from_secs(120));
    let report = report_of(&server, &mixed);
    let quic: std::collections::BTreeSet<String> = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["findings"].as_array().unwrap())
        .filter(|x| x["tag"] == "web.quic")
        .filter_map(|x| x["attributes"]["tls.sni"].as_str().map(String::from))
        .collect();
    assert!(quic.len() >= 4, "{quic:?}");
    let url = format!("http://{}/cases/{mixed}", server.addr);
    let r = views(&url, &["view=all"], &[], None, true);
    // Its report.html, opened from the server, sorts its tables: its own script runs in the
    // sandbox (allowed by its hash), and the console shows no refusal.
    assert_eq!(r["reportHtml"]["before"], Value::Null, "{r}");
    assert_eq!(r["reportHtml"]["after"], "ascending", "{r}");
    let names: std::collections::BTreeSet<String> =
        texts(&r["states"][0]["webNames"]).into_iter().collect();
    assert!(quic.is_subset(&names), "{quic:?} not all in {names:?}");
}
