//! One finding per file, whatever carried it: tag `files.<protocol>`, a summary that names the file
//! (so the host's roll-ups merge only repeats of the same file between the same hosts), and the same
//! attribute keys for every protocol. A file whose content contradicts its declared type — a "pdf"
//! that is a Windows executable, a double extension such as `invoice.pdf.exe` — is raised to Medium
//! with the reason in words (`mismatch`); every other file is Info.

use crate::sink::{Summary, extension_of};
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::{Finding, FlowId, Severity, StreamStart, Timestamp};

/// What the protocol knew about a file.
#[derive(Clone, Debug, Default)]
pub struct FileInfo {
    /// `http`, `smtp`, `pop3`, `imap`, `ftp`, `tftp`.
    pub proto: &'static str,
    /// What the transfer was, in a word: `download`, `upload`, `message`, `attachment`, ...
    pub what: &'static str,
    /// The file's name as the protocol gave it (may be empty).
    pub name: String,
    /// The declared type (Content-Type without parameters), when the protocol declares one.
    pub declared_type: Option<String>,
    /// False when the transfer ended before its framing said it should.
    pub framed: bool,
    /// Why decoding fell short, if it did.
    pub problem: Option<String>,
    /// Protocol-specific attributes (`uri`, `status`, `range`, `control_flow`, ...).
    pub attrs: Vec<(&'static str, String)>,
}

impl FileInfo {
    pub fn new(proto: &'static str, what: &'static str, name: impl Into<String>) -> FileInfo {
        FileInfo {
            proto,
            what,
            name: name.into(),
            framed: true,
            ..FileInfo::default()
        }
    }

