//! TOTP (RFC 6238): SHA-1, six digits, 30-second steps, as every authenticator app reads an otpauth URI.
//! A code is accepted for the step before, the step of and the step after now (a phone's clock may be a
//! little off), and only for a step later than the last one accepted: each code works once, and a code
//! from two steps ago never. The enrolment QR code is drawn here as SVG.

use totp_rs::{Algorithm, Secret, TOTP};

const DIGITS: usize = 6;
pub const STEP_SECONDS: u64 = 30;
/// Steps either side of now that still count.
const SKEW: u64 = 1;
const ISSUER: &str = "repbook";

#[derive(Debug, thiserror::Error)]
pub enum TotpError {
    #[error("the TOTP secret cannot be used: {0}")]
    Secret(String),
}

/// A fresh secret (160 bits, RFC 4226's recommendation), base32.
pub fn fresh_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    Secret::Raw(bytes.to_vec()).to_encoded().to_string()
}

fn totp(secret: &str, account: &str) -> Result<TOTP, TotpError> {
    let bytes = Secret::Encoded(secret.to_string())
        .to_bytes()
        .map_err(|e| TotpError::Secret(format!("{e:?}")))?;
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        SKEW as u8,
        STEP_SECONDS,
        bytes,
        Some(ISSUER.to_string()),
        account.to_string(),
    )
    .map_err(|e| TotpError::Secret(e.to_string()))
}

/// What an authenticator app scans: the otpauth URI and the same as an SVG QR code.
pub struct Enrolment {
    pub uri: String,
    pub qr_svg: String,
}

pub fn enrolment(secret: &str, account: &str) -> Result<Enrolment, TotpError> {
    let uri = totp(secret, account)?.get_url();
    let qr = qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| TotpError::Secret(e.to_string()))?;
    let qr_svg = qr
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build();
    Ok(Enrolment { uri, qr_svg })
}

/// The time step `code` is right for at `unix_seconds`, if any, among those later than `last_step`.
pub fn accepted_step(secret: &str, code: &str, unix_seconds: u64, last_step: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let totp = totp(secret, "check").ok()?;
    let now = unix_seconds / STEP_SECONDS;
    (now.saturating_sub(SKEW)..=now + SKEW)
        .filter(|step| *step > last_step)
        .find(|step| {
            let expected = totp.generate(step * STEP_SECONDS);
            bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), code.as_bytes()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 secret "12345678901234567890"; the six low digits of its vectors.
    #[test]
    fn codes_match_rfc_6238s_test_vectors_and_each_works_once() {
        let secret = Secret::Raw(b"12345678901234567890".to_vec()).to_encoded().to_string();
        assert_eq!(accepted_step(&secret, "287082", 59, 0), Some(1));
        assert_eq!(accepted_step(&secret, "081804", 1_111_111_109, 0), Some(37_037_036));
        assert_eq!(accepted_step(&secret, "050471", 1_111_111_111, 0), Some(37_037_037));
        // Used once: the same step is not accepted again.
        assert_eq!(accepted_step(&secret, "050471", 1_111_111_111, 37_037_037), None);
        // A code of two steps ago is refused; one step ago still counts.
        assert_eq!(accepted_step(&secret, "081804", 1_111_111_109 + 60, 0), None);
        assert_eq!(
            accepted_step(&secret, "081804", 1_111_111_109 + 30, 0),
            Some(37_037_036)
        );
        assert_eq!(accepted_step(&secret, "12345", 59, 0), None);
        assert_eq!(accepted_step(&secret, "28 7082", 59, 0), Some(1));
    }

    #[test]
    fn the_enrolment_is_an_otpauth_uri_and_an_svg() {
        let enrolment = enrolment(&fresh_secret(), "ana@clinic.test").unwrap();
        assert!(
            enrolment
                .uri
                .starts_with("otpauth://totp/repbook:ana%40clinic.test?secret="),
            "{}",
            enrolment.uri
        );
        assert!(enrolment.qr_svg.contains("<svg"));
    }
}
