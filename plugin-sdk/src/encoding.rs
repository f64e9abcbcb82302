//! Encodings plugins meet inside traffic, decoded the way protocols send them.

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::{Engine, alphabet};

/// Standard alphabet; padding optional; stray bits after the last byte tolerated (clients send them).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Standard base64 (RFC 4648) as protocols carry it (HTTP Basic credentials, SMTP AUTH, Tor
/// identities): white space around it trimmed, `=` padding optional. `None` on any other character
/// or an impossible length.
pub fn base64(text: &str) -> Option<Vec<u8>> {
    LENIENT.decode(text.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64_with_or_without_padding() {
        assert_eq!(
            base64("YWxpY2U6c2VjcmV0").as_deref(),
            Some(&b"alice:secret"[..])
        );
        assert_eq!(base64("YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(base64("YWI=").as_deref(), Some(&b"ab"[..]));
        assert_eq!(base64(" aGVpZGk\r\n").as_deref(), Some(&b"heidi"[..]));
        assert_eq!(base64("").as_deref(), Some(&b""[..]));
        assert_eq!(base64("Y"), None);
        assert_eq!(base64("Y!=="), None);
    }
}
