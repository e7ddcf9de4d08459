//! The representative who visits: their name, company, address and phone as a booking carries them,
//! checked and cleaned once (an address loses invisible characters; it reaches the PMS only as a query
//! parameter).

use serde::{Deserialize, Serialize};

use super::email::{clean_email, looks_like_email};
use super::{DomainError, refuse_controls, refuse_invisible, require_text};

/// The representative who visits. Stored verbatim (trimmed); it reaches the PMS only as a query parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rep {
    #[schema(min_length = 1, max_length = 120, pattern = "@line")]
    pub name: String,
    #[schema(min_length = 1, max_length = 120, pattern = "@line")]
    pub company: String,
    #[serde(default)]
    #[schema(
        max_length = 254,
        pattern = r"^[ \u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]*$|^[ \u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]*[^\s@\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]+@[^\s\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*\.[^\s\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\s.\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069][^\s\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[ \u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]*$"
    )]
    pub email: String,
    #[serde(default)]
    #[schema(max_length = 40, pattern = "@line-or-empty")]
    pub phone: Option<String>,
}

impl Rep {
    pub fn validated(self) -> Result<Rep, DomainError> {
        refuse_controls("rep.email", &self.email, false)?;
        if let Some(phone) = &self.phone {
            refuse_controls("rep.phone", phone, false)?;
            refuse_invisible("rep.phone", phone)?;
            if phone.chars().count() > 40 {
                return Err(DomainError::Invalid {
                    field: "rep.phone",
                    message: "rep.phone is longer than 40 characters".into(),
                });
            }
        }
        let email = clean_email(&self.email);
        if email.chars().count() > 254 {
            return Err(DomainError::Invalid {
                field: "rep.email",
                message: "rep.email is longer than 254 characters".into(),
            });
        }
        if !email.is_empty() && !looks_like_email(&email) {
            return Err(DomainError::Invalid {
                field: "rep.email",
                message: format!("rep.email '{email}' is not an email address (name@example.com)"),
            });
        }
        Ok(Rep {
            name: require_text("rep.name", &self.name, 120)?,
            company: require_text("rep.company", &self.company, 120)?,
            email,
            phone: self.phone.map(|p| p.trim().to_string()).filter(|p| !p.is_empty()),
        })
    }
}
