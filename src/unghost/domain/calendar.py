"""Business time in the owner's calendar (PRODUCT §3, §4 rule 2).

Time is always business time in the owner's calendar: their time zone, their
working days and hours, and the public holidays of their country. A
`BusinessCalendar` answers the questions the silence rules and the cadence ask
("five business days later", "next morning", "when is it business time for
both of us") from data alone: `now` and every other instant is an argument.

Every method takes aware datetimes in any zone and returns them in the owner's
zone. Instants are compared in UTC internally, because Python compares two
datetimes that share a tzinfo by wall clock and ignores `fold`.

Local times that a daylight-saving change makes odd are read as
`datetime.combine(day, t, tzinfo=zone)` reads them (fold 0): a time that does
not exist (02:30 on a spring-forward night in New York) uses the offset in
force before the change, so it falls an hour later (03:30); a time that exists
twice (01:30 on a fall-back night) is its first occurrence. A working day whose
hours a clock change skips entirely (02:00–03:00 on that night) has no business
time and so is not a business day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from unghost.domain.model import WEEKDAYS, Owner
from unghost.errors import BadInput

RECIPIENT_HOURS: tuple[time, time] = (time(9), time(17))
"""A recipient's business hours, Monday to Friday, in their own time zone."""

RECIPIENT_SEARCH_DAYS = 60
"""How far `in_recipient_hours` looks for an overlap before it falls back."""

_SEARCH_DAYS = 400  # a calendar with working days has business time within a few weeks
_DAY = timedelta(days=1)
_QUARTER = timedelta(minutes=15)

__all__ = [
    "RECIPIENT_HOURS",
    "RECIPIENT_SEARCH_DAYS",
    "BusinessCalendar",
    "recipient_windows",
    "to_utc",
    "zone",
]


@cache
def zone(name: str) -> ZoneInfo:
    """The `ZoneInfo` for an IANA name, cached; an unknown name is `BadInput`."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise BadInput(f"unknown time zone {name!r}") from None


def to_utc(dt: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is a programming error."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"an aware datetime is needed, got naive {dt.isoformat()}")
    return dt.astimezone(UTC)


@cache
def _check_country(country: str) -> None:
    try:
        holidays.country_holidays(country, years=[])
    except NotImplementedError:
        raise BadInput(f"no public holidays are known for country {country!r}") from None


@cache
def _holidays(country: str, year: int) -> Mapping[date, str]:
    """The public holidays of one country in one year (observed days included)."""
    table = holidays.country_holidays(country, years=year)
    return {day: str(name) for day, name in table.items() if day.year == year}


def _earliest_overlap(
    start: datetime, end: datetime, recipient_tz: str, hours: tuple[time, time]
) -> datetime | None:
    """The first instant of [start, end) within the recipient's hours, if any."""
    for ws, we in recipient_windows(recipient_tz, start, end, hours):
        if max(start, ws) < min(end, we):
            return max(start, ws)
    return None


@lru_cache(maxsize=1024)
def _skipped_dates(timezone: str, hours: tuple[time, time], year: int) -> tuple[date, ...]:
    """The dates of one year on which a clock change leaves no working hours at all."""
    tz = zone(timezone)
    day, skipped = date(year, 1, 1), []
    while day.year == year:
        start = datetime.combine(day, hours[0], tz).astimezone(UTC)
        if start >= datetime.combine(day, hours[1], tz).astimezone(UTC):
            skipped.append(day)
        day += _DAY
    return tuple(skipped)


@lru_cache(maxsize=1024)
def _shared_calendar(
    timezone: str, country: str | None, working_days: tuple[str, ...], hours: tuple[time, time]
) -> BusinessCalendar:
    return BusinessCalendar(timezone, country, working_days, hours)


@lru_cache(maxsize=65536)
def _recipient_window(
    recipient_tz: str, day: date, hours: tuple[time, time]
) -> tuple[datetime, datetime] | None:
    """One recipient date's business hours in UTC, or None on their weekend."""
    if day.weekday() >= 5:
        return None
    rzone = zone(recipient_tz)
    start = datetime.combine(day, hours[0], rzone).astimezone(UTC)
    end = datetime.combine(day, hours[1], rzone).astimezone(UTC)
    return (start, end) if start < end else None


