//! `NAMES.md` of a Python or JavaScript plugin: the tags, attribute, host-fact and run-note names the
//! built-in stages write, made from the plugin SDK's `names` module packed into this binary. A Rust
//! author reads them as constants (`pcapxray_plugin_sdk::names`); the others need them as text, and
//! from the same source, so the list cannot drift from what the stages write.

const HEADING: &str = "# Names the built-in stages write

The finding tags, finding attributes, host-fact keys and run-note keys of pcapxray's built-in
stages, from the plugin SDK's `names` module of the pcapxray that wrote this folder (Rust plugins
use them as constants, `pcapxray_plugin_sdk::names::dns::QUERIES`). A stage listed after another in
the pipeline sees that stage's findings on each flow, in `flow.findings[].finding` (`tag`,
`attributes[].key` and `.value`). Values are text; lists are joined as each entry says
(`dns.queries` is comma-joined).
";

/// The names list as Markdown: one section per name space, one line per name with its meaning;
/// then the attributes of credential findings (the SDK's `credentials` module).
pub fn markdown() -> String {
    let mut text = String::from(HEADING);
    section(&mut text, "src/names.rs");
    text.push_str(
        "\n## credential attributes\n\nFindings `credentials.<protocol>` (one per credential, on the flow that \
         carried it) and their attributes.\n\n",
    );
    section(&mut text, "src/credentials.rs");
    text
}

/// The names of one SDK file: a `## module` heading per `pub mod`, a line per `pub const` text.
fn section(text: &mut String, file: &str) {
    let (_, source) = crate::embedded::SDK
        .iter()
        .find(|(path, _)| *path == file)
        .unwrap_or_else(|| panic!("the SDK has {file}"));
    let mut doc = String::new();
    for line in source.lines().map(str::trim) {
        if let Some(comment) = line.strip_prefix("///") {
            doc.push_str(comment);
        } else if let Some(module) = line.strip_prefix("pub mod ") {
            let module = module.trim_end_matches(" {");
            text.push_str(&format!("\n## {module}\n\n{}\n\n", plain(&doc)));
            doc.clear();
        } else if let Some(value) = line.strip_prefix("pub const ").and_then(quoted) {
            text.push_str(&format!("- `{value}`: {}\n", plain(&doc)));
            doc.clear();
        } else {
            doc.clear();
        }
    }
}

/// The value of `NAME: &str = "value";`.
fn quoted(declaration: &str) -> Option<&str> {
    let (_, value) = declaration.split_once(": &str = \"")?;
    value.strip_suffix("\";")
}

/// A doc comment without its rustdoc links: "[`QUERIES`]" and "[`TAG`](web::TAG)" become "`QUERIES`"
/// and "`TAG`", "`super::http`" becomes "`http`".
fn plain(doc: &str) -> String {
    let mut text = doc.trim().replace("[`", "`").replace("super::", "");
    while let Some(start) = text.find("`](") {
        let Some(len) = text[start..].find(')') else {
            break;
        };
        text.replace_range(start + 1..start + len + 1, "");
    }
    text.replace("`]", "`")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_names_list_has_every_name_space_and_the_dns_queries_attribute() {
        let text = super::markdown();
        assert!(text.contains("\n## dns\n"), "{text}");
        assert!(
            text.contains("- `dns.queries`: Attribute: the names asked, comma-joined in order"),
            "{text}"
        );
        assert!(text.contains("- `web.http`: Tag: an HTTP flow (attributes in `http`)."));
        assert!(!text.contains("[`") && !text.contains("`]") && !text.contains("super::"));
        // The credentials analyzer's attributes too.
        let credentials = text
            .split("\n## credential attributes\n")
            .nth(1)
            .expect("a credentials section");
        assert!(credentials.contains("- `secret_format`: "), "{credentials}");
    }
}
