//! The `credentials` analyzer (#11) through the real binary and the default pipeline. A pcapgen
//! capture (`pcapgen::creds::logins`) holds a login of every protocol it reads; the values expected
//! here are written out from the specifications' own examples where they have one (RFC 1939's APOP,
//! RFC 2617's Digest, MS-NLMP 4.2.4's NTLMv2, whose responses pcapgen computes from the password
//! and checks against that section's vectors) or from the values pcapgen was given, and the NTLM
//! line from HTTP is cracked here with its known password by MS-NLMP 3.3.2's formula. The real
//! captures of the shared corpus that carry logins are checked against what tshark reads in them.

use crate::support::{repo, run_pipeline, testdata};
use pcapgen::Capture;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

/// The attributes of every `credentials.*` finding on a flow of a report, with `tag`, `severity` and `summary`.
fn credentials(report: &Value) -> Vec<BTreeMap<String, String>> {
    crate::support::flow_findings_tagged(report, "credentials.")
}

/// The default pipeline over `capture`, its report.
fn default_run(dir: &Path, capture: &Path) -> Value {
    let pipeline = std::fs::read_to_string(repo().join("config/pipeline.toml")).unwrap();
    let run = run_pipeline(dir, &pipeline, capture);
    assert_eq!(run.code, 0, "{}", run.all_output());
    run.report()
}

/// The pcapgen logins through the default pipeline, run once for every test here: the report and
/// its credentials.
fn run() -> &'static (Value, Vec<BTreeMap<String, String>>) {
    static RUN: OnceLock<(Value, Vec<BTreeMap<String, String>>)> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut cap = Capture::new(1_764_748_800);
        pcapgen::creds::logins(&mut cap).unwrap();
        let path = dir.path().join("logins.pcap");
        cap.write_file(&path).unwrap();
        let report = default_run(dir.path(), &path);
        let found = credentials(&report);
        (report, found)
    })
}

fn logins() -> &'static Vec<BTreeMap<String, String>> {
    &run().1
}

/// The one credential of `user` with `secret` (empty: none), by protocol.
fn one<'a>(protocol: &str, user: &str, secret: &str) -> &'a BTreeMap<String, String> {
    let all = logins();
    let found: Vec<_> = all
        .iter()
        .filter(|c| c["protocol"] == protocol && c["user"] == user)
        .filter(|c| c.get("secret").map_or("", String::as_str) == secret)
        .collect();
    assert_eq!(found.len(), 1, "{protocol} {user} {secret}: {all:#?}");
    found[0]
}

fn check(c: &BTreeMap<String, String>, want: &[(&str, &str)]) {
    for (k, v) in want {
        assert_eq!(c.get(*k).map(String::as_str), Some(*v), "{k} of {c:#?}");
    }
}

#[test]
fn cleartext_logins_of_the_mail_and_file_protocols_are_found_with_their_outcome() {
    check(
        one("ftp", "alice", "wrong1"),
        &[
            ("tag", "credentials.ftp"),
            ("severity", "low"),
            ("secret_format", "cleartext"),
            ("service", "ftp://10.0.0.21:21"),
            ("outcome", "rejected"),
            ("count", "2"),
        ],
    );
    check(
        one("pop3", "bob", "pop-pw"),
        &[("outcome", "accepted"), ("service", "pop3://10.0.0.22:110")],
    );
    check(
        one("imap", "carol", "imap pw"),
        &[("tag", "credentials.imap"), ("outcome", "accepted")],
    );
    check(one("imap", "dave", "plain-pw"), &[("outcome", "rejected")]);
    check(
        one("smtp", "erin", "smtp-pw"),
        &[("tag", "credentials.smtp"), ("outcome", "accepted")],
    );
    check(
        one("telnet", "frank", "telnet-pw"),
        &[("tag", "credentials.telnet"), ("outcome", "accepted")],
    );
}

/// RFC 1939 section 7: the APOP digest of `tanstaaf` under the greeting's timestamp.
#[test]
fn apop_keeps_the_challenge_the_digest_needs() {
    check(
        one(
            "pop3",
            "mrose",
            "<1896.697170952@dbc.mtview.ca.us>:c4c9334bac560ecc979e58001b3e22fb",
        ),
        &[("secret_format", "apop"), ("severity", "info")],
    );
}

/// Two refused attempts and 800 NOOPs (4,800 bytes) come first: the accepted login starts past the
/// 4 KiB payload prefix the analyzers without streams see.
#[test]
fn a_login_late_in_a_long_session_is_found() {
    check(
        one("ftp", "alice", "Secr3t!"),
        &[("outcome", "accepted"), ("count", "1")],
    );
    // The HTTP Basic attempts come after a 10,000-byte response, past the 4 KiB payload prefix.
    check(
        one("http-basic", "grace", "basic-pw"),
        &[
            ("outcome", "rejected"),
            ("count", "2"),
            ("service", "http://intranet.test/admin"),
        ],
    );
}

