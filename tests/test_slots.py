"""Free times to offer a prospect, from the owner's calendar, in the prospect's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unghost.domain.calendar import BusinessCalendar
from unghost.domain.model import WEEKDAYS
from unghost.domain.slots import BUSY_BUFFER, LEAD_TIME, Slot, format_slot, free_slots
from unghost.errors import BadInput

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
SAM = BusinessCalendar("America/New_York", "US")  # the owner, in New York

# Monday 23 November 2026; Thursday 26 is Thanksgiving
MONDAY_EARLY = datetime(2026, 11, 23, 8, tzinfo=NEW_YORK)


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


def starts(slots: list[Slot]) -> list[datetime]:
    return [slot.start for slot in slots]


def test_an_empty_calendar_offers_ten_o_clock_on_three_days() -> None:
    slots = free_slots(SAM, [], now=MONDAY_EARLY)
    assert starts(slots) == [ny(2026, 11, 23, 10), ny(2026, 11, 24, 10), ny(2026, 11, 25, 10)]
    assert all(slot.end - slot.start == timedelta(minutes=30) for slot in slots)


def test_slots_skip_thanksgiving_and_the_weekend() -> None:
    slots = free_slots(SAM, [], now=MONDAY_EARLY, count=5)
    assert [slot.start.date() for slot in slots] == [
        date(2026, 11, 23),
        date(2026, 11, 24),
        date(2026, 11, 25),
        date(2026, 11, 27),
        date(2026, 11, 30),
    ]


def test_a_busy_morning_moves_the_slot_to_two_in_the_afternoon() -> None:
    busy = [(ny(2026, 11, 23, 9, 30), ny(2026, 11, 23, 12))]
    assert free_slots(SAM, busy, now=MONDAY_EARLY)[0].start == ny(2026, 11, 23, 14)


def test_slots_keep_fifteen_minutes_clear_of_busy_times() -> None:
    # busy until 13:45: 14:00 is just far enough; busy until 13:50 it is not
    morning = (ny(2026, 11, 23, 9), ny(2026, 11, 23, 12))
    clear = free_slots(
        SAM, [morning, (ny(2026, 11, 23, 13), ny(2026, 11, 23, 13, 45))], now=MONDAY_EARLY
    )
    assert clear[0].start == ny(2026, 11, 23, 14)
    close = free_slots(
        SAM, [morning, (ny(2026, 11, 23, 13), ny(2026, 11, 23, 13, 50))], now=MONDAY_EARLY
    )
    assert close[0].start == ny(2026, 11, 23, 15)
    # and before a meeting: 10:00–10:30 ends 15 minutes before 10:45
    before = free_slots(SAM, [(ny(2026, 11, 23, 10, 45), ny(2026, 11, 23, 17))], now=MONDAY_EARLY)
    assert before[0].start == ny(2026, 11, 23, 10)
    too_close = free_slots(
        SAM, [(ny(2026, 11, 23, 10, 40), ny(2026, 11, 23, 17))], now=MONDAY_EARLY
    )
    assert too_close[0].start != ny(2026, 11, 23, 10)


def test_a_fully_booked_day_is_skipped() -> None:
    busy = [(ny(2026, 11, 24, 8), ny(2026, 11, 24, 18))]
    slots = free_slots(SAM, busy, now=MONDAY_EARLY)
    assert [slot.start.day for slot in slots] == [23, 25, 27]


def test_busy_times_in_another_zone_count_by_the_instant() -> None:
    # 15:00–17:00 UTC is 10:00–12:00 in New York
    busy = [(datetime(2026, 11, 23, 15, tzinfo=UTC), datetime(2026, 11, 23, 17, tzinfo=UTC))]
    assert free_slots(SAM, busy, now=MONDAY_EARLY)[0].start == ny(2026, 11, 23, 14)


def test_the_first_slot_is_at_least_two_hours_away() -> None:
    slots = free_slots(SAM, [], now=ny(2026, 11, 23, 9, 10))
    assert slots[0].start == ny(2026, 11, 23, 14)
    slots = free_slots(SAM, [], now=ny(2026, 11, 23, 12, 40))
    assert slots[0].start == ny(2026, 11, 23, 15)


def test_not_today_when_fewer_than_two_working_hours_remain() -> None:
    slots = free_slots(SAM, [], now=ny(2026, 11, 23, 15, 30))
    assert slots[0].start == ny(2026, 11, 24, 10)


def test_slots_are_given_in_the_recipients_zone_and_their_hours() -> None:
    # New York 09:00–11:00 is Berlin 15:00–17:00, the only shared hours
    slots = free_slots(SAM, [], now=ny(2026, 11, 23, 12), recipient_tz="Europe/Berlin")
    assert starts(slots) == [
        datetime(2026, 11, 24, 15, tzinfo=BERLIN),
        datetime(2026, 11, 25, 15, tzinfo=BERLIN),
        datetime(2026, 11, 27, 15, tzinfo=BERLIN),
    ]
    assert all(slot.start.tzinfo == BERLIN for slot in slots)


def test_no_slots_when_the_working_days_never_meet() -> None:
    # New York 09:00–17:00 is Sydney 01:00–09:00
    assert free_slots(SAM, [], now=MONDAY_EARLY, recipient_tz="Australia/Sydney") == []


def test_several_slots_a_day_when_days_need_not_differ() -> None:
    slots = free_slots(SAM, [], now=MONDAY_EARLY, distinct_days=False, count=3)
    assert starts(slots) == [ny(2026, 11, 23, 10), ny(2026, 11, 23, 11), ny(2026, 11, 23, 14)]


def test_an_hour_long_slot_needs_an_hour_free() -> None:
    busy = [(ny(2026, 11, 23, 11), ny(2026, 11, 23, 17))]
    slots = free_slots(SAM, busy, now=ny(2026, 11, 23, 7, 30), minutes=60)
    # 09:30–10:30 is the only hour before 10:45; tomorrow 10:00
    assert slots[0] == Slot(ny(2026, 11, 23, 9, 30), ny(2026, 11, 23, 10, 30))
    assert slots[1].start == ny(2026, 11, 24, 10)


def test_fewer_slots_only_when_the_horizon_is_exhausted() -> None:
    busy = [(ny(2026, 11, 24, 0), ny(2026, 12, 31, 0))]
    assert starts(free_slots(SAM, busy, now=MONDAY_EARLY)) == [ny(2026, 11, 23, 10)]
    assert free_slots(SAM, [], now=MONDAY_EARLY, horizon_business_days=1, count=3) == [
        Slot(ny(2026, 11, 23, 10), ny(2026, 11, 23, 10, 30)),
        Slot(ny(2026, 11, 24, 10), ny(2026, 11, 24, 10, 30)),
    ]


def test_odd_working_hours_still_give_a_slot() -> None:
    cal = BusinessCalendar("America/New_York", None, working_hours=(time(9, 10), time(9, 50)))
    slots = free_slots(cal, [], now=ny(2026, 11, 23, 6), count=1)
    assert slots == [Slot(ny(2026, 11, 23, 9, 10), ny(2026, 11, 23, 9, 40))]


def test_asking_for_no_slots_gives_none() -> None:
    assert free_slots(SAM, [], now=MONDAY_EARLY, count=0) == []


@pytest.mark.parametrize(
    ("argument", "value"), [("count", -1), ("minutes", 0), ("horizon_business_days", -1)]
)
def test_impossible_requests_are_bad_input(argument: str, value: int) -> None:
    with pytest.raises(BadInput, match=argument):
        free_slots(SAM, [], now=MONDAY_EARLY, **{argument: value})  # type: ignore[arg-type]


def test_a_busy_interval_that_ends_before_it_starts_is_bad_input() -> None:
    with pytest.raises(BadInput, match="busy"):
        free_slots(SAM, [(ny(2026, 11, 23, 12), ny(2026, 11, 23, 11))], now=MONDAY_EARLY)


def test_format_slot_reads_like_a_sentence() -> None:
    slot = Slot(ny(2026, 11, 24, 10), ny(2026, 11, 24, 10, 30))
    assert format_slot(slot) == "Tuesday 24 November, 10:00 EST"
    assert format_slot(slot, locale_style="en-US") == "Tuesday, November 24, 10:00 AM EST"


def test_format_slot_has_no_leading_zero_and_names_summer_time() -> None:
    slot = Slot(
        datetime(2026, 6, 3, 14, 30, tzinfo=BERLIN), datetime(2026, 6, 3, 15, tzinfo=BERLIN)
    )
    assert format_slot(slot) == "Wednesday 3 June, 14:30 CEST"
    assert format_slot(slot, locale_style="en-US") == "Wednesday, June 3, 2:30 PM CEST"


def test_an_unknown_locale_style_is_bad_input() -> None:
    slot = Slot(ny(2026, 11, 24, 10), ny(2026, 11, 24, 10, 30))
    with pytest.raises(BadInput, match="fr"):
        format_slot(slot, locale_style="fr")


# --- properties -----------------------------------------------------------------------------

ZONES = ["America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Sydney"]
COUNTRIES = ["US", "DE", "GB", "IN", "AU", None]


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    days = draw(st.sets(st.sampled_from(WEEKDAYS), min_size=1))
    start = draw(st.integers(min_value=0, max_value=22 * 4))
    end = start + draw(st.integers(min_value=2, max_value=24 * 4 - 1 - start))
    return BusinessCalendar(
        draw(st.sampled_from(ZONES)),
        draw(st.sampled_from(COUNTRIES)),
        tuple(d for d in WEEKDAYS if d in days),
        (time(start // 4, start % 4 * 15), time(end // 4, end % 4 * 15)),
    )


instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 1), timezones=st.just(UTC)
)


@st.composite
def busy_intervals(draw: st.DrawFn, now: datetime) -> list[tuple[datetime, datetime]]:
    """Meetings in the fortnight after now, at any minute, of 0 to 8 hours."""
    return [
        (now + timedelta(minutes=offset), now + timedelta(minutes=offset + length))
        for offset, length in draw(
            st.lists(
                st.tuples(
                    st.integers(min_value=-600, max_value=20 * 24 * 60),
                    st.integers(min_value=0, max_value=8 * 60),
                ),
                max_size=25,
            )
        )
    ]


def in_recipient_hours(start: datetime, end: datetime, zone_name: str) -> bool:
    zone = ZoneInfo(zone_name)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    return (
        local_start.weekday() < 5
        and local_start.date() == local_end.date()
        and time(9) <= local_start.time()
        and local_end.time() <= time(17)
    )


@settings(deadline=None)
@given(
    cal=calendars(),
    data=st.data(),
    now=instants,
    count=st.integers(min_value=1, max_value=5),
    minutes=st.sampled_from([15, 30, 45, 60]),
    recipient_tz=st.sampled_from([None, *ZONES, "America/Los_Angeles", "Europe/London"]),
)
def test_free_slots_are_free_apart_distinct_and_within_everyones_hours(
    cal: BusinessCalendar,
    data: st.DataObject,
    now: datetime,
    count: int,
    minutes: int,
    recipient_tz: str | None,
) -> None:
    busy = data.draw(busy_intervals(now))
    slots = free_slots(cal, busy, now=now, count=count, minutes=minutes, recipient_tz=recipient_tz)
    assert len(slots) <= count
    owner_dates = []
    for slot in slots:
        start, end = slot.start.astimezone(UTC), slot.end.astimezone(UTC)
        assert end - start == timedelta(minutes=minutes)
        assert start >= now + LEAD_TIME
        assert slot.start.tzinfo == (ZoneInfo(recipient_tz) if recipient_tz else cal.zone)
        # inside one working period of the owner
        day = start.astimezone(cal.zone).date()
        period = cal.working_period(day)
        assert period is not None
        assert period[0] <= start and end <= period[1]
        assert cal.is_business_day(day)
        owner_dates.append(day)
        if recipient_tz is not None:
            assert in_recipient_hours(start, end, recipient_tz)
        for busy_start, busy_end in busy:
            assert end <= busy_start - BUSY_BUFFER or busy_end + BUSY_BUFFER <= start
    assert len(set(owner_dates)) == len(owner_dates)
    assert starts(slots) == sorted(starts(slots))
    shown_dates = [slot.start.date() for slot in slots]
    assert len(set(shown_dates)) == len(shown_dates)


@settings(deadline=None)
@given(cal=calendars(), now=instants, count=st.integers(min_value=1, max_value=6))
def test_an_empty_calendar_fills_every_requested_slot_or_every_day(
    cal: BusinessCalendar, now: datetime, count: int
) -> None:
    slots = free_slots(cal, [], now=now, count=count, horizon_business_days=count + 1)
    # each business day after today has room for one 30-minute slot (hours are ≥ 30 min),
    # but the first may start within two hours of now (the lead time crosses midnight),
    # and a clock change may swallow a day's hours (02:00–03:00 on a spring-forward Sunday)
    if len(slots) < count:
        day, later = now.astimezone(cal.zone).date(), list[date]()
        while len(later) < count + 1:
            day += timedelta(days=1)
            if cal.is_business_day(day):
                later.append(day)
        assert any(cal.working_period(d) is None for d in later)


@settings(deadline=None)
@given(cal=calendars(), now=instants, count=st.integers(min_value=1, max_value=6))
def test_slots_on_one_day_never_overlap_when_days_may_repeat(
    cal: BusinessCalendar, now: datetime, count: int
) -> None:
    slots = free_slots(cal, [], now=now, count=count, distinct_days=False)
    for first, second in pairwise(slots):
        assert first.end.astimezone(UTC) <= second.start.astimezone(UTC)
