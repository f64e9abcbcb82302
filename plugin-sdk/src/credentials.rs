//! The names the built-in `credentials` analyzer puts on its findings, shared here so the stages and
//! outputs that read them (suspicious's cleartext verdicts, the credentials tables) cannot drift
//! apart from what it writes. One finding is one credential: tag `credentials.<protocol>`, on the
//! flow that carried it, with the attributes below.

use crate::Finding;

/// Tag of every credential finding; each protocol's tag lies below it (`credentials.ftp`).
pub const TAG: &str = "credentials";
/// Attribute: `ftp`, `pop3`, `imap`, `smtp`, `telnet`, `http-basic`, `http-digest`, `http-form`,
/// `ntlm`, `kerberos` (the tag's last part).
pub const PROTOCOL: &str = "protocol";
/// Attribute: the user name as sent.
pub const USER: &str = "user";
/// Attribute: the domain or realm, when the protocol sends one.
pub const DOMAIN: &str = "domain";
/// Attribute: the client's computer name (NTLM).
pub const WORKSTATION: &str = "workstation";
/// Attribute: the cleartext password, or the whole line a password-recovery tool reads.
pub const SECRET: &str = "secret";
/// Attribute: what `secret` is (see [`format`]).
pub const SECRET_FORMAT: &str = "secret_format";
/// Attribute: what the credential was for: a URL, a mail server, a share, a Kerberos service name.
pub const SERVICE: &str = "service";
/// Attribute: `accepted`, `rejected` or `unknown`, from the server's reply.
pub const OUTCOME: &str = "outcome";
/// Attribute: how many times the same credential was sent to the same service in the flow.
pub const COUNT: &str = "count";
/// How the secret was sent: `Basic`, `Digest`, `NTLM`, a login form, `USER/PASS`, `AUTH PLAIN`, ...
pub const METHOD: &str = "method";

/// Values of [`SECRET_FORMAT`].
pub mod format {
    /// The password itself.
    pub const CLEARTEXT: &str = "cleartext";
    /// hashcat mode 5600 / John `netntlmv2`: `user::domain:challenge:NTProofStr:blob`.
    pub const NETNTLMV2: &str = "netntlmv2";
    /// hashcat mode 5500 / John `netntlm`: `user::domain:lm:nt:challenge`.
    pub const NETNTLMV1: &str = "netntlmv1";
    /// An HTTP Digest response (RFC 7616): the `Authorization` header's parameters, whole.
    pub const HTTP_DIGEST: &str = "http-digest";
    /// POP3 APOP: `<challenge>:<MD5 digest>`.
    pub const APOP: &str = "apop";
    /// hashcat mode 7500: Kerberos 5 AS-REQ PA-ENC-TIMESTAMP, RC4-HMAC (etype 23).
    pub const KRB5PA_23: &str = "krb5pa-23";
    /// hashcat mode 19800: the same with AES128 (etype 17).
    pub const KRB5PA_17: &str = "krb5pa-17";
    /// hashcat mode 19900: the same with AES256 (etype 18).
    pub const KRB5PA_18: &str = "krb5pa-18";
    /// No secret could be read: NTLM whose challenge is not in the capture, a Kerberos AS-REQ
    /// without pre-authentication data. The user name is still evidence.
    pub const NONE: &str = "none";
}

impl Finding {
    /// True for a finding of the `credentials` analyzer.
    pub fn is_credential(&self) -> bool {
        crate::tag_matches(&self.tag, TAG)
    }
}
