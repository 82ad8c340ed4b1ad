"""`unghost slots`: free times from working hours, stored meetings and an iCalendar file."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from helpers import CliResult, small_workspace
from unghost.channels.ics import busy_times
from unghost.errors import BadInput

Cli = Callable[..., CliResult]
ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:standup@example.com
DTSTART;TZID=America/New_York:20261116T090000
DTEND;TZID=America/New_York:20261116T170000
RRULE:FREQ=WEEKLY;BYDAY=MO,TU
SUMMARY:Workshop days
END:VEVENT
BEGIN:VEVENT
UID:free@example.com
DTSTART;TZID=America/New_York:20261125T090000
DTEND;TZID=America/New_York:20261125T170000
TRANSP:TRANSPARENT
SUMMARY:Reminder only
END:VEVENT
END:VCALENDAR
"""
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "collective__icalendar"


def test_slots_skip_recurring_busy_days_from_an_ics_file(cli: Cli, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/s.db"
    workspace = tmp_path / "w.json"
    workspace.write_text(json.dumps(small_workspace()))
    assert cli("--db", db, "import", str(workspace)).code == 0
    calendar = tmp_path / "busy.ics"
    calendar.write_bytes(ICS)
    result = cli("--db", db, "slots", "--as-of", "2026-11-23T08:00", "--calendar",
                 str(calendar), "--json", "--tz", "Europe/London")  # fmt: skip
    assert result.code == 0, result.err
    starts = [datetime.fromisoformat(s["start"]) for s in json.loads(result.out)]
    assert len(starts) == 3
    # Mondays and Tuesdays are workshop days, Thursday is Thanksgiving, and a free-time
    # reminder on Wednesday does not block it.
    assert [s.strftime("%a %d") for s in starts] == ["Wed 25", "Fri 27", "Wed 02"]
    assert all(s.utcoffset() == timedelta(0) for s in starts), "London is on GMT in November"


def test_every_calendar_of_real_programs_reads_or_fails_with_one_line() -> None:
    files = sorted(DATA.rglob("*.ics"))
    assert len(files) > 100
    start = datetime.fromisoformat("2000-01-01T00:00:00+00:00")
    end = datetime.fromisoformat("2030-01-01T00:00:00+00:00")
    read = 0
    for f in files:
        try:
            busy_times(f.read_bytes(), start, end, tz=ZoneInfo("UTC"), source=str(f))
            read += 1
        except BadInput as exc:
            assert str(exc).startswith(str(f)) and "\n" not in str(exc)
    assert read >= 100


def test_a_file_that_is_not_a_calendar_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="not a readable iCalendar file"):
        busy_times(b"hello", datetime.now().astimezone(), datetime.now().astimezone(),
                   tz=ZoneInfo("UTC"), source="x.ics")  # fmt: skip