#[test]
fn http_forms_and_digest_are_credentials() {
    check(
        one("http-form", "heidi", "form pw!"),
        &[
            ("tag", "credentials.http-form"),
            ("service", "http://intranet.test/login"),
            ("outcome", "unknown"),
        ],
    );
    check(
        one("http-form", "ivan@example.com", "multi-pw"),
        &[("service", "http://intranet.test/profile")],
    );
    // RFC 2617 3.5's example request, whole: what a cracker needs with the method.
    let digest = logins()
        .iter()
        .find(|c| c["protocol"] == "http-digest")
        .unwrap();
    check(
        digest,
        &[
            ("user", "Mufasa"),
            ("domain", "testrealm@host.com"),
            ("secret_format", "http-digest"),
            ("outcome", "accepted"),
        ],
    );
    assert!(digest["secret"].contains("response=\"6629fae49393a05397450978507c4ef1\""));
    assert!(digest["secret"].contains("nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\""));
}

/// MS-NLMP 4.2.4: the AUTHENTICATE of `Domain\User` (password `Password`) to server challenge
/// 0123456789abcdef with client challenge aa… at time 0 and target info (Domain, Server), as
/// hashcat mode 5600 reads it: user::domain:challenge:NTProofStr:temp.
#[test]
fn ntlm_over_smb2_gives_the_hashcat_line_of_the_ms_nlmp_example() {
    let temp = "01010000000000000000000000000000aaaaaaaaaaaaaaaa00000000\
                02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000\
                00000000";
    let line = format!("User::Domain:0123456789abcdef:68cd0ab851e51c96aabc927bebef6a1c:{temp}");
    check(
        one("ntlm", "User", &line),
        &[
            ("tag", "credentials.ntlm"),
            ("severity", "info"),
            ("domain", "Domain"),
            ("workstation", "COMPUTER"),
            ("secret_format", "netntlmv2"),
            ("service", "\\\\10.0.0.45\\share"),
            ("outcome", "accepted"),
        ],
    );
}

