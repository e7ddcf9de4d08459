//! Staff sync's matching rule: a practitioner is the PMS user with exactly the same (normalised) AHPRA
//! number. When there is none, a near match (same name, or an AHPRA number one or two characters off) is
//! named so a person can see which record is wrong. When the PMS discloses no registration numbers at
//! all, nobody is matched automatically: the users with the practitioner's name are named as candidates
//! for a manual mapping.

use super::{Ahpra, PmsLink, PmsLinkState, Practitioner};

/// A PMS user as staff sync sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PmsUser {
    pub user_id: i64,
    pub display_name: String,
    pub first_name: String,
    pub last_name: String,
    pub ahpra: Option<String>,
    pub provider_number: Option<String>,
    pub has_appointments: bool,
}

fn differing_chars(a: &str, b: &str) -> usize {
    if a.len() != b.len() {
        return usize::MAX;
    }
    a.chars().zip(b.chars()).filter(|(x, y)| x != y).count()
}

/// Where `practitioner` stands against the PMS users. A manual mapping is kept while its user exists.
pub fn match_practitioner(practitioner: &Practitioner, users: &[PmsUser]) -> PmsLink {
    if practitioner.pms.manual
        && let Some(user_id) = practitioner
            .pms
            .user_id
            .filter(|id| users.iter().any(|u| u.user_id == *id))
    {
        return PmsLink {
            state: PmsLinkState::Synced,
            user_id: Some(user_id),
            reason: practitioner.pms.reason.clone(),
            manual: true,
        };
    }
    let ours = practitioner.ahpra.as_str();
    if !users.is_empty() && users.iter().all(|u| u.ahpra.is_none()) {
        return needs_mapping(practitioner, users);
    }
    if let Some(user) = users
        .iter()
        .find(|u| u.ahpra.as_deref().map(Ahpra::normalise).as_deref() == Some(ours))
    {
        if !user.has_appointments {
            return PmsLink {
                state: PmsLinkState::NotInPms,
                user_id: None,
                reason: Some(format!(
                    "Bp user {} ({}) has this AHPRA number but no appointment book: tick \"Has appointments\" for them in Bp, then Sync Staff again",
                    user.display_name, user.user_id
                )),
                manual: false,
            };
        }
        return PmsLink {
            state: PmsLinkState::Synced,
            user_id: Some(user.user_id),
            reason: None,
            manual: false,
        };
    }
    let same_name = |u: &&PmsUser| same_name(practitioner, u);
    let near_number = |u: &&PmsUser| {
        u.ahpra
            .as_deref()
            .is_some_and(|a| differing_chars(&Ahpra::normalise(a), ours) <= 2)
    };
    match users.iter().find(same_name).or_else(|| users.iter().find(near_number)) {
        Some(near) => PmsLink {
            state: PmsLinkState::AhpraMismatch,
            user_id: None,
            reason: Some(format!(
                "no Bp user has AHPRA {ours}; the nearest is {} (Bp user {}) with AHPRA {}. AHPRA numbers must match \
                 exactly: correct whichever record is wrong, or map this practitioner to Bp user {} by hand",
                near.display_name,
                near.user_id,
                near.ahpra.as_deref().unwrap_or("none"),
                near.user_id
            )),
            manual: false,
        },
        None => PmsLink {
            state: PmsLinkState::NotInPms,
            user_id: None,
            reason: Some(format!(
                "no Bp user has AHPRA {ours}: add the registration number to the doctor's user record in Bp (Setup > Users), then Sync Staff again"
            )),
            manual: false,
        },
    }
}

fn same_name(practitioner: &Practitioner, user: &PmsUser) -> bool {
    user.last_name
        .trim()
        .eq_ignore_ascii_case(practitioner.last_name.trim())
        && user
            .first_name
            .trim()
            .eq_ignore_ascii_case(practitioner.first_name.trim())
}

