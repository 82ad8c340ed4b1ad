"""Free times to offer a prospect (PRODUCT §4 `missed-meeting`, §6 calendar).

`free_slots` picks a few specific times from the owner's free calendar, in the
prospect's time zone, one per business day, at times people like to be offered
(10:00, then 14:00, then other full and half hours). 004: offer new times and
ask them to pick one.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from unghost.domain.calendar import BusinessCalendar, recipient_windows, to_utc, zone
from unghost.errors import BadInput

BUSY_BUFFER = timedelta(minutes=15)
"""Kept free before and after every busy interval."""

LEAD_TIME = timedelta(hours=2)
"""The earliest slot starts this long after `now`."""

_GRID = timedelta(minutes=30)
_DAY = timedelta(days=1)
_PREFERRED_MINUTE = 10 * 60  # 10:00, morning-ish
_SECOND_CHOICE_MINUTE = 14 * 60  # 14:00

_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

__all__ = ["BUSY_BUFFER", "LEAD_TIME", "Slot", "format_slot", "free_slots"]

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Slot:
    """A free time [start, end) to offer, in the recipient's (or owner's) time zone."""

    start: datetime
    end: datetime


def free_slots(
    cal: BusinessCalendar,
    busy: Sequence[tuple[datetime, datetime]],
    *,
    now: datetime,
    count: int = 3,
    minutes: int = 30,
    recipient_tz: str | None = None,
    horizon_business_days: int = 10,
    distinct_days: bool = True,
) -> list[Slot]:
    """Up to `count` free slots of `minutes`, in order, in the recipient's time zone.

    A slot lies within the owner's working hours on a business day and, when
    `recipient_tz` is given, within 09:00–17:00 on the recipient's Monday to
    Friday; it keeps `BUSY_BUFFER` clear of every busy interval and starts at
    least `LEAD_TIME` after `now` (so today only has slots when two working
    hours remain). With `distinct_days`, slots fall on different business days
    of the owner and on different dates for the recipient. Each day offers its
    most agreeable time in the recipient's clock: 10:00, then 14:00, then other
    full hours, then half hours, nearest 10:00 first. The search covers the
    rest of today and the next `horizon_business_days` business days; fewer
    than `count` slots come back only when that is exhausted.
    """
    if count < 0:
        raise BadInput(f"count must be 0 or more, got {count}")
    if minutes <= 0:
        raise BadInput(f"minutes must be more than 0, got {minutes}")
    if horizon_business_days < 0:
        raise BadInput(f"horizon_business_days must be 0 or more, got {horizon_business_days}")
    shown_in = zone(recipient_tz) if recipient_tz is not None else cal.zone
    length = timedelta(minutes=minutes)
    earliest = to_utc(now) + LEAD_TIME
    blocked = _merge(busy)
    blocked_ends = [end for _, end in blocked]

    chosen: list[Interval] = []
    shown_dates: set[date] = set()
    today = to_utc(now).astimezone(cal.zone).date()
    day, later_days = today, 0
    while len(chosen) < count:
        if day > today and cal.is_business_day(day):
            later_days += 1
            if later_days > horizon_business_days:
                break
        period = cal.working_period(day)
        day += _DAY
        if period is None:
            continue
        allowed = _allowed(period, earliest, recipient_tz)
        free = [piece for a, b in allowed for piece in _subtract(a, b, blocked, blocked_ends)]
        ranked = sorted(_candidates(free, length, shown_in), key=lambda t: _preference(t, shown_in))
        for start in ranked:
            slot = (start, start + length)
            if distinct_days:
                shown_date = start.astimezone(shown_in).date()
                if shown_date in shown_dates:
                    continue
                shown_dates.add(shown_date)
                chosen.append(slot)
                break
            if all(slot[1] <= s or e <= slot[0] for s, e in chosen):
                chosen.append(slot)
                if len(chosen) == count:
                    break
    chosen.sort()
    return [Slot(s.astimezone(shown_in), e.astimezone(shown_in)) for s, e in chosen]


def _merge(busy: Sequence[tuple[datetime, datetime]]) -> list[Interval]:
    """Busy intervals widened by the buffer, in UTC, sorted and merged."""
    widened: list[Interval] = []
    for start, end in busy:
        s, e = to_utc(start), to_utc(end)
        if e < s:
            raise BadInput(f"busy interval ends before it starts: {start.isoformat()}")
        widened.append((s - BUSY_BUFFER, e + BUSY_BUFFER))
    widened.sort()
    merged: list[Interval] = []
    for s, e in widened:
        if merged and s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def _allowed(
    period: tuple[datetime, datetime], earliest: datetime, recipient_tz: str | None
) -> list[Interval]:
    """The part of a working period after `earliest` and in the recipient's hours, in UTC."""
    start, end = max(to_utc(period[0]), earliest), to_utc(period[1])
    if start >= end:
        return []
    if recipient_tz is None:
        return [(start, end)]
    pieces = []
    for ws, we in recipient_windows(recipient_tz, start, end):
        if max(start, ws) < min(end, we):
            pieces.append((max(start, ws), min(end, we)))
    return pieces


