//! Email addresses: whether a text is one, and the one form repbook compares them in, so that two
//! spellings of one mailbox are one rep (`Alice@Pharma.test.`, a fullwidth `ａlice@pharma.test` and one with
//! a zero-width space are all `alice@pharma.test`).

use unicode_normalization::UnicodeNormalization;

use super::DomainError;

/// Characters a person cannot see that change what a text compares as: zero-width space and joiners, the
/// bidirectional marks and isolates, word joiner and invisible operators, the byte-order mark, the soft
/// hyphen, and the line and paragraph separators.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
    )
}

/// The form an address is kept, shown and mailed in: Unicode compatibility forms folded (NFKC), invisible
/// characters removed, surrounding space trimmed, no trailing dot and a lower-case domain. The local part
/// keeps its case: a mail server may (rarely) tell `Jane` from `jane`, so mail goes where the rep typed.
pub fn clean_email(text: &str) -> String {
    let folded: String = text.nfkc().filter(|c| !is_invisible(*c)).collect();
    let mut address = folded.trim().to_string();
    while address.ends_with('.') {
        address.pop();
    }
    match address.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_lowercase()),
        None => address,
    }
}

/// The form addresses are compared in: the kept form (`clean_email`) in lower case, so that every spelling
/// of one mailbox is one rep for the per-rep limits.
pub fn normalize_email(text: &str) -> String {
    clean_email(text).to_lowercase()
}

/// The domain part of an address (normalised), e.g. `pharma.test`.
pub fn email_domain(text: &str) -> String {
    let address = normalize_email(text);
    address
        .rsplit_once('@')
        .map(|(_, domain)| domain.to_string())
        .unwrap_or_default()
}

/// A plausible address: something, an @, a domain with a dot, no spaces.
pub fn looks_like_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => !local.is_empty() && domain.contains('.') && !text.contains(char::is_whitespace),
        None => false,
    }
}

/// An address a person typed into a setting (the practice's inbox, a reply-to), trimmed and checked.
pub fn check_email(field: &'static str, text: &str) -> Result<String, DomainError> {
    super::refuse_controls(field, text, false)?;
    let address = text.trim();
    if text.chars().count() > 254 || !looks_like_email(address) || address.chars().any(is_invisible) {
        return Err(DomainError::Invalid {
            field,
            message: format!("{field} '{address}' is not an email address (name@example.com)"),
        });
    }
    Ok(address.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_mailbox_compare_equal() {
        let plain = normalize_email("alice@pharma.test");
        for variant in [
            "Alice@Pharma.TEST",
            "  alice@pharma.test ",
            "alice@pharma.test.",
            "\u{FF41}lice@pharma.test",
            "alice@pharma.test\u{200B}",
            "al\u{200D}ice@pharma.test",
            "\u{FEFF}alice@pharma.test",
        ] {
            assert_eq!(normalize_email(variant), plain, "{variant:?}");
        }
        assert_ne!(
            normalize_email("alice@pharma.test"),
            normalize_email("alice2@pharma.test")
        );
        assert_eq!(email_domain("Bob@Globex.Test."), "globex.test");
        assert_eq!(
            clean_email(" Jane.Citizen@Acme.TEST.\u{200B}"),
            "Jane.Citizen@acme.test"
        );
    }

    #[test]
    fn addresses_in_settings_are_checked() {
        assert_eq!(
            check_email("notify_email", " office@clinic.test ").unwrap(),
            "office@clinic.test"
        );
        assert!(check_email("notify_email", "office").is_err());
        assert!(check_email("notify_email", "office@clinic.test\u{200B}").is_err());
    }
}
