"""Busy times from an iCalendar file (RFC 5545), recurrences expanded.

An adapter: bytes in, plain intervals out. `icalendar` parses, and
`recurring-ical-events` expands RRULE/RDATE/EXDATE and moved occurrences.
"""

from __future__ import annotations

import warnings
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from unghost.errors import BadInput


def busy_times(
    data: bytes, start: datetime, end: datetime, *, tz: ZoneInfo, source: str = "calendar"
) -> list[tuple[datetime, datetime]]:
    """Every busy interval between `start` and `end`; all-day events block the day in `tz`.

    Free (TRANSP:TRANSPARENT) and cancelled events do not count. A file that is not
    iCalendar is `BadInput` naming `source`.
    """
    try:
        with warnings.catch_warnings():
            # Vendor-prefixed TZIDs ("/mozilla.org/…/America/New_York") are read by their
            # tz-database tail, which is what every calendar program means by them.
            warnings.simplefilter("ignore")
            calendar = icalendar.Calendar.from_ical(data)
            events = recurring_ical_events.of(calendar).between(start, end)
    except Exception as exc:  # the libraries raise many kinds on bad input
        raise BadInput(f"{source}: not a readable iCalendar file ({exc})") from None
    out: list[tuple[datetime, datetime]] = []
    for event in events:
        if str(event.get("TRANSP", "")).upper() == "TRANSPARENT":
            continue
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        begin = _moment(event.get("DTSTART"), tz)
        if begin is None:
            continue
        finish = _moment(event.get("DTEND"), tz)
        if finish is None:
            duration = event.get("DURATION")
            if duration is not None:
                finish = begin + duration.dt
            elif isinstance(event.get("DTSTART").dt, date) and not isinstance(
                event.get("DTSTART").dt, datetime
            ):
                finish = begin + timedelta(days=1)
            else:
                finish = begin
        if finish > begin:
            out.append((begin, finish))
    return sorted(out)


def _moment(prop: object, tz: ZoneInfo) -> datetime | None:
    value = getattr(prop, "dt", None)
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=tz)
    return None