def _subtract(
    start: datetime, end: datetime, blocked: list[Interval], blocked_ends: list[datetime]
) -> Iterator[Interval]:
    """[start, end) minus the merged blocked intervals."""
    i = bisect_right(blocked_ends, start)
    cursor = start
    while i < len(blocked) and blocked[i][0] < end:
        if blocked[i][0] > cursor:
            yield cursor, blocked[i][0]
        cursor = max(cursor, blocked[i][1])
        i += 1
    if cursor < end:
        yield cursor, end


def _candidates(free: list[Interval], length: timedelta, shown_in: ZoneInfo) -> Iterator[datetime]:
    """Possible starts in the free pieces: every full and half hour, else the piece's start."""
    for start, end in free:
        last = end - length
        if last < start:
            continue
        local = start.astimezone(shown_in)
        past_grid = timedelta(
            minutes=local.minute % 30, seconds=local.second, microseconds=local.microsecond
        )
        t = start if not past_grid else start + (_GRID - past_grid)
        while t <= last:
            yield t
            t += _GRID
        # the first five-minute mark, and the very start, for pieces the grid misses
        past_five = timedelta(
            minutes=local.minute % 5, seconds=local.second, microseconds=local.microsecond
        )
        rounded = start if not past_five else start + (timedelta(minutes=5) - past_five)
        if rounded <= last:
            yield rounded
        yield start


def _preference(start: datetime, shown_in: ZoneInfo) -> tuple[int, int, int]:
    """Sort key: 10:00, 14:00, full hours, half hours, other minutes; nearer 10:00 first."""
    local = start.astimezone(shown_in)
    minute = local.hour * 60 + local.minute
    if local.second or local.microsecond:
        tier = 5
    elif minute == _PREFERRED_MINUTE:
        tier = 0
    elif minute == _SECOND_CHOICE_MINUTE:
        tier = 1
    elif local.minute == 0:
        tier = 2
    elif local.minute == 30:
        tier = 3
    else:
        tier = 4
    # between equals (09:00 and 11:00), the later one: not first thing in the morning
    return tier, abs(minute - _PREFERRED_MINUTE), -minute


def format_slot(slot: Slot, *, locale_style: str = "en") -> str:
    """A slot's start for a message: "Tuesday 24 November, 10:00 EST".

    `locale_style` "en" gives that; "en-US" gives "Tuesday, November 24, 10:00 AM EST".
    """
    start = slot.start
    weekday, month = _WEEKDAY_NAMES[start.weekday()], _MONTH_NAMES[start.month - 1]
    abbreviation = start.strftime("%Z")
    if locale_style == "en":
        return f"{weekday} {start.day} {month}, {start:%H:%M} {abbreviation}"
    if locale_style == "en-US":
        clock = f"{(start.hour - 1) % 12 + 1}:{start:%M} {'AM' if start.hour < 12 else 'PM'}"
        return f"{weekday}, {month} {start.day}, {clock} {abbreviation}"
    raise BadInput(f"unknown locale style {locale_style!r} (use 'en' or 'en-US')")
