//! The one iCalendar shape this connector writes (a VCALENDAR with one VEVENT, instants in UTC) and the
//! little it reads back from any event: content lines unfolded, properties with parameters, text unescaped.
//! RFC 5545 §3.1 (folding), §3.3.11 (TEXT escaping), §3.3.5 (DATE-TIME).

/// What repbook puts in a calendar for one visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub uid: String,
    /// Seconds since 1970-01-01 UTC.
    pub start_utc: i64,
    pub end_utc: i64,
    pub summary: String,
    pub description: String,
    pub practitioner_user_id: i64,
    pub attendee: Option<(String, String)>,
    pub cancelled: bool,
    pub sequence: u32,
}

/// An event as read from the server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    pub uid: String,
    pub start_utc: Option<i64>,
    pub end_utc: Option<i64>,
    pub cancelled: bool,
    pub transparent: bool,
    pub summary: String,
    pub sequence: u32,
    pub practitioner_user_id: Option<i64>,
    /// The TZID of DTSTART when it is not UTC (the host would have to resolve it; see `parse`).
    pub start_local: Option<(String, String)>,
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(ch) = chars.next() {
        if ch == '\\' {
            match chars.next() {
                Some('n') | Some('N') => out.push('\n'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(ch);
        }
    }
    out
}

/// Folds a content line at 75 octets, never inside a UTF-8 character.
fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for ch in line.chars() {
        let len = ch.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(ch);
        width += len;
    }
    out.push_str("\r\n");
}