/// The PMS disclosed no AHPRA numbers: name the users who could be this practitioner.
fn needs_mapping(practitioner: &Practitioner, users: &[PmsUser]) -> PmsLink {
    let candidates: Vec<String> = users
        .iter()
        .filter(|u| u.has_appointments && same_name(practitioner, u))
        .map(|u| match &u.provider_number {
            Some(provider) => format!("{} (Bp user {}, provider no. {provider})", u.display_name, u.user_id),
            None => format!("{} (Bp user {})", u.display_name, u.user_id),
        })
        .collect();
    let hint = match candidates.as_slice() {
        [] => format!(
            "no Bp user with an appointment book is named {} {}; check the spelling in Bp (Setup > Users)",
            practitioner.first_name, practitioner.last_name
        ),
        [one] => format!("{one} has the same name: map to that user if it is this doctor"),
        many => format!("these have the same name: {}; map to the right one", many.join("; ")),
    };
    PmsLink {
        state: PmsLinkState::NeedsMapping,
        user_id: None,
        reason: Some(format!(
            "Bp does not disclose AHPRA numbers to repbook here, so it cannot match by AHPRA: {hint}. \
             (An IT provider can let repbook read them: see the connector's ahpra_column setting.)"
        )),
        manual: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NewPractitioner;

    fn doctor(first: &str, last: &str, ahpra: &str) -> Practitioner {
        Practitioner::create(
            "p".into(),
            "c".into(),
            NewPractitioner {
                title: "Dr".into(),
                first_name: first.into(),
                last_name: last.into(),
                ahpra: ahpra.into(),
            },
        )
        .unwrap()
    }

    fn user(id: i64, first: &str, last: &str, ahpra: Option<&str>) -> PmsUser {
        PmsUser {
            user_id: id,
            display_name: format!("Dr {first} {last}"),
            first_name: first.into(),
            last_name: last.into(),
            ahpra: ahpra.map(Into::into),
            provider_number: None,
            has_appointments: true,
        }
    }

    #[test]
    fn without_any_ahpra_from_the_pms_nobody_matches_and_namesakes_are_named() {
        let mut ana = user(1, "Ana", "Ng", None);
        ana.provider_number = Some("2345671A".into());
        let users = [ana, user(2, "Ben", "Okafor", None)];
        let link = match_practitioner(&doctor("Ana", "Ng", "MED0001234567"), &users);
        assert_eq!((link.state, link.user_id), (PmsLinkState::NeedsMapping, None));
        let reason = link.reason.unwrap();
        assert!(reason.contains("Bp user 1") && reason.contains("2345671A"), "{reason}");
        let link = match_practitioner(&doctor("Zed", "Zulu", "MED0009999999"), &users);
        assert_eq!(link.state, PmsLinkState::NeedsMapping);
        assert!(link.reason.unwrap().contains("no Bp user"));
    }

    #[test]
    fn exact_ahpra_matches_and_a_typo_names_the_near_match() {
        let users = [
            user(1, "Ana", "Ng", Some(" med0001234567 ")),
            user(2, "Ben", "Okafor", Some("MED0007654321")),
        ];
        let link = match_practitioner(&doctor("Ana", "Ng", "MED0001234567"), &users);
        assert_eq!((link.state, link.user_id), (PmsLinkState::Synced, Some(1)));
        let link = match_practitioner(&doctor("Benjamin", "Okafor", "MED0007654312"), &users);
        assert_eq!(link.state, PmsLinkState::AhpraMismatch);
        assert!(link.reason.unwrap().contains("MED0007654321"));
        let link = match_practitioner(&doctor("Zed", "Zulu", "MED0009999999"), &users);
        assert_eq!(link.state, PmsLinkState::NotInPms);
    }

    #[test]
    fn a_user_without_an_appointment_book_is_not_a_match() {
        let mut nurse = user(3, "Dana", "Reception", Some("NMW0001112223"));
        nurse.has_appointments = false;
        let link = match_practitioner(&doctor("Dana", "Reception", "NMW0001112223"), &[nurse]);
        assert_eq!(link.state, PmsLinkState::NotInPms);
        assert!(link.reason.unwrap().contains("Has appointments"));
    }
}
