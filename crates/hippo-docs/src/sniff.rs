//! Content sniffing: the media type a document's first bytes show, checked against what the
//! client declared and the configured allow-list (a PDF is only accepted if it is one).

/// Bytes needed to decide (the longest signature checked, and enough text to judge it).
pub const SNIFF_LEN: usize = 512;

/// The media type `head` (the document's first bytes, or all of a shorter one) shows, if any
/// of those Hippo recognises.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"%PDF-", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"II*\0", "image/tiff"),
        (b"MM\0*", "image/tiff"),
        (b"DICM", "application/dicom"),
    ];
    for (sig, ty) in SIGNATURES {
        if head.starts_with(sig) {
            return Some(ty);
        }
    }
    // DICOM: a 128-byte preamble, then "DICM".
    if head.len() >= 132 && &head[128..132] == b"DICM" {
        return Some("application/dicom");
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Some("image/webp");
    }
    if is_text(head) {
        return Some("text/plain");
    }
    None
}

/// UTF-8 (allowing a character cut at the end of `head`) without control characters other
/// than tab, line feed, carriage return and form feed.
fn is_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).expect("valid prefix")
        }
        Err(_) => return false,
    };
    valid
        .chars()
        .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0c'))
}

/// The declared media type without parameters, lower-cased (`text/plain; charset=utf-8` →
/// `text/plain`).
pub fn essence(declared: &str) -> String {
    declared
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn recognises_common_clinical_formats() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), Some("application/pdf"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0"), Some("image/jpeg"));
        assert_eq!(sniff(b"Referral letter\r\n"), Some("text/plain"));
        assert_eq!(sniff(b"MZ\x90\0\x03\0\0\0"), None);
        assert_eq!(sniff(b"caf\xc3"), Some("text/plain"));
        assert_eq!(essence("Text/Plain; charset=utf-8"), "text/plain");
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = sniff(&b);
        }
    }
}