/// `YYYYMMDDTHHMMSSZ` of a UTC instant.
pub fn utc_stamp(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let (y, m, d) = date_of_days(days);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
pub fn date_of_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

pub fn days_since_epoch(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A UTC `YYYYMMDDTHHMMSSZ` back to seconds.
pub fn parse_utc(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    if date.len() != 8 || time.len() != 6 {
        return None;
    }
    let num = |s: &str| s.parse::<i64>().ok();
    let (y, m, d) = (num(&date[0..4])?, num(&date[4..6])? as u32, num(&date[6..8])? as u32);
    let (hh, mm, ss) = (num(&time[0..2])?, num(&time[2..4])?, num(&time[4..6])?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    Some(days_since_epoch(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

impl Visit {
    pub fn to_ics(&self, stamp_utc: i64) -> String {
        let mut out = String::new();
        let mut line = |text: String| fold(&text, &mut out);
        line("BEGIN:VCALENDAR".into());
        line("VERSION:2.0".into());
        line("PRODID:-//repbook//caldav connector//EN".into());
        line("CALSCALE:GREGORIAN".into());
        line("BEGIN:VEVENT".into());
        line(format!("UID:{}", escape(&self.uid)));
        line(format!("DTSTAMP:{}", utc_stamp(stamp_utc)));
        line(format!("DTSTART:{}", utc_stamp(self.start_utc)));
        line(format!("DTEND:{}", utc_stamp(self.end_utc)));
        line(format!("SEQUENCE:{}", self.sequence));
        line(format!("SUMMARY:{}", escape(&self.summary)));
        line(format!("DESCRIPTION:{}", escape(&self.description)));
        line(format!("STATUS:{}", if self.cancelled { "CANCELLED" } else { "CONFIRMED" }));
        line("TRANSP:OPAQUE".into());
        line("CATEGORIES:Rep visit".into());
        if let Some((name, email)) = &self.attendee {
            line(format!(
                "ATTENDEE;CN=\"{}\";ROLE=REQ-PARTICIPANT:mailto:{}",
                name.replace('"', "'"),
                email
            ));
        }
        line(format!("X-REPBOOK-PRACTITIONER:{}", self.practitioner_user_id));
        line("END:VEVENT".into());
        line("END:VCALENDAR".into());
        out
    }
}

/// Content lines, unfolded: `(name, params, value)`.
fn content_lines(text: &str) -> Vec<(String, Vec<(String, String)>, String)> {
    let mut unfolded: Vec<String> = Vec::new();
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix(' ').or_else(|| raw.strip_prefix('\t')) {
            if let Some(last) = unfolded.last_mut() {
                last.push_str(rest);
                continue;
            }
        }
        if !raw.is_empty() {
            unfolded.push(raw.to_string());
        }
    }
    unfolded
        .into_iter()
        .filter_map(|line| {
            // The value starts at the first ':' outside a quoted parameter value.
            let mut quoted = false;
            let colon = line.char_indices().find(|(_, c)| {
                if *c == '"' {
                    quoted = !quoted;
                }
                *c == ':' && !quoted
            })?.0;
            let (head, value) = (&line[..colon], &line[colon + 1..]);
            let mut parts = head.split(';');
            let name = parts.next()?.to_ascii_uppercase();
            let params = parts
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.to_ascii_uppercase(), v.trim_matches('"').to_string()))
                .collect();
            Some((name, params, value.to_string()))
        })
        .collect()
}

/// The VEVENTs of a calendar object (recurrence overrides are not repbook's and are skipped).
pub fn parse(text: &str) -> Vec<Event> {
    let mut events = Vec::new();
    let mut current: Option<Event> = None;
    let mut depth = 0;
    for (name, params, value) in content_lines(text) {
        match name.as_str() {
            "BEGIN" if value.eq_ignore_ascii_case("VEVENT") => {
                current = Some(Event::default());
                depth = 0;
            }
            "BEGIN" => depth += 1,
            "END" if value.eq_ignore_ascii_case("VEVENT") => {
                if let Some(event) = current.take() {
                    events.push(event);
                }
            }
            "END" => depth -= 1,
            _ if depth > 0 => {}
            _ => {
                let Some(event) = current.as_mut() else { continue };
                match name.as_str() {
                    "UID" => event.uid = unescape(&value),
                    "DTSTART" | "DTEND" => {
                        let tzid = params.iter().find(|(k, _)| k == "TZID").map(|(_, v)| v.clone());
                        let utc = parse_utc(&value);
                        if name == "DTSTART" {
                            event.start_utc = utc;
                            if utc.is_none() {
                                event.start_local = Some((tzid.unwrap_or_default(), value.clone()));
                            }
                        } else {
                            event.end_utc = utc;
                        }
                    }
                    "STATUS" => event.cancelled = value.eq_ignore_ascii_case("CANCELLED"),
                    "TRANSP" => event.transparent = value.eq_ignore_ascii_case("TRANSPARENT"),
                    "SUMMARY" => event.summary = unescape(&value),
                    "SEQUENCE" => event.sequence = value.trim().parse().unwrap_or(0),
                    "X-REPBOOK-PRACTITIONER" => event.practitioner_user_id = value.trim().parse().ok(),
                    _ => {}
                }
            }
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visit() -> Visit {
        Visit {
            uid: "01ABC".into(),
            start_utc: parse_utc("20261201T013000Z").unwrap(),
            end_utc: parse_utc("20261201T015000Z").unwrap(),
            summary: "Rep visit: Jane Citizen (Acme; Pharma, Inc.) with Dr Ana Ng".into(),
            description: "Line one\nLine two with a very long tail that goes past the seventy-five octet limit of iCalendar content lines, é included".into(),
            practitioner_user_id: 7,
            attendee: Some(("Dr Ana Ng".into(), "ana@clinic.example".into())),
            cancelled: false,
            sequence: 3,
        }
    }

    #[test]
    fn utc_stamps_round_trip_across_leap_years_and_the_epoch() {
        for text in ["19700101T000000Z", "20240229T235959Z", "20261201T013000Z", "21000301T120000Z"] {
            assert_eq!(utc_stamp(parse_utc(text).unwrap()), text);
        }
        assert_eq!(parse_utc("19700101T000001Z"), Some(1));
        assert!(parse_utc("20261301T000000Z").is_none());
        assert!(parse_utc("20261201T013000").is_none(), "a floating time is not an instant");
    }

    #[test]
    fn what_is_written_reads_back_and_lines_stay_within_75_octets() {
        let text = visit().to_ics(0);
        for line in text.split("\r\n") {
            assert!(line.len() <= 75, "{line:?}");
        }
        assert!(text.contains("SUMMARY:Rep visit: Jane Citizen (Acme\\; Pharma\\, Inc.) with Dr Ana Ng"));
        let events = parse(&text);
        assert_eq!(events.len(), 1);
        let event = &events[0];
        assert_eq!(event.uid, "01ABC");
        assert_eq!(event.start_utc, Some(visit().start_utc));
        assert_eq!(event.end_utc, Some(visit().end_utc));
        assert_eq!(event.summary, visit().summary);
        assert_eq!(event.sequence, 3);
        assert_eq!(event.practitioner_user_id, Some(7));
        assert!(!event.cancelled);
    }

    #[test]
    fn events_written_elsewhere_are_read_with_their_status_and_zone() {
        let text = "BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:Australia/Sydney\nBEGIN:STANDARD\nDTSTART:19700405T030000\nEND:STANDARD\nEND:VTIMEZONE\nBEGIN:VEVENT\nUID:abc\nDTSTART;TZID=Australia/Sydney:20261201T123000\nSTATUS:CANCELLED\nTRANSP:TRANSPARENT\nSUMMARY:Staff\n meeting\nEND:VEVENT\nEND:VCALENDAR\n";
        let events = parse(text);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].summary, "Staffmeeting");
        assert!(events[0].cancelled && events[0].transparent);
        assert_eq!(events[0].start_utc, None);
        assert_eq!(events[0].start_local, Some(("Australia/Sydney".into(), "20261201T123000".into())));
    }
}
