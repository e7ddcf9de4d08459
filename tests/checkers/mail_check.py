"""Reads mail messages (.eml) with Python's standard `email` package and an attached calendar with the
`icalendar` library -- neither is repbook's code -- and prints what a mail client would take from each, as a
JSON array in the order given.

usage: mail_check.py [--zone ZONE] FILE...

With --zone, each calendar event's start is also shown in that zone (Python's own zoneinfo), with the
abbreviation a person in that zone reads (AEDT, ACST, ...).
"""

import argparse
import json
import re
import sys
from datetime import timezone
from email import message_from_bytes, policy
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import icalendar


class HtmlReader(HTMLParser):
    """The text a person sees, and anything that would fetch from elsewhere when the message opens."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text = []
        self.remote = []
        self.scripts = 0
        self.images = 0
        self.links = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "img":
            self.images += 1
        for name in ("src", "background"):
            if name in attrs and re.match(r"^(https?:)?//", attrs[name] or ""):
                self.remote.append(attrs[name])
        if tag == "link" and attrs.get("href"):
            self.remote.append(attrs["href"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])

    def handle_data(self, data):
        self.text.append(data)


def addresses(message, name):
    header = message.get(name)
    if header is None:
        return []
    return [{"name": a.display_name, "address": a.addr_spec} for a in header.addresses]


def calendar_of(part, zone):
    raw = part.get_payload(decode=True)
    calendar = icalendar.Calendar.from_ical(raw)
    events = []
    for event in calendar.walk("VEVENT"):
        start = event.get("DTSTART").dt
        end = event.get("DTEND").dt
        if start.tzinfo is None:
            raise SystemExit(f"floating time {start!r}: a calendar would place it in the reader's own zone")
        shown = {
            "uid": str(event.get("UID")),
            "sequence": int(event.get("SEQUENCE", 0)),
            "status": str(event.get("STATUS", "")),
            "start_utc": start.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end_utc": end.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "summary": str(event.get("SUMMARY", "")),
            "organizer": str(event.get("ORGANIZER", "")),
            "attendee": str(event.get("ATTENDEE", "")),
        }
        if zone:
            local = start.astimezone(ZoneInfo(zone))
            shown["start_local"] = local.strftime("%Y-%m-%dT%H:%M")
            shown["start_abbreviation"] = local.tzname()
        events.append(shown)
    return {
        "content_type_method": part.get_content_type() == "text/calendar" and part.get_param("method"),
        "method": str(calendar.get("METHOD", "")),
        "filename": part.get_filename(),
        "events": events,
    }


def read(path, zone):
    with open(path, "rb") as handle:
        raw = handle.read()
    message = message_from_bytes(raw, policy=policy.default)
    text = html = None
    calendar = None
    types = []
    for part in message.walk():
        kind = part.get_content_type()
        types.append(kind)
        if part.is_multipart():
            continue
        if kind == "text/plain" and text is None and not part.get_filename():
            text = part.get_content()
        elif kind == "text/html" and html is None:
            html = part.get_content()
        elif kind == "text/calendar":
            calendar = calendar_of(part, zone)
    reader = HtmlReader()
    if html is not None:
        reader.feed(html)
    date = message.get("Date")
    return {
        "file": str(path),
        "defects": [type(d).__name__ for d in message.defects]
        + [type(d).__name__ for p in message.walk() for d in p.defects],
        "subject": str(message.get("Subject", "")),
        "from": addresses(message, "From"),
        "to": [a["address"] for a in addresses(message, "To")],
        "reply_to": [a["address"] for a in addresses(message, "Reply-To")],
        "date": parsedate_to_datetime(str(date)).astimezone(timezone.utc).isoformat() if date else None,
        "message_id": str(message.get("Message-ID", "")),
        "content_types": types,
        "text": text or "",
        "html_text": " ".join(" ".join(reader.text).split()),
        "html_remote": reader.remote,
        "html_scripts": reader.scripts,
        "html_images": reader.images,
        "html_links": reader.links,
        "links": re.findall(r"https?://[^\s<>\"')]+", text or ""),
        "calendar": calendar,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--zone")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    print(json.dumps([read(path, args.zone) for path in args.files]))


if __name__ == "__main__":
    sys.exit(main())
