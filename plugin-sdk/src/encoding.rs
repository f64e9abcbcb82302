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

/// Characters that change how the rest of a line is shown without being seen themselves: zero-width
/// characters, bidirectional marks, embeddings, overrides and isolates (`invoice\u{202e}gnp.exe`
/// shows as `invoiceexe.png`), invisible operators, the byte-order mark and interlinear annotation.
/// Reports write them as visible escapes (`\u{202e}`).
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
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
