"""Reads a CalDAV calendar with Python's `caldav` client (not repbook's connector) and prints every event's
UID, instants (UTC), status and summary as JSON, for the suites to compare with what repbook holds.

usage: caldav_read.py CALENDAR_URL USER PASSWORD
"""

import json
import sys
from datetime import datetime, timezone

import caldav


def utc(value):
    if value is None:
        return None
    moment = value.dt
    if not isinstance(moment, datetime):
        return moment.isoformat()
    if moment.tzinfo is None:
        raise SystemExit(f"floating time {moment!r}: a calendar would place it in the reader's own zone")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    url, user, password = sys.argv[1:4]
    with caldav.DAVClient(url=url, username=user, password=password) as client:
        calendar = client.calendar(url=url)
        events = []
        for item in calendar.events():
            for component in item.icalendar_instance.walk("VEVENT"):
                events.append(
                    {
                        "href": str(item.url).rstrip("/").rsplit("/", 1)[-1],
                        "uid": str(component.get("UID")),
                        "start": utc(component.get("DTSTART")),
                        "end": utc(component.get("DTEND")),
                        "status": str(component.get("STATUS", "")),
                        "summary": str(component.get("SUMMARY", "")),
                        "sequence": int(component.get("SEQUENCE", 0)),
                    }
                )
    print(json.dumps(sorted(events, key=lambda e: (e["uid"], e["href"]))))


if __name__ == "__main__":
    main()
