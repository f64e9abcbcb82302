//! `files.txt` and `credentials.txt`: one block per file or credential, the rows of the SDK's
//! `tables` module (the same rows every other report lists), streamed as flows end. Each file is
//! bounded: past `max_rows` rows the rest are counted and the last line says how many were left out
//! and where the complete list is (report.json, the csv and sqlite outputs). Values are cleaned like
//! every other text report (one visible line each); secrets are written whole, as in report.json: the
//! file is evidence an investigator files, not a page shown to onlookers.

use crate::clean;
use pcapxray_plugin_sdk::tables::{Row, Table};
use std::fmt::Write;

/// Characters of one value kept (a crackable hash line fits).
const MAX_VALUE: usize = 4096;

/// One of the two listings.
pub struct Listing {
    table: Table,
    max_rows: usize,
    written: usize,
    left_out: usize,
}

impl Listing {
    pub fn new(table: Table, max_rows: usize) -> Listing {
        Listing {
            table,
            max_rows,
            written: 0,
            left_out: 0,
        }
    }

    /// The file's name.
    pub fn file(&self) -> String {
        format!("{}.txt", self.table.name())
    }

    /// The text for the rows of this table among `rows` (the title first, with the first part).
    pub fn part(&mut self, rows: &[Row]) -> String {
        let mut out = String::new();
        for row in rows.iter().filter(|r| r.table == self.table) {
            if self.written == self.max_rows {
                self.left_out += 1;
                continue;
            }
            if self.written == 0 {
                out.push_str(&self.title());
            }
            self.written += 1;
            block(&mut out, self.written, row);
        }
        out
    }

    /// The last part: the title and "none" when nothing was listed, the count of rows left out.
    pub fn finish(&mut self) -> String {
        let mut out = String::new();
        if self.written == 0 {
            out.push_str(&self.title());
            let _ = writeln!(out, "None found.");
        }
        if self.left_out > 0 {
            let _ = writeln!(
                out,
                "\n{} more {} not listed: this file lists the first {} (config max_table_rows); \
                 report.json, files.csv/credentials.csv and report.sqlite list them all.",
                self.left_out,
                self.table.name(),
                self.max_rows
            );
        }
        out
    }

    fn title(&self) -> String {
        let title = match self.table {
            Table::Files => "Files carried over the capture's flows",
            Table::Credentials => "Credentials sent over the capture's flows",
        };
        format!("{title}\n{}\n", "=".repeat(title.len()))
    }
}

/// One row as a block: a heading line, then `column  value` for every non-empty value.
fn block(out: &mut String, n: usize, row: &Row) {
    let _ = writeln!(
        out,
        "\n#{n}  flow {}  {}  {} -> {}  {} ({})",
        row.flow,
        clean::line(&row.time, 64),
        clean::line(&row.client, 64),
        clean::line(&row.server, 64),
        clean::line(&row.tag, 64),
        row.severity.as_str()
    );
    for column in row.table.columns() {
        if let Some(v) = row.get(column).filter(|v| !v.is_empty()) {
            let _ = writeln!(out, "    {column:<16} {}", clean::line(v, MAX_VALUE));
        }
    }
    for a in row.others() {
        let _ = writeln!(
            out,
            "    {:<16} {}",
            clean::line(&a.key, 64),
            clean::line(&a.value, MAX_VALUE)
        );
    }
    let _ = writeln!(
        out,
        "    {:<16} {}",
        "summary",
        clean::line(&row.summary, 512)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcapxray_plugin_sdk::tables::rows_of_flow;
    use pcapxray_plugin_sdk::testing::{finding, flow};

    fn rows() -> Vec<Row> {
        let mut f = flow(2, "10.0.0.2", "10.0.0.9", 21);
        for i in 0..3 {
            f.findings.push(finding(
                "files",
                2,
                "files.ftp",
                "FTP download",
                &[("name", &format!("evil\u{202e}{i}.txt")), ("sha256", "ab")],
            ));
        }
        f.findings.push(finding(
            "credentials",
            2,
            "credentials.ftp",
            "FTP login",
            &[("user", "bob"), ("secret", "hunter2")],
        ));
        rows_of_flow(&f)
    }

    #[test]
    fn files_are_listed_cleaned_and_bounded_with_a_note() {
        let mut files = Listing::new(Table::Files, 2);
        let text = files.part(&rows()) + &files.finish();
        assert!(text.starts_with("Files carried over the capture's flows\n====="));
        assert!(text.contains("#1  flow 2  2024-03-12T09:00:03"), "{text}");
        assert!(text.contains("10.0.0.2:49152 -> 10.0.0.9:21  files.ftp (info)"));
        assert!(
            text.contains("    name             evil\\u{202e}0.txt\n"),
            "{text}"
        );
        assert!(!text.contains("#3"));
        assert!(text.contains("1 more files not listed"), "{text}");
    }

    #[test]
    fn credentials_keep_their_secret_and_an_empty_table_says_none() {
        let mut creds = Listing::new(Table::Credentials, 10);
        let text = creds.part(&rows()) + &creds.finish();
        assert!(text.contains("    secret           hunter2\n"), "{text}");
        let mut empty = Listing::new(Table::Credentials, 10);
        assert!(empty.finish().ends_with("None found.\n"));
    }
}
