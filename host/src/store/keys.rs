//! Key layouts. Ids are ULIDs (fixed width, no '/'), so `clinic/...` prefixes never collide; instants are
//! stored as big-endian sign-flipped integers so byte order is time order.

use jiff::Timestamp;

pub fn clinic_prefix(clinic_id: &str) -> Vec<u8> {
    let mut key = clinic_id.as_bytes().to_vec();
    key.push(b'/');
    key
}

pub fn staff(clinic_id: &str, staff_id: &str) -> Vec<u8> {
    let mut key = clinic_prefix(clinic_id);
    key.extend_from_slice(staff_id.as_bytes());
    key
}

pub fn ordered_instant(instant: Timestamp) -> [u8; 8] {
    ((instant.as_second() as u64) ^ (1 << 63)).to_be_bytes()
}

/// `clinic/<start><appointment id>`: appointments of a clinic in start order.
pub fn appointment_by_start(clinic_id: &str, start: Timestamp, appointment_id: &str) -> Vec<u8> {
    let mut key = start_bound(clinic_id, start);
    key.extend_from_slice(appointment_id.as_bytes());
    key
}

pub fn start_bound(clinic_id: &str, start: Timestamp) -> Vec<u8> {
    let mut key = clinic_prefix(clinic_id);
    key.extend_from_slice(&ordered_instant(start));
    key
}

/// Stands for "the whole clinic" where a practitioner id goes (ids are ULIDs, never this).
const WHOLE_CLINIC: &str = "_clinic";

/// `clinic/practitioner/<start><appointment id>`: one practitioner's (or the whole clinic's) appointments in
/// start order, so the overlap rule reads only those neighbours.
pub fn appointment_by_practitioner(
    clinic_id: &str,
    practitioner_id: Option<&str>,
    start: Timestamp,
    appointment_id: &str,
) -> Vec<u8> {
    let mut key = practitioner_bound(clinic_id, practitioner_id, start);
    key.extend_from_slice(appointment_id.as_bytes());
    key
}

pub fn practitioner_bound(clinic_id: &str, practitioner_id: Option<&str>, start: Timestamp) -> Vec<u8> {
    let mut key = staff(clinic_id, practitioner_id.unwrap_or(WHOLE_CLINIC));
    key.push(b'/');
    key.extend_from_slice(&ordered_instant(start));
    key
}

/// `clinic/<id>` for a clinic's categories, published times and links.
pub fn owned(clinic_id: &str, id: &str) -> Vec<u8> {
    staff(clinic_id, id)
}

/// `clinic/<YYYY-MM-DD>`: a clinic's closed date.
pub fn closed(clinic_id: &str, date: jiff::civil::Date) -> Vec<u8> {
    staff(clinic_id, &date.to_string())
}

/// `link/<YYYY-MM-DD>`: bookings a link took on a clinic-local day.
pub fn link_day(link_id: &str, date: jiff::civil::Date) -> Vec<u8> {
    staff(link_id, &date.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_keys_sort_in_time_order_across_the_epoch() {
        let before: Timestamp = "1969-12-31T23:00:00Z".parse().unwrap();
        let after: Timestamp = "2027-01-01T00:00:00Z".parse().unwrap();
        let later: Timestamp = "2027-01-01T00:00:01Z".parse().unwrap();
        let k = |t| appointment_by_start("C", t, "A");
        assert!(k(before) < k(after) && k(after) < k(later));
    }
}
