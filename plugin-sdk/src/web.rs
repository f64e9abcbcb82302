//! Reading what the built-in `web` analyzer puts on its findings, so output plugins list HTTP
//! transactions the same way instead of each parsing its attributes.

use crate::Finding;
use serde::Deserialize;

/// One HTTP request and its response, as the `web` analyzer reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct HttpTransaction {
    /// Request method (`GET`, …).
    pub method: Option<String>,
    /// `Host` header.
    pub host: Option<String>,
    /// Request target.
    pub uri: Option<String>,
    /// `User-Agent` header.
    pub user_agent: Option<String>,
    /// Response status; none when no response was captured.
    #[serde(deserialize_with = "status")]
    pub status: Option<u16>,
    /// `Server` header of the response.
    pub server: Option<String>,
    /// `Content-Type` header of the response.
    pub content_type: Option<String>,
    /// Names of the form fields the request body carried (URL-encoded or multipart; read when the
    /// `web` stage receives streams). Never their values.
    pub form: Vec<String>,
}

/// A status given as a number or as text.
fn status<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match value {
        Some(serde_json::Value::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

impl Finding {
    /// The HTTP transactions of a `web.http` finding: its `http.transactions` list, or else the single
    /// transaction its `http.*` attributes describe. Empty for other findings.
    pub fn http_transactions(&self) -> Vec<HttpTransaction> {
        if let Some(list) = self
            .get("http.transactions")
            .and_then(|t| serde_json::from_str(t).ok())
        {
            return list;
        }
        if self.get("http.method").is_none() && self.get("http.status").is_none() {
            return Vec::new();
        }
        let text = |key: &str| self.get(key).map(str::to_string);
        vec![HttpTransaction {
            method: text("http.method"),
            host: text("http.host"),
            uri: text("http.uri"),
            user_agent: text("http.user-agent"),
            status: self.get("http.status").and_then(|s| s.trim().parse().ok()),
            server: text("http.server"),
            content_type: text("http.content-type"),
            form: Vec::new(),
        }]
    }
}

#[cfg(test)]
mod tests {
    use crate::{Finding, Severity};

    #[test]
    fn transactions_come_from_the_list_or_from_the_single_attributes() {
        let listed = Finding::on_flow(1, "web.http", Severity::Info).attr(
            "http.transactions",
            r#"[{"method":"GET","host":"a.example","uri":"/","status":200},{"method":"POST","uri":"/x","status":null,"form":["user"]}]"#,
        );
        let txs = listed.http_transactions();
        assert_eq!(txs.len(), 2);
        assert_eq!((txs[0].status, txs[1].status), (Some(200), None));
        assert_eq!(
            (txs[0].form.len(), txs[1].form.as_slice()),
            (0, &["user".to_string()][..])
        );
        let single = Finding::on_flow(1, "web.http", Severity::Info)
            .attr("http.method", "POST")
            .attr("http.status", "404");
        assert_eq!(single.http_transactions()[0].status, Some(404));
        assert!(
            Finding::on_flow(1, "dns", Severity::Info)
                .http_transactions()
                .is_empty()
        );
    }
}