    pub fn attr(&mut self, key: &'static str, value: impl Into<String>) {
        let value = value.into();
        if !value.is_empty() {
            self.attrs.push((key, value));
        }
    }
}

/// A file found, waiting for its flow's `analyze`.
pub struct Found {
    pub info: FileInfo,
    pub summary: Summary,
    pub time: Timestamp,
}

impl Found {
    /// Whether an extraction cap kept the bytes out.
    pub fn over_cap(&self) -> bool {
        self.summary
            .extracted
            .as_ref()
            .is_err_and(|why| why.contains("cap"))
    }
}

/// Executable types (by detected MIME type).
const EXECUTABLE: &[&str] = &[
    "application/vnd.microsoft.portable-executable",
    "application/x-executable",
    "application/x-mach-binary",
    "application/x-msdownload",
    "application/vnd.android.package-archive",
    "application/x-elf",
];

/// Extensions of programs and scripts Windows runs when opened.
const RUNNABLE_EXT: &[&str] = &[
    "exe", "scr", "com", "pif", "bat", "cmd", "js", "jse", "vbs", "vbe", "wsf", "hta", "msi",
    "lnk", "ps1", "jar", "dll", "cpl",
];

/// Extensions of documents and media a user expects to be harmless.
const DOCUMENT_EXT: &[&str] = &[
    "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "txt", "rtf", "jpg", "jpeg", "png", "gif",
    "bmp", "zip", "mp3", "mp4", "avi", "htm", "html", "csv", "odt",
];

/// Why the declared type and the content disagree, in words, if they do.
pub fn mismatch(name: &str, declared: Option<&str>, detected: Option<&str>) -> Option<String> {
    let base = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(name)
        .to_ascii_lowercase();
    let parts: Vec<&str> = base.split('.').collect();
    if parts.len() >= 3 {
        let (inner, outer) = (parts[parts.len() - 2], parts[parts.len() - 1]);
        if DOCUMENT_EXT.contains(&inner) && RUNNABLE_EXT.contains(&outer) {
            return Some(format!(
                "the name {name:?} has a double extension: it looks like a .{inner} but is a .{outer}, \
                 which Windows runs"
            ));
        }
    }
    let detected = detected?;
    if !EXECUTABLE.contains(&detected) {
        return None;
    }
    let ext = extension_of(&base);
    let claims_document = ext.as_deref().is_some_and(|e| DOCUMENT_EXT.contains(&e));
    let declared_doc = declared.filter(|d| {
        !d.is_empty()
            && !EXECUTABLE.contains(d)
            && *d != "application/octet-stream"
            && *d != "application/x-dosexec"
    });
    if claims_document {
        return Some(format!(
            "the name {name:?} says .{} but the content is an executable ({detected})",
            ext.unwrap_or_default()
        ));
    }
    declared_doc.map(|d| format!("declared as {d} but the content is an executable ({detected})"))
}

fn endpoint(e: &pcapxray_plugin_sdk::Endpoint) -> String {
    let ip: std::net::IpAddr = e.ip.into();
    match ip {
        std::net::IpAddr::V6(_) => format!("[{ip}]:{}", e.port),
        std::net::IpAddr::V4(_) => format!("{ip}:{}", e.port),
    }
}

/// The finding of one file on `flow`.
pub fn finding(flow: FlowId, start: Option<&StreamStart>, found: Found) -> Finding {
    let Found {
        info,
        summary: s,
        time,
    } = found;
    let detected = s.detected.as_ref().map(|(m, _)| m.as_str());
    let why = mismatch(&info.name, info.declared_type.as_deref(), detected);
    let severity = if why.is_some() {
        Severity::Medium
    } else {
        Severity::Info
    };
    let complete = info.framed && s.missing == 0 && info.problem.is_none();
    let name = if info.name.is_empty() {
        "(unnamed)"
    } else {
        info.name.as_str()
    };
    let kind = detected.or(info.declared_type.as_deref()).unwrap_or("data");
    let mut summary = format!(
        "{} {} {name} ({kind}, {} bytes, sha256 {})",
        info.proto.to_ascii_uppercase(),
        info.what,
        s.size,
        &s.sha256[..16]
    );
    // A transfer that stopped before its end with no length to go by (an SMTP message without its
    // end-of-data line, a chunked body cut off): how much is missing cannot be known, so the report
    // does not say 0.
    let unknown_rest = !info.framed && s.missing == 0;
    if unknown_rest {
        summary.push_str(", incomplete: it stops before its end, at an unknown size");
    } else if !complete {
        summary.push_str(", incomplete");
    }
    if let Some(why) = &why {
        summary = format!("{summary}: {why}");
    }
    let mut f = Finding::on_flow(
        flow,
        format!("{}.{}", names::files::TAG, info.proto),
        severity,
    )
    .summary(summary)
    .attr(names::files::PROTOCOL, info.proto)
    .attr(names::files::DIRECTION, info.what)
    .attr(names::files::NAME, info.name.clone())
    .attr(names::files::SIZE, s.size.to_string())
    .attr(
        names::files::MISSING,
        if unknown_rest {
            "unknown".to_string()
        } else {
            s.missing.to_string()
        },
    )
    .attr(names::files::COMPLETE, complete.to_string())
    .attr(names::files::MD5, s.md5)
    .attr(names::files::SHA1, s.sha1)
    .attr(names::files::SHA256, s.sha256)
    .attr(names::files::TIME, pcapxray_plugin_sdk::time::iso8601(time));
    let opt = |f: Finding, key: &str, value: Option<String>| match value {
        Some(v) if !v.is_empty() => f.attr(key, v),
        _ => f,
    };
    f = opt(f, names::files::MISSING_RANGES, Some(s.ranges));
    f = opt(f, names::files::DECLARED_TYPE, info.declared_type);
    f = opt(f, names::files::DETECTED_TYPE, detected.map(str::to_string));
    f = opt(f, names::files::MISMATCH, why);
    f = opt(f, names::files::DECODE_PROBLEM, info.problem);
    f = opt(f, names::files::CLIENT, start.map(|s| endpoint(&s.client)));
    f = opt(f, names::files::SERVER, start.map(|s| endpoint(&s.server)));
    f = match s.extracted {
        Ok(path) => f.attr(names::files::EXTRACTED, path),
        Err(why) => opt(f, names::files::NOT_EXTRACTED, Some(why)),
    };
    for (key, value) in info.attrs {
        f = f.attr(key, value);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::mismatch;

    const PE: &str = "application/vnd.microsoft.portable-executable";

    #[test]
    fn double_extensions_and_executables_posing_as_documents_are_mismatches() {
        assert!(
            mismatch("invoice.pdf.exe", None, Some(PE))
                .unwrap()
                .contains("double extension")
        );
        assert!(mismatch("invoice.pdf.exe", None, None).is_some());
        assert!(
            mismatch("report.pdf", Some("application/pdf"), Some(PE))
                .unwrap()
                .contains(".pdf")
        );
        assert!(
            mismatch("x", Some("image/png"), Some(PE))
                .unwrap()
                .contains("image/png")
        );
        assert_eq!(
            mismatch("setup.exe", Some("application/octet-stream"), Some(PE)),
            None
        );
        assert_eq!(
            mismatch(
                "report.pdf",
                Some("application/pdf"),
                Some("application/pdf")
            ),
            None
        );
        assert_eq!(mismatch("archive.tar.gz", None, None), None);
    }
}
