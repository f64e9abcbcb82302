//! The timeline, the tables and evidence out (issue 14, points 3, 4 and 5), driven in Chromium by
//! tests/browser/evidence.mjs and checked here against report.json (counted independently of the
//! page) and tshark (what Wireshark's dissectors find in the original capture and in the cut files).

use super::*;
use std::collections::BTreeSet;
use std::process::Command;

/// Microseconds since the epoch of a report time (`2011-03-18T19:06:07.096535Z`), by `date`'s rules:
/// days from the civil date, then the clock.
fn micros(text: &str) -> u64 {
    let (date, clock) = text.trim_end_matches('Z').split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
    let (whole, frac) = clock.split_once('.').unwrap_or((clock, "0"));
    let c: Vec<u64> = whole.split(':').map(|p| p.parse().unwrap()).collect();
    let frac: String = frac.chars().chain("000000".chars()).take(6).collect();
    // Days before the month in a non-leap year, plus the leap days before this date.
    const BEFORE: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let (y, m, day) = (d[0], d[1], d[2]);
    let leaps_before = |y: i64| (y - 1) / 4 - (y - 1) / 100 + (y - 1) / 400;
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = (y - 1970) * 365 + leaps_before(y) - leaps_before(1970)
        + BEFORE[(m - 1) as usize]
        + i64::from(leap && m > 2)
        + day
        - 1;
    (days as u64 * 86_400 + c[0] * 3600 + c[1] * 60 + c[2]) * 1_000_000
        + frac.parse::<u64>().unwrap()
}

fn packets(flow: &Value) -> u64 {
    flow["to_server"]["packets"].as_u64().unwrap() + flow["to_client"]["packets"].as_u64().unwrap()
}

/// The ids of the report's flows active at some moment of [from, to] (microseconds).
fn flows_active(report: &Value, from: u64, to: u64) -> BTreeSet<u64> {
    report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            let (start, end) = (
                micros(f["start"].as_str().unwrap()),
                micros(f["end"].as_str().unwrap()),
            );
            end >= from && start <= to
        })
        .map(|f| f["id"].as_u64().unwrap())
        .collect()
}

/// The leading count of a table counter or summary: "10 of 34 flows" → 10.
fn leading(text: &Value) -> u64 {
    let text = text.as_str().unwrap();
    text.split(' ')
        .next()
        .unwrap()
        .replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("no count in {text:?}"))
}

