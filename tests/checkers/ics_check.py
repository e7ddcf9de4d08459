"""Reads an iCalendar file with the `icalendar` library (not repbook's writer) and prints what a calendar
would take from it, as JSON, with the instant a clinic-local time stands for per Python's own zoneinfo.

usage: ics_check.py FILE ZONE LOCAL_START     (LOCAL_START as YYYY-MM-DDTHH:MM)
"""

import json
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import icalendar


def utc(value):
    moment = value.dt
    if moment.tzinfo is None:
        raise SystemExit(f"floating time {moment!r}: a calendar would place it in the reader's own zone")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    path, zone, local_start = sys.argv[1:4]
    with open(path, "rb") as handle:
        calendar = icalendar.Calendar.from_ical(handle.read())
    events = []
    for event in calendar.walk("VEVENT"):
        events.append(
            {
                "uid": str(event.get("UID")),
                "sequence": int(event.get("SEQUENCE", 0)),
                "status": str(event.get("STATUS", "")),
                "start": utc(event.get("DTSTART")),
                "end": utc(event.get("DTEND")),
                "summary": str(event.get("SUMMARY", "")),
                "description": str(event.get("DESCRIPTION", "")),
                "location": str(event.get("LOCATION", "")),
            }
        )
    expected = (
        datetime.strptime(local_start, "%Y-%m-%dT%H:%M")
        .replace(tzinfo=ZoneInfo(zone))
        .astimezone(timezone.utc)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    print(
        json.dumps(
            {
                "version": str(calendar.get("VERSION", "")),
                "method": str(calendar.get("METHOD", "")),
                "prodid": [str(p) for p in calendar.get("PRODID", [])] if isinstance(calendar.get("PRODID"), list) else [str(calendar.get("PRODID", ""))],
                "events": events,
                "expected_start": expected,
            }
        )
    )


if __name__ == "__main__":
    main()