/// MS-NLMP 4.2.2: the NTLMv1 responses of `Password` to challenge 0123456789abcdef, over SMB1
/// with extended security, as hashcat mode 5500 reads them: user::domain:lm:nt:challenge.
#[test]
fn ntlmv1_over_smb1_gives_the_hashcat_5500_line_of_the_ms_nlmp_example() {
    let line = "User::Domain:98def7b87f88aa5dafe2df779688a172def11c7d5ccdef13:\
                67c43011f30298a2ad35ece64f16331c44bdbed927841f94:0123456789abcdef";
    check(
        one("ntlm", "User", line),
        &[
            ("secret_format", "netntlmv1"),
            ("method", "SMB1"),
            ("service", "\\\\10.0.0.46"),
            ("outcome", "accepted"),
        ],
    );
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The NTLM line from HTTP cracks with the password the client used: NTProofStr is
/// HMAC-MD5(NTOWFv2(password, user, domain), challenge ‖ blob), every part taken from the line.
#[test]
fn ntlm_over_http_pairs_the_challenge_and_the_line_cracks_with_the_password() {
    let c = logins()
        .iter()
        .find(|c| c["protocol"] == "ntlm" && c["user"] == "mallory")
        .unwrap();
    check(
        c,
        &[
            ("domain", "CORP"),
            ("workstation", "LAPTOP7"),
            ("service", "http://web01.corp.test/intranet"),
            ("outcome", "accepted"),
        ],
    );
    let parts: Vec<&str> = c["secret"].split(':').collect();
    let [user, "", domain, challenge, proof, blob] = parts[..] else {
        panic!("not a 5600 line: {}", c["secret"]);
    };
    assert_eq!(
        (user, domain, challenge),
        ("mallory", "CORP", "1122334455667788")
    );
    let (_, nt) = pcapgen::creds::ntlmv2_responses(
        "NtlmPass1",
        user,
        domain,
        unhex(challenge).try_into().unwrap(),
        [0; 8],
        &unhex(blob),
    );
    assert_eq!(pcapxray_capture::hex(&nt[..16]), proof);
}

#[test]
fn kerberos_as_req_gives_user_realm_and_hashcat_lines_over_tcp_and_udp() {
    let rc4: Vec<u8> = (0u8..52).collect();
    let aes: Vec<u8> = (100u8..156).collect();
    let hex = pcapxray_capture::hex;
    // hashcat 7500: the 16-byte checksum that leads the cipher goes last.
    let line23 = format!(
        "$krb5pa$23$oscar$EXAMPLE.COM$EXAMPLE.COMoscar${}{}",
        hex(&rc4[16..]),
        hex(&rc4[..16])
    );
    check(
        one("kerberos", "oscar", &line23),
        &[
            ("domain", "EXAMPLE.COM"),
            ("secret_format", "krb5pa-23"),
            ("service", "krbtgt/EXAMPLE.COM"),
            ("outcome", "accepted"),
        ],
    );
    // Without pre-authentication: the user alone, the KDC's PREAUTH_REQUIRED leaves it unknown.
    check(
        one("kerberos", "oscar", ""),
        &[("secret_format", "none"), ("outcome", "unknown")],
    );
    // hashcat 19900, over UDP, refused with PREAUTH_FAILED.
    let line18 = format!("$krb5pa$18$peggy$EXAMPLE.COM${}", hex(&aes));
    check(
        one("kerberos", "peggy", &line18),
        &[("secret_format", "krb5pa-18"), ("outcome", "rejected")],
    );
}

/// After an accepted STARTTLS the stream is TLS: nothing in it is read as a login, even text.
#[test]
fn nothing_after_an_accepted_starttls_is_read() {
    assert!(
        logins().iter().all(|c| c["user"] != "tls"),
        "{:#?}",
        logins()
    );
    assert_eq!(logins().len(), 18, "{:#?}", logins());
}

/// One login, two findings that say how they relate: `suspicious`'s cleartext verdict names the
/// credential finding on the same flow, for every cleartext login it recognises.
#[test]
fn suspicious_cleartext_verdicts_name_the_credential_findings() {
    let verdicts: Vec<&Value> = run().0["flows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["findings"].as_array().unwrap())
        .filter(|f| f["tag"].as_str().unwrap().starts_with("cleartext."))
        // The text sent after the accepted STARTTLS (which real TLS never looks like): `suspicious`
        // reads its payload prefix up to the first binary byte and so still sees it; `credentials`
        // stops at the server's acceptance and has nothing to be named.
        .filter(|f| f["attributes"]["cleartext.user"] != "tls")
        .collect();
    assert!(verdicts.len() >= 5, "{verdicts:#?}");
    for v in verdicts {
        let tag = v["attributes"]["cleartext.credential"].as_str();
        assert!(tag.is_some_and(|t| t.starts_with("credentials.")), "{v:#}");
        assert!(
            v["summary"]
                .as_str()
                .unwrap()
                .contains("the credential itself")
        );
    }
}

/// tshark reads these logins in the shared captures (`tshark -r FILE -Y "ftp.request.command==PASS
/// or pop.request.command==PASS or imap.request or smtp.auth.password or ntlmssp.messagetype==3"`
/// with the user, password, NTLMv2 response and SMB2 tree fields); the two SMB2 2.0.2 captures
/// carry only an anonymous session (no user name), which is no credential.
#[test]
fn the_logins_in_the_shared_captures_match_tshark() {
    /// (protocol, user, secret).
    type Login<'a> = (&'a str, &'a str, &'a str);
    let cases: &[(&str, &[Login])] = &[
        ("ftp_pasv_retr_exe.pcap", &[("ftp", "anonymous", "-wget@")]),
        (
            "ftp_pasv_retr_pdf.pcap",
            &[("ftp", "anonymous", "chrome@example.com")],
        ),
        ("ftp_pasv_stor_html.pcap", &[("ftp", "alice", "password")]),
        ("ftp_port_retr_html.pcap", &[("ftp", "bob", "password")]),
        (
            "pop3_retr_base64_png_attachment_ooo.pcap",
            &[("pop3", "zoeyyyzou@163.com", "RGMQUXRFPXUOLWRD")],
        ),
        (
            "imap_fetch_headers_only.pcap",
            &[("imap", "samir", "pfres")],
        ),
        // AUTH LOGIN: tshark's smtp.auth.username Z2FsdW50 and smtp.auth.password VjF2MXRyMG4=.
        (
            "smtp_quoted_printable_two_attachments.pcap",
            &[("smtp", "galunt", "V1v1tr0n")],
        ),
        ("smb2_0202_read_write_many_files.pcap", &[]),
        ("smb2_0202_read_write_missing_packet.pcap", &[]),
    ];
    for (name, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let found = credentials(&default_run(
            dir.path(),
            &testdata(&format!("files/captures/{name}")),
        ));
        let got: Vec<(&str, &str, &str)> = found
            .iter()
            .map(|c| {
                (
                    c["protocol"].as_str(),
                    c["user"].as_str(),
                    c.get("secret").map_or("", String::as_str),
                )
            })
            .collect();
        assert_eq!(&got, want, "{name}");
        assert!(
            found.iter().all(|c| c["outcome"] == "accepted"),
            "{name}: {found:#?}"
        );
    }
}

/// SMB 3.1.1 with `zeek`'s NTLMv2 login: tshark's ntlmssp.ntlmserverchallenge, ntproofstr and
/// ntlmv2_response, and the first smb2.tree after it.
#[test]
fn the_smb311_login_gives_the_line_tshark_reads() {
    let dir = tempfile::tempdir().unwrap();
    let found = credentials(&default_run(
        dir.path(),
        &testdata("files/captures/smb311_read_100_small_files.pcap"),
    ));
    let blob = concat!(
        "01010000000000006ac3bf6d2978d901f1792a829aca003000000000020018003200310034004600",
        "31004100310030004300460039003600010018003200310034004600310041003100300043004600",
        "39003600040002000000030018003200310034006600310061003100300063006600390036000700",
        "08006ac3bf6d2978d90100000000",
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    check(
        &found[0],
        &[
            ("user", "zeek"),
            (
                "secret",
                &format!("zeek:::319b19d7bc12a8c3:68679d3038bb68ef18922f3b0cc03b3f:{blob}"),
            ),
            ("service", "\\\\127.0.0.1\\IPC$"),
            ("outcome", "accepted"),
        ],
    );
}