/// tshark's count of the frames of `capture` that match `filter` (every frame when empty).
fn tshark_count(capture: &Path, filter: &str) -> usize {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n")
        .arg("-r")
        .arg(capture)
        .args(["-T", "fields", "-e", "frame.number"]);
    if !filter.is_empty() {
        cmd.args(["-Y", filter]);
    }
    let out = cmd.output().expect(
        "tshark is not on PATH: install Debian's tshark (CI does); the pcap downloads are checked with it",
    );
    assert!(
        out.status.success(),
        "tshark {filter}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn the_timeline_filters_every_table_and_pcaps_of_a_flow_a_host_and_the_view_hold_exactly_their_packets()
 {
    let server = Server::start(&[]);
    let capture = testdata("http_wikipedia_browsing.pcap");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-evidence");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let host = "141.142.2.2";
    let r = drive(
        "evidence.mjs",
        &[
            "--url".as_ref(),
            server.url("/").as_ref(),
            "--capture".as_ref(),
            capture.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
            "--host".as_ref(),
            host.as_ref(),
        ],
    );
    assert!(r["consoleErrors"].as_array().unwrap().is_empty(), "{r}");
    let id = r["caseUrl"].as_str().unwrap().rsplit('/').next().unwrap();
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(server.data.join(id).join("report/report.json")).unwrap(),
    )
    .unwrap();
    let flows = report["flows"].as_array().unwrap();
    // The page read the server's compact model of report.json, made when the analysis ended.
    let model: Value = serde_json::from_str(
        &std::fs::read_to_string(server.data.join(id).join("explore.json")).unwrap(),
    )
    .unwrap();
    // Its flows are columns (format pcapxray-explore-6): the id column lists report.json's flows.
    assert_eq!(model["format"], "pcapxray-explore-6");
    let ids: Vec<&Value> = flows.iter().map(|f| &f["id"]).collect();
    let model_ids: Vec<&Value> = model["flows"]["id"].as_array().unwrap().iter().collect();
    assert_eq!(model_ids, ids);

    // The whole capture: 120 bars, nothing shaded, every flow.
    assert_eq!(r["whole"]["bars"], 120, "{r}");
    assert_eq!(r["whole"]["shaded"], "hidden", "{r}");
    assert_eq!(leading(&r["whole"]["flows"]), flows.len() as u64, "{r}");

    // A dragged range keeps exactly the flows active in it, in the summary and in every table.
    let dragged = &r["dragged"];
    let (from, to) = (
        micros(dragged["timeFrom"].as_str().unwrap()),
        micros(dragged["timeTo"].as_str().unwrap()),
    );
    let capture_span = (
        micros(report["capture"]["first_packet"].as_str().unwrap()),
        micros(report["capture"]["last_packet"].as_str().unwrap()),
    );
    assert!(
        capture_span.0 < from && from < to && to < capture_span.1,
        "{dragged}"
    );
    let active = flows_active(&report, from, to);
    assert!(
        !active.is_empty() && active.len() < flows.len(),
        "{active:?}"
    );
    assert_eq!(
        leading(&dragged["summary"]),
        active.len() as u64,
        "{dragged}"
    );
    assert_eq!(leading(&dragged["flows"]), active.len() as u64, "{dragged}");
    assert_eq!(dragged["shaded"], "visible", "{dragged}");
    // Its hosts: the ends of those flows, and the hosts active in the range without one (seen only
    // in ARP, say), by their first and last packet.
    let (from, to) = (
        micros(dragged["timeFrom"].as_str().unwrap()),
        micros(dragged["timeTo"].as_str().unwrap()),
    );
    let mut ends: BTreeSet<&str> = flows
        .iter()
        .filter(|f| active.contains(&f["id"].as_u64().unwrap()))
        .flat_map(|f| {
            [
                f["client"]["ip"].as_str().unwrap(),
                f["server"]["ip"].as_str().unwrap(),
            ]
        })
        .collect();
    let flow_ends = ends.len();
    ends.extend(
        report["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| {
                micros(h["last_seen"].as_str().unwrap()) >= from
                    && micros(h["first_seen"].as_str().unwrap()) <= to
            })
            .map(|h| h["ip"].as_str().unwrap()),
    );
    assert!(
        ends.len() > flow_ends,
        "the range holds a host without a flow in it"
    );
    assert_eq!(leading(&dragged["hosts"]), ends.len() as u64, "{dragged}");
    let shown: BTreeSet<u64> = r["viewFlowIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(shown, active);

    // The link reopens the same picture.
    for key in [
        "timeFrom", "timeTo", "summary", "flows", "hosts", "findings", "shaded",
    ] {
        assert_eq!(r["reopened"][key], dragged[key], "{key}: {r}");
    }
    assert!(r["link"].as_str().unwrap().contains("time="), "{r}");

    // Pressing a bar chooses its slice of time.
    let bar = &r["bar"];
    let (t0, t1): (u64, u64) = (
        bar["t0"].as_str().unwrap().parse().unwrap(),
        bar["t1"].as_str().unwrap().parse().unwrap(),
    );
    assert_eq!(micros(bar["timeFrom"].as_str().unwrap()), t0, "{bar}");
    assert_eq!(micros(bar["timeTo"].as_str().unwrap()), t1, "{bar}");
    assert_eq!(
        leading(&bar["flows"]),
        flows_active(&report, t0, t1).len() as u64,
        "{bar}"
    );
    assert_eq!(leading(&r["cleared"]["flows"]), flows.len() as u64, "{r}");

    // The view's pcap holds the packets of the view's flows inside the time range (as tshark counts
    // them in the original capture), not the flows' packets outside it; tshark reads the same number
    // in the file, and its name says the range.
    let whole: u64 = flows
        .iter()
        .filter(|f| active.contains(&f["id"].as_u64().unwrap()))
        .map(packets)
        .sum();
    let tuples: Vec<String> = flows
        .iter()
        .filter(|f| active.contains(&f["id"].as_u64().unwrap()))
        .map(|f| {
            let proto = f["protocol"].as_str().unwrap();
            assert!(proto == "tcp" || proto == "udp", "{f}");
            format!(
                "(ip.addr=={} && ip.addr=={} && {proto}.port=={} && {proto}.port=={})",
                f["client"]["ip"].as_str().unwrap(),
                f["server"]["ip"].as_str().unwrap(),
                f["client"]["port"],
                f["server"]["port"]
            )
        })
        .collect();
    // Times are compared at the reports' microsecond resolution: [from, to + 1 µs).
    let in_range = format!(
        "({}) && frame.time_epoch >= {}.{:06} && frame.time_epoch < {}.{:06}",
        tuples.join(" || "),
        from / 1_000_000,
        from % 1_000_000,
        (to + 1) / 1_000_000,
        (to + 1) % 1_000_000
    );
    let expected = tshark_count(&testdata("http_wikipedia_browsing.pcap"), &in_range) as u64;
    assert!(
        expected > 0 && expected < whole,
        "the dragged range must cut some of its flows' packets: {expected} of {whole}"
    );
    let view = &r["viewPcap"];
    assert_eq!(view["packets"].as_u64().unwrap(), expected, "{view}");
    assert_eq!(view["format"], "pcap", "{view}");
    assert_eq!(view["linkTypes"], serde_json::json!([1]), "{view}");
    let stamp = |t: &str| t.replace(['-', ':'], "");
    assert_eq!(
        view["name"].as_str().unwrap(),
        format!(
            "http_wikipedia_browsing-view-{}-{}.pcap",
            stamp(dragged["timeFrom"].as_str().unwrap()),
            stamp(dragged["timeTo"].as_str().unwrap())
        ),
        "{view}"
    );
    let view_file = PathBuf::from(view["path"].as_str().unwrap());
    assert_eq!(tshark_count(&view_file, "") as u64, expected);

    // The flows CSV is the filtered table: the same flows, every column.
    let csv = crate::support::parse_csv(r["flowsCsv"]["text"].as_str().unwrap()).0;
    assert_eq!(csv[0][0], "ID");
    assert!(csv[0].contains(&"State".to_string()) && csv[0].contains(&"History".to_string()));
    let csv_ids: BTreeSet<u64> = csv[1..].iter().map(|row| row[0].parse().unwrap()).collect();
    assert_eq!(csv_ids, active);
    // Its start and duration are report.json's to the digit (the page's model carries them as
    // microsecond offsets and writes them back).
    let column = |name: &str| csv[0].iter().position(|c| c == name).unwrap();
    let (start, duration) = (column("Start (UTC)"), column("Duration (s)"));
    for row in &csv[1..] {
        let id: u64 = row[0].parse().unwrap();
        let flow = flows.iter().find(|f| f["id"] == id).unwrap();
        assert_eq!(row[start], flow["start"].as_str().unwrap(), "flow {id}");
        let seconds: f64 = row[duration].parse().unwrap();
        assert_eq!(
            seconds,
            flow["duration_seconds"].as_f64().unwrap(),
            "flow {id}"
        );
    }

    // One flow: its row's packet count, the report's, our reader's and tshark's on the cut file and
    // on the original capture filtered by the flow's 5-tuple all agree.
    let flow_id = r["flow"]["id"].as_u64().unwrap();
    let flow = flows.iter().find(|f| f["id"] == flow_id).unwrap();
    let cut = &r["flowPcap"];
    assert_eq!(r["flow"]["packets"].as_u64().unwrap(), packets(flow), "{r}");
    assert_eq!(cut["packets"].as_u64().unwrap(), packets(flow), "{cut}");
    assert!(packets(flow) > 2, "{flow}");
    let tuple = format!(
        "ip.addr=={} && ip.addr=={} && {p}.port=={} && {p}.port=={}",
        flow["client"]["ip"].as_str().unwrap(),
        flow["server"]["ip"].as_str().unwrap(),
        flow["client"]["port"],
        flow["server"]["port"],
        p = flow["protocol"].as_str().unwrap()
    );
    let cut_file = PathBuf::from(cut["path"].as_str().unwrap());
    assert_eq!(
        tshark_count(&capture, &tuple) as u64,
        packets(flow),
        "{tuple}"
    );
    assert_eq!(
        tshark_count(&cut_file, &tuple) as u64,
        packets(flow),
        "{tuple}"
    );

    // One host: every IP packet from or to it and every ARP packet naming it, as tshark filters them.
    let hosted = &r["hostPcap"];
    let host_filter =
        format!("ip.addr=={host} || arp.src.proto_ipv4=={host} || arp.dst.proto_ipv4=={host}");
    let expected_host = tshark_count(&capture, &host_filter) as u64;
    assert!(expected_host > 0);
    assert_eq!(
        hosted["packets"].as_u64().unwrap(),
        expected_host,
        "{hosted}"
    );
    assert_eq!(
        tshark_count(
            &PathBuf::from(hosted["path"].as_str().unwrap()),
            &host_filter
        ) as u64,
        expected_host
    );

    // DNS: the names the table shows are the names tshark finds in the DNS (port 53) queries.
    let mut table_names = BTreeSet::new();
    for row in r["dnsRows"].as_array().unwrap() {
        if row[0] == "dns" {
            for name in row[3]
                .as_str()
                .unwrap()
                .split(", ")
                .filter(|n| !n.is_empty())
            {
                table_names.insert(name.to_string());
            }
        }
    }
    let names = Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(&capture)
        .args([
            "-Y",
            "dns && udp.port==53",
            "-T",
            "fields",
            "-e",
            "dns.qry.name",
        ])
        .output()
        .unwrap();
    let tshark_names: BTreeSet<String> = String::from_utf8_lossy(&names.stdout)
        .lines()
        .flat_map(|l| l.split(','))
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    assert!(!tshark_names.is_empty());
    assert_eq!(table_names, tshark_names);

    // Findings with their evidence, as CSV: every row the table counts, with the analyzers' attributes.
    let findings = crate::support::parse_csv(r["findingsCsv"].as_str().unwrap()).0;
    assert_eq!(findings[0].last().unwrap(), "Evidence");
    assert_eq!(
        findings.len() as u64 - 1,
        leading(&r["findingsCount"]),
        "{r}"
    );
    assert!(
        findings
            .iter()
            .any(|row| row.last().unwrap().contains("dns.queries=")),
        "{findings:?}"
    );

    // The original capture, byte for byte, with the SHA-256 the page and the checksum file show.
    use sha2::Digest;
    let sha: String = sha2::Sha256::digest(std::fs::read(&capture).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(r["original"]["name"], "http_wikipedia_browsing.pcap", "{r}");
    assert_eq!(r["original"]["sha256"], sha.as_str(), "{r}");
    assert_eq!(r["original"]["shown"], sha.as_str(), "{r}");
    assert_eq!(
        r["original"]["file"],
        format!("{sha}  http_wikipedia_browsing.pcap\n"),
        "{r}"
    );
}

/// Every flow's pcap, fetched as the page's links fetch it, holds exactly the flow's packets (tshark
/// counts the file) and the cuts together hold every packet that joined a flow: on a pcapng capture
/// of two interfaces (written back as pcapng), VLAN tags, a nanosecond Linux-cooked capture, a
/// damaged capture (everything before the damage) and pcapgen's capture of every tunnel kind (equal
/// inner addresses inside different tunnels are different flows).
#[test]
fn each_flows_pcap_holds_exactly_its_packets_across_link_types_vlans_tunnels_and_damage() {
    let server = Server::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let tunnels = dir.path().join("every_tunnel.pcap");
    pcapgen::encap::all().unwrap().write_file(&tunnels).unwrap();
    let captures = [
        testdata("pcapng_two_interfaces_dns.pcapng"),
        testdata("vlan_8021q_icmp_arp.pcap"),
        testdata("nanosecond_linux_sll_tcp_handshake.pcap"),
        testdata("corrupt_smtp_bad_record_after_18_packets.pcap"),
        tunnels,
    ];
    for capture in &captures {
        let id = server.upload_capture(capture);
        server.wait_done(&id, Duration::from_secs(120));
        let report: Value = serde_json::from_str(
            &std::fs::read_to_string(server.data.join(&id).join("report/report.json")).unwrap(),
        )
        .unwrap();
        let original = std::fs::read(capture).unwrap();
        let pcapng = original.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]);
        let mut total = 0;
        for flow in report["flows"].as_array().unwrap() {
            let r = request(
                &server.addr,
                "GET",
                &format!("/cases/{id}/pcap?flow={}", flow["id"]),
                &[],
                b"",
            );
            assert_eq!(r.status, 200, "{}: {}", capture.display(), r.text());
            if pcapng {
                assert!(r.body.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]));
            } else {
                // Same link type (at offset 20) as the stored capture, little-endian.
                let link = u32::from_le_bytes(r.body[20..24].try_into().unwrap());
                let stored = if original[0] == 0xd4 || original[0] == 0x4d {
                    u32::from_le_bytes(original[20..24].try_into().unwrap())
                } else {
                    u32::from_be_bytes(original[20..24].try_into().unwrap())
                };
                assert_eq!(link, stored, "{}", capture.display());
            }
            let file = dir.path().join(format!("flow-{}.cut", flow["id"]));
            std::fs::write(&file, &r.body).unwrap();
            let counted = tshark_count(&file, "") as u64;
            assert_eq!(
                counted,
                packets(flow),
                "{} flow {}: {flow}",
                capture.display(),
                flow["id"]
            );
            total += counted;
        }
        let analyzed = report["capture"]["packet_fates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["key"] == "analyzed")
            .map_or(0, |f| f["packets"].as_u64().unwrap());
        assert!(total > 0, "{}", capture.display());
        assert_eq!(total, analyzed, "{}", capture.display());
    }

    // Refusals come before any byte, with the reason.
    let id = server.upload_capture(&captures[1]);
    server.wait_done(&id, Duration::from_secs(120));
    for (path, status, says) in [
        (format!("/cases/{id}/pcap?flow=99999"), 404, "no flow 99999"),
        (
            format!("/cases/{id}/pcap?host=not-an-address"),
            400,
            "is not an IP address",
        ),
        (
            format!("/cases/{id}/pcap?host=10.0.0.1&time=yesterday"),
            400,
            "ISO 8601",
        ),
        (
            format!("/cases/{id}/pcap"),
            400,
            "?flow=ID or ?host=ADDRESS",
        ),
        (
            "/cases/0123456789abcdef0123456789abcdef/pcap?flow=1".to_string(),
            404,
            "no such case",
        ),
    ] {
        let r = request(&server.addr, "GET", &path, &[], b"");
        assert_eq!(r.status, status, "{path}: {}", r.text());
        assert!(r.text().contains(says), "{path}: {}", r.text());
    }
}
