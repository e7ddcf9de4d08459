//! Recovery codes: ten one-time codes shown once when made, kept as SHA-256 digests (each carries 60 random
//! bits, so a digest cannot be walked back), typed in any case with or without the dashes.

use rand::RngCore;

use crate::domain::digest;

pub const COUNT: usize = 10;
/// Crockford's base32: no I, L, O or U, so a code read aloud or off paper is not mistyped.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Ten fresh codes, as shown (`XXXX-XXXX-XXXX`), and their digests, as kept.
pub fn fresh_codes() -> (Vec<String>, Vec<String>) {
    let mut rng = rand::rng();
    let codes: Vec<String> = (0..COUNT)
        .map(|_| {
            let mut bytes = [0u8; 12];
            rng.fill_bytes(&mut bytes);
            let chars: String = bytes.iter().map(|b| ALPHABET[usize::from(b % 32)] as char).collect();
            format!("{}-{}-{}", &chars[0..4], &chars[4..8], &chars[8..12])
        })
        .collect();
    let digests = codes.iter().map(|c| digest(&normalise(c))).collect();
    (codes, digests)
}

/// The form a typed code is compared in: upper case, no dashes or spaces, the look-alikes Crockford folds.
pub fn normalise(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            c => c,
        })
        .collect()
}

/// The digest a typed code is looked for under.
pub fn digest_of(typed: &str) -> String {
    digest(&normalise(typed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_ten_distinct_and_found_however_they_are_typed() {
        let (codes, digests) = fresh_codes();
        assert_eq!(codes.len(), 10);
        let unique: std::collections::HashSet<_> = digests.iter().collect();
        assert_eq!(unique.len(), 10);
        let typed = codes[3].to_lowercase().replace('-', " ");
        assert_eq!(digest_of(&typed), digests[3]);
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 14 && c.chars().filter(|&c| c == '-').count() == 2)
        );
    }
}
