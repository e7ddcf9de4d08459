//! Messages to reps on a clinic's waitlist: confirm the address, a time came free, it was taken.

use super::compose::{Composer, Letter, when, when_short};
use crate::domain::{MessageKind, OutgoingMessage, WaitlistEntry, WaitlistOffer};

impl Composer<'_> {
    fn waitlist_facts(&self, entry: &WaitlistEntry, with: &str) -> Vec<(String, String)> {
        vec![
            ("Clinic".to_string(), self.clinic.name.clone()),
            ("With".to_string(), with.to_string()),
            ("Days".to_string(), entry.weekdays_text()),
            ("Until".to_string(), entry.until.strftime("%A %-d %B %Y").to_string()),
        ]
    }

    /// To a rep who asked to join the waitlist: confirm the address (the link also shows and leaves it).
    pub fn waitlist_confirm(&self, entry: &WaitlistEntry, with: &str, entry_token: &str) -> Option<OutgoingMessage> {
        let name = &self.clinic.name;
        let letter = Letter {
            subject: format!("Confirm: tell me of freed rep-visit times at {name}"),
            heading: "Please confirm your place on the waitlist".to_string(),
            paragraphs: vec![
                format!(
                    "You asked {name} to tell you when a rep-visit time that suits you comes free. Confirm that this is your email address to join the waitlist."
                ),
                "If you did not ask for this, ignore this email: nothing else happens.".to_string(),
            ],
            facts: self.waitlist_facts(entry, with),
            row_headers: vec![],
            rows: vec![],
            action: Some((
                "Confirm and join the waitlist".to_string(),
                self.identity.link(&format!("/waitlist/{entry_token}")),
            )),
            links: vec![],
            footer: self.footer("because someone asked to join a clinic's waitlist with this email address"),
        };
        self.message(
            MessageKind::WaitlistConfirm,
            None,
            vec![entry.rep.email.clone()],
            letter,
            None,
        )
    }

    /// To a rep on the waitlist: a time came free. In turn it is held for them until `held_until`;
    /// to all, the first to claim it has it.
    /// Its one capability claims the time and can leave the list.
    pub fn waitlist_offer(
        &self,
        entry: &WaitlistEntry,
        offer: &WaitlistOffer,
        with: &str,
        offer_token: &str,
    ) -> Option<OutgoingMessage> {
        let clinic = self.clinic;
        let name = &clinic.name;
        let at = when(offer.start, clinic);
        let first = match offer.expires_at {
            Some(until) => format!(
                "A rep-visit time you asked for came free at {name}, and it is held for you until {}. Claim it before then, or it passes to the next rep on the list.",
                when(until, clinic)
            ),
            None => format!(
                "A rep-visit time you asked for came free at {name}. It was offered to every rep waiting for it: the first to claim it has it."
            ),
        };
        let letter = Letter {
            subject: format!("A time came free at {name}: {}", when_short(offer.start, clinic)),
            heading: "A time you asked for is free".to_string(),
            paragraphs: vec![
                first,
                "The clinic's rules apply when you claim it (your open visits, visits per company, approval where the time needs it).".to_string(),
            ],
            facts: vec![
                ("When".to_string(), at),
                ("Length".to_string(), format!("{} minutes", offer.minutes)),
                ("With".to_string(), with.to_string()),
                ("Where".to_string(), name.clone()),
            ],
            row_headers: vec![],
            rows: vec![],
            action: Some((
                "Claim this time".to_string(),
                self.identity.link(&format!("/offer/{offer_token}")),
            )),
            links: vec![(
                "Leave the waitlist".to_string(),
                self.identity.link(&format!("/waitlist/{offer_token}")),
            )],
            footer: self.footer("because this email address is on the clinic's waitlist"),
        };
        self.message(
            MessageKind::WaitlistOffer,
            offer.held_appointment.as_deref(),
            vec![entry.rep.email.clone()],
            letter,
            None,
        )
    }

    /// To a rep who was offered a time that someone else took first.
    pub fn waitlist_gone(
        &self,
        entry: &WaitlistEntry,
        offer: &WaitlistOffer,
        with: &str,
        leave_token: &str,
    ) -> Option<OutgoingMessage> {
        let clinic = self.clinic;
        let letter = Letter {
            subject: format!("Taken: {} at {}", when_short(offer.start, clinic), clinic.name),
            heading: "That time has gone".to_string(),
            paragraphs: vec![format!(
                "The time offered to you ({} with {with}) was taken by another rep first. You stay on the waitlist and hear of the next time that suits you.",
                when(offer.start, clinic)
            )],
            facts: vec![],
            row_headers: vec![],
            rows: vec![],
            action: None,
            links: vec![(
                "Leave the waitlist".to_string(),
                self.identity.link(&format!("/waitlist/{leave_token}")),
            )],
            footer: self.footer("because this email address is on the clinic's waitlist"),
        };
        self.message(
            MessageKind::WaitlistGone,
            None,
            vec![entry.rep.email.clone()],
            letter,
            None,
        )
    }
}