def recipient_windows(
    recipient_tz: str,
    start: datetime,
    end: datetime,
    hours: tuple[time, time] = RECIPIENT_HOURS,
) -> list[tuple[datetime, datetime]]:
    """The recipient's business hours on each of their dates from start's to end's, in UTC.

    In order, not clipped to [start, end]. Recipients have no known holidays;
    their week is Monday to Friday.
    """
    rzone = zone(recipient_tz)
    first = to_utc(start).astimezone(rzone).date()
    last = to_utc(end).astimezone(rzone).date()
    windows: list[tuple[datetime, datetime]] = []
    day = first
    while day <= last:
        window = _recipient_window(recipient_tz, day, hours)
        if window is not None:
            windows.append(window)
        day += _DAY
    return windows


@dataclass(frozen=True)
class BusinessCalendar:
    """An owner's business time: time zone, working days and hours, public holidays.

    Build it with `BusinessCalendar.for_owner(owner)` or from the fields. A
    country of None means no public holidays. Working hours are one period per
    working day, start inclusive, end exclusive, and must not cross midnight.
    """

    timezone: str = "UTC"
    country: str | None = None
    working_days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    working_hours: tuple[time, time] = (time(9), time(17))
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _weekdays: frozenset[int] = field(init=False, repr=False, compare=False)
    # per-date memos: the planner asks the same few weeks of dates for every deal
    _business: dict[date, bool] = field(init=False, repr=False, compare=False)
    _periods: dict[date, tuple[datetime, datetime] | None] = field(
        init=False, repr=False, compare=False
    )
    _overlaps: dict[tuple[str, tuple[time, time], date], datetime | None] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        country = self.country.strip().upper() if self.country else None
        if country:
            _check_country(country)
        days = tuple(str(day).strip().lower()[:3] for day in self.working_days)
        unknown = [day for day in days if day not in WEEKDAYS]
        if unknown:
            raise BadInput(f"working_days: unknown day {unknown[0]!r} (use mon…sun)")
        if not days:
            raise BadInput("working_days: at least one working day is needed")
        start, end = self.working_hours
        if start.tzinfo is not None or end.tzinfo is not None:
            raise BadInput("working_hours: give local times without a time zone")
        if not start < end:
            raise BadInput(
                f"working_hours: start {start.isoformat('minutes')} must be before "
                f"end {end.isoformat('minutes')}"
            )
        object.__setattr__(self, "country", country or None)
        object.__setattr__(self, "working_days", days)
        object.__setattr__(self, "_zone", zone(self.timezone))
        object.__setattr__(self, "_weekdays", frozenset(WEEKDAYS.index(day) for day in days))
        object.__setattr__(self, "_business", {})
        object.__setattr__(self, "_periods", {})
        object.__setattr__(self, "_overlaps", {})

    @classmethod
    def for_owner(cls, owner: Owner) -> BusinessCalendar:
        """The calendar that business time is measured in for this owner.

        Owners with the same settings share one calendar, and so its memos.
        """
        return _shared_calendar(
            owner.timezone, owner.country, tuple(owner.working_days), owner.working_hours
        )

    @property
    def zone(self) -> ZoneInfo:
        """The owner's time zone."""
        return self._zone

    # --- days ---------------------------------------------------------------------------

    def holiday_name(self, d: date) -> str | None:
        """The public holiday on this date in the owner's country, if any."""
        if self.country is None:
            return None
        return _holidays(self.country, d.year).get(d)

    def is_business_day(self, d: date) -> bool:
        """A working day of the owner that is not a public holiday and has working hours.

        Only a clock change can take them away, by skipping all of them.
        """
        return self._period(d) is not None

    def _is_working_date(self, d: date) -> bool:
        """A working day of the owner that is not a public holiday, clock changes aside."""
        known = self._business.get(d)
        if known is None:
            known = d.weekday() in self._weekdays and (
                self.country is None or d not in _holidays(self.country, d.year)
            )
            self._business[d] = known
        return known

    def working_period(self, d: date) -> tuple[datetime, datetime] | None:
        """The working period [start, end) of a business day in the owner's zone, else None."""
        period = self._period(d)
        if period is None:
            return None
        return period[0].astimezone(self._zone), period[1].astimezone(self._zone)

    def _period(self, d: date) -> tuple[datetime, datetime] | None:
        """`working_period` in UTC; None also when a clock change leaves it empty."""
        try:
            return self._periods[d]
        except KeyError:
            pass
        period = None
        if self._is_working_date(d):
            start = datetime.combine(d, self.working_hours[0], self._zone).astimezone(UTC)
            end = datetime.combine(d, self.working_hours[1], self._zone).astimezone(UTC)
            period = (start, end) if start < end else None
        self._periods[d] = period
        return period

    def _local(self, dt: datetime) -> datetime:
        return to_utc(dt).astimezone(self._zone)

    def business_days_between(self, a: datetime, b: datetime) -> int:
        """Business days after a's date up to and including b's date, in the owner's zone.

        A whole day is counted once its date begins, so a proposal sent on a
        Monday has gone 5 business days unanswered on the next Monday (with no
        holiday between), and `business_days_between(a, add_business_days(a, n))`
        is n when a is business time. 0 when b's date is not after a's.
        """
        first = self._local(a).date() + _DAY
        last = self._local(b).date()
        if last < first:
            return 0
        weeks, rest = divmod((last - first).days + 1, 7)
        count = weeks * len(self._weekdays)
        weekday = first.weekday()
        count += sum(1 for i in range(rest) if (weekday + i) % 7 in self._weekdays)
        for year in range(first.year, last.year + 1):
            if self.country is not None:
                count -= sum(
                    1
                    for day in _holidays(self.country, year)
                    if first <= day <= last and day.weekday() in self._weekdays
                )
            count -= sum(
                1
                for day in _skipped_dates(self.timezone, self.working_hours, year)
                if first <= day <= last and self._is_working_date(day)
            )
        return count

    # --- instants -----------------------------------------------------------------------

    def is_business_time(self, dt: datetime) -> bool:
        """dt falls on a business day within working hours (start inclusive, end exclusive)."""
        instant = to_utc(dt)
        period = self._period(instant.astimezone(self._zone).date())
        return period is not None and period[0] <= instant < period[1]

    def next_business_time(self, dt: datetime) -> datetime:
        """dt itself if it is business time, else the start of the next working period."""
        instant = to_utc(dt)
        day = instant.astimezone(self._zone).date()
        for _ in range(_SEARCH_DAYS):
            period = self._period(day)
            if period is not None:
                start, end = period
                if instant < start:
                    return start.astimezone(self._zone)
                if instant < end:
                    return instant.astimezone(self._zone)
            day += _DAY
        raise BadInput(f"no business time within {_SEARCH_DAYS} days of {dt.isoformat()}")

    def add_business_days(self, dt: datetime, n: int) -> datetime:
        """n business days after dt's date at dt's wall-clock time, then into business time.

        Counting starts the day after dt, so from a Saturday 1 business day is
        the Monday; the time of day is kept across clock changes (09:00 stays
        09:00), and a time outside working hours moves to the next working
        period. From business time the result is always on the n-th business
        day, so `business_days_between` counts back exactly n: where a clock
        change on either date puts the same time of day after work ends, the
        result keeps the time left before work ends instead. n = 0 gives
        `next_business_time(dt)`.
        """
        if n < 0:
            raise ValueError(f"n must be 0 or more, got {n}")
        local = self._local(dt)
        day = local.date()
        while n:
            day += _DAY
            if self.is_business_day(day):
                n -= 1
        # time() keeps fold, so n = 0 is exactly dt even in a repeated hour
        target = to_utc(datetime.combine(day, local.time(), tzinfo=self._zone))
        period = self._period(day)
        if period is not None and target >= period[1]:
            # a clock change moved the time of day past the end of work: on a spring-forward
            # day 02:30 reads as 03:30, and 02:00-02:30 is worked at 03:00-03:30 wall time
            since = self._period(local.date())
            instant = to_utc(dt)
            if since is not None and since[0] <= instant < since[1]:
                target = max(period[0], period[1] - (since[1] - instant))
        return self.next_business_time(target)

    def add_days_then_business(self, dt: datetime, days: int) -> datetime:
        """`days` calendar days after dt at the same wall-clock time, then into business time.

        For spacing such as "one touch a week" (001).
        """
        local = self._local(dt)
        target = datetime.combine(local.date() + timedelta(days=days), local.time(), self._zone)
        return self.next_business_time(target)

    def in_recipient_hours(
        self,
        dt: datetime,
        recipient_tz: str | None,
        *,
        hours: tuple[time, time] = RECIPIENT_HOURS,
    ) -> datetime:
        """The earliest time ≥ dt that is business time for the owner and for the recipient.

        For the recipient that means within `hours` (09:00–17:00) on a Monday
        to Friday in `recipient_tz`; with no recipient time zone it is
        `next_business_time(dt)`. When no such time exists in the next
        `RECIPIENT_SEARCH_DAYS` days (a New York owner writing to Sydney), the
        result falls back to the owner's first working period from dt, at the
        quarter hour in it closest to a recipient weekday morning (their
        `hours[0]`): late afternoon in New York, so the mail is waiting when
        Sydney starts its day. Use `is_recipient_time` to tell the two apart.
        """
        if recipient_tz is None:
            return self.next_business_time(dt)
        instant = to_utc(dt)
        today = instant.astimezone(self._zone).date()
        period = self._period(today)
        if period is not None and instant < period[1]:
            found = _earliest_overlap(max(period[0], instant), period[1], recipient_tz, hours)
            if found is not None:
                return found.astimezone(self._zone)
        found = self._overlap_from(today + _DAY, recipient_tz, hours)
        if found is not None:
            return found.astimezone(self._zone)
        start = to_utc(self.next_business_time(dt))
        period = self._period(start.astimezone(self._zone).date())
        end = period[1] if period is not None else start + _QUARTER
        return self._closest_to_morning((start, end), recipient_tz, hours[0]).astimezone(self._zone)

    def _overlap_from(
        self, day: date, recipient_tz: str, hours: tuple[time, time]
    ) -> datetime | None:
        """The first overlap of whole working periods from `day` on with the recipient's hours.

        Looks at `RECIPIENT_SEARCH_DAYS` days from `day` on; the answer is the
        same for every deal of this owner and recipient zone, so it is kept.
        """
        key = (recipient_tz, hours, day)
        if key not in self._overlaps:
            found = None
            for offset in range(RECIPIENT_SEARCH_DAYS):
                period = self._period(day + timedelta(days=offset))
                if period is not None:
                    found = _earliest_overlap(period[0], period[1], recipient_tz, hours)
                    if found is not None:
                        break
            self._overlaps[key] = found
        return self._overlaps[key]

    @staticmethod
    def _closest_to_morning(
        period: tuple[datetime, datetime], recipient_tz: str, morning: time
    ) -> datetime:
        """The quarter hour in a UTC period closest to a recipient weekday morning."""
        start, end = period
        # the last quarter hour that is still inside the period, never before its start
        latest = end - timedelta(microseconds=1)
        latest -= timedelta(seconds=latest.minute % 15 * 60 + latest.second)
        latest = max(start, latest.replace(microsecond=0))
        rzone = zone(recipient_tz)
        day = start.astimezone(rzone).date() - timedelta(days=3)
        last = end.astimezone(rzone).date() + timedelta(days=3)
        best, best_gap = start, None
        while day <= last:
            if day.weekday() < 5:
                target = datetime.combine(day, morning, tzinfo=rzone).astimezone(UTC)
                candidate = min(max(target, start), latest)
                gap = abs(target - candidate)
                if best_gap is None or gap < best_gap:
                    best, best_gap = candidate, gap
            day += _DAY
        return best

    @staticmethod
    def is_recipient_time(
        dt: datetime, recipient_tz: str, *, hours: tuple[time, time] = RECIPIENT_HOURS
    ) -> bool:
        """dt is within `hours` on a Monday to Friday in the recipient's time zone."""
        return any(
            ws <= to_utc(dt) < we for ws, we in recipient_windows(recipient_tz, dt, dt, hours)
        )
