//! Medical staff (practitioners), identified across systems by their AHPRA registration number.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{DomainError, require_text};

/// An AHPRA registration number in normal form: three letters then ten digits, e.g. `MED0001234567`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Ahpra(String);

impl Ahpra {
    /// Normalises (trim, upper-case, drop inner white space) then validates the shape.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let normal = Self::normalise(text);
        let bytes = normal.as_bytes();
        let shape_ok = bytes.len() == 13
            && bytes[..3].iter().all(u8::is_ascii_uppercase)
            && bytes[3..].iter().all(u8::is_ascii_digit);
        if shape_ok {
            Ok(Ahpra(normal))
        } else {
            Err(DomainError::Invalid {
                field: "ahpra",
                message: format!(
                    "AHPRA number '{}' is not three letters followed by ten digits (e.g. MED0001234567); \
                     copy it from the AHPRA register",
                    text.trim()
                ),
            })
        }
    }

    /// The comparison form used for matching PMS users; values that are not valid AHPRA numbers still
    /// normalise so that a near match can be named.
    pub fn normalise(text: &str) -> String {
        text.chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ahpra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PmsLinkState {
    Unsynced,
    Synced,
    NotInPms,
    AhpraMismatch,
    /// The PMS does not disclose registration numbers, so a person maps the practitioner by hand.
    NeedsMapping,
}

/// Where this practitioner stands in the PMS, filled in by staff sync (or by a manual mapping).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PmsLink {
    pub state: PmsLinkState,
    pub user_id: Option<i64>,
    pub reason: Option<String>,
    pub manual: bool,
}

impl Default for PmsLink {
    fn default() -> Self {
        PmsLink {
            state: PmsLinkState::Unsynced,
            user_id: None,
            reason: None,
            manual: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Practitioner {
    pub id: String,
    pub clinic_id: String,
    pub title: String,
    pub first_name: String,
    pub last_name: String,
    pub ahpra: Ahpra,
    pub pms: PmsLink,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPractitioner {
    #[serde(default)]
    #[schema(max_length = 20, pattern = "@line-or-empty")]
    pub title: String,
    #[schema(min_length = 1, max_length = 100, pattern = "@line")]
    pub first_name: String,
    #[schema(min_length = 1, max_length = 100, pattern = "@line")]
    pub last_name: String,
    #[schema(pattern = r"^\s*[A-Za-z]\s*[A-Za-z]\s*[A-Za-z](\s*[0-9]){10}\s*$")]
    pub ahpra: String,
}

impl Practitioner {
    pub fn create(id: String, clinic_id: String, new: NewPractitioner) -> Result<Self, DomainError> {
        super::refuse_controls("title", &new.title, false)?;
        super::refuse_invisible("title", &new.title)?;
        Ok(Practitioner {
            id,
            clinic_id,
            title: {
                let title = new.title.trim();
                if title.chars().count() > 20 {
                    return Err(DomainError::Invalid {
                        field: "title",
                        message: "title is longer than 20 characters (Dr, Prof, A/Prof...)".into(),
                    });
                }
                title.to_string()
            },
            first_name: require_text("first_name", &new.first_name, 100)?,
            last_name: require_text("last_name", &new.last_name, 100)?,
            ahpra: Ahpra::parse(&new.ahpra)?,
            pms: PmsLink::default(),
        })
    }

    pub fn display_name(&self) -> String {
        let name = format!("{} {}", self.first_name, self.last_name);
        if self.title.is_empty() {
            name
        } else {
            format!("{} {name}", self.title)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ahpra_is_normalised_before_validation() {
        assert_eq!(Ahpra::parse("  med 000 123 4567 ").unwrap().as_str(), "MED0001234567");
        assert_eq!(Ahpra::parse("MED000123456").unwrap_err().code(), "invalid_value");
        assert!(Ahpra::parse("M3D0001234567").is_err());
        assert!(Ahpra::parse("MED00012345678").is_err());
    }
}
