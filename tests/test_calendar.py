"""Business time in the owner's calendar: days, hours, holidays, clock changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from unghost.domain.calendar import BusinessCalendar, recipient_windows
from unghost.domain.model import WEEKDAYS, Owner
from unghost.errors import BadInput

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")
AUCKLAND = ZoneInfo("Pacific/Auckland")

# 2026: US clocks go forward on 8 March and back on 1 November; EU on 29 March and 25 October.


def new_york_owner() -> BusinessCalendar:
    return BusinessCalendar.for_owner(
        Owner(email="sam@example.com", timezone="America/New_York", country="US")
    )


def berlin_owner() -> BusinessCalendar:
    return BusinessCalendar("Europe/Berlin", "DE")


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def offset_hours(dt: datetime) -> float:
    delta = dt.utcoffset()
    assert delta is not None
    return delta.total_seconds() / 3600


# --- building a calendar --------------------------------------------------------------------


def test_for_owner_takes_the_owners_zone_country_days_and_hours() -> None:
    owner = Owner(
        email="a@example.com",
        timezone="Asia/Kolkata",
        country="in",
        working_days=("mon", "tue", "wed", "thu", "fri", "sat"),
        working_hours=(time(10), time(18, 30)),
    )
    cal = BusinessCalendar.for_owner(owner)
    assert cal.timezone == "Asia/Kolkata"
    assert cal.country == "IN"
    assert cal.working_days == ("mon", "tue", "wed", "thu", "fri", "sat")
    assert cal.working_hours == (time(10), time(18, 30))
    assert cal.zone == KOLKATA


def test_owners_with_the_same_settings_share_one_calendar() -> None:
    a = BusinessCalendar.for_owner(Owner(email="a@example.com", timezone="Europe/Berlin"))
    b = BusinessCalendar.for_owner(Owner(email="b@example.com", timezone="Europe/Berlin"))
    assert a is b


def test_an_unknown_country_is_bad_input_naming_it() -> None:
    with pytest.raises(BadInput, match="'XQ'"):
        BusinessCalendar("UTC", "XQ")


def test_an_unknown_time_zone_is_bad_input_naming_it() -> None:
    with pytest.raises(BadInput, match="Mars/Olympus_Mons"):
        BusinessCalendar("Mars/Olympus_Mons")


def test_a_calendar_needs_at_least_one_working_day() -> None:
    with pytest.raises(BadInput, match="working_days"):
        BusinessCalendar("UTC", None, ())


def test_an_unknown_working_day_is_bad_input() -> None:
    with pytest.raises(BadInput, match="'fun'"):
        BusinessCalendar("UTC", None, ("mon", "fun"))


def test_working_hours_must_start_before_they_end() -> None:
    with pytest.raises(BadInput, match="17:00"):
        BusinessCalendar("UTC", None, working_hours=(time(17), time(9)))


def test_a_naive_datetime_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        new_york_owner().is_business_time(datetime(2026, 11, 23, 10))


# --- days -----------------------------------------------------------------------------------


def test_thanksgiving_is_not_a_business_day() -> None:
    cal = new_york_owner()
    assert not cal.is_business_day(date(2026, 11, 26))
    assert cal.holiday_name(date(2026, 11, 26)) == "Thanksgiving Day"


def test_an_ordinary_tuesday_is_a_business_day_without_a_holiday_name() -> None:
    cal = new_york_owner()
    assert cal.is_business_day(date(2026, 11, 24))
    assert cal.holiday_name(date(2026, 11, 24)) is None


def test_weekends_are_not_business_days() -> None:
    cal = new_york_owner()
    assert not cal.is_business_day(date(2026, 11, 28))
    assert not cal.is_business_day(date(2026, 11, 29))


def test_an_observed_holiday_is_not_a_business_day() -> None:
    # 4 July 2026 is a Saturday; the holiday is observed on Friday 3 July
    assert not new_york_owner().is_business_day(date(2026, 7, 3))


def test_holidays_are_those_of_the_owners_country() -> None:
    assert not berlin_owner().is_business_day(date(2026, 5, 1))  # Tag der Arbeit
    assert new_york_owner().is_business_day(date(2026, 5, 1))
    assert berlin_owner().is_business_day(date(2026, 11, 26))  # no Thanksgiving in Germany


def test_without_a_country_there_are_no_holidays() -> None:
    cal = BusinessCalendar("America/New_York")
    assert cal.is_business_day(date(2026, 12, 25))
    assert cal.holiday_name(date(2026, 12, 25)) is None


def test_custom_working_days_make_saturday_a_business_day() -> None:
    cal = BusinessCalendar("Asia/Kolkata", "IN", ("mon", "tue", "wed", "thu", "fri", "sat"))
    assert cal.is_business_day(date(2026, 11, 28))
    assert not cal.is_business_day(date(2026, 11, 29))


# --- business time --------------------------------------------------------------------------


def test_business_time_starts_inclusive_and_ends_exclusive() -> None:
    cal = new_york_owner()
    assert cal.is_business_time(ny(2026, 11, 24, 9))
    assert cal.is_business_time(ny(2026, 11, 24, 16, 59))
    assert not cal.is_business_time(ny(2026, 11, 24, 17))
    assert not cal.is_business_time(ny(2026, 11, 24, 8, 59))


def test_business_time_is_judged_in_the_owners_zone_whatever_the_input_zone() -> None:
    cal = new_york_owner()
    # 14:30 UTC is 09:30 in New York
    assert cal.is_business_time(datetime(2026, 11, 24, 14, 30, tzinfo=UTC))
    assert not cal.is_business_time(datetime(2026, 11, 24, 13, 30, tzinfo=UTC))


def test_next_business_time_keeps_a_time_that_already_is_one() -> None:
    dt = ny(2026, 11, 24, 11, 17)
    assert new_york_owner().next_business_time(dt) == dt


def test_next_business_time_after_friday_evening_is_monday_morning() -> None:
    result = new_york_owner().next_business_time(ny(2026, 11, 20, 18))
    assert result == ny(2026, 11, 23, 9)
    assert result.tzinfo == NEW_YORK


def test_next_business_time_skips_thanksgiving() -> None:
    assert new_york_owner().next_business_time(ny(2026, 11, 25, 17)) == ny(2026, 11, 27, 9)


def test_next_business_time_early_in_the_day_is_that_mornings_start() -> None:
    assert new_york_owner().next_business_time(ny(2026, 11, 24, 6)) == ny(2026, 11, 24, 9)


def test_results_are_in_the_owners_zone() -> None:
    result = berlin_owner().next_business_time(datetime(2026, 11, 24, 3, tzinfo=UTC))
    assert result.tzinfo == BERLIN
    assert result == berlin(2026, 11, 24, 9)


# --- adding business days -------------------------------------------------------------------


def test_add_business_days_skips_weekend_and_holiday() -> None:
    cal = new_york_owner()
    # Wednesday before Thanksgiving: Thursday is a holiday, then Friday, Monday, Tuesday
    assert cal.add_business_days(ny(2026, 11, 25, 10), 1) == ny(2026, 11, 27, 10)
    assert cal.add_business_days(ny(2026, 11, 25, 10), 3) == ny(2026, 12, 1, 10)


def test_add_business_days_keeps_the_wall_clock_time() -> None:
    assert new_york_owner().add_business_days(ny(2026, 11, 23, 14, 45), 2) == ny(
        2026, 11, 25, 14, 45
    )


def test_add_business_days_after_hours_lands_on_the_next_morning() -> None:
    # 3 business days after Monday 20:00 is Thursday 20:00, after hours: Friday 09:00
    assert new_york_owner().add_business_days(ny(2026, 11, 16, 20), 3) == ny(2026, 11, 20, 9)


def test_add_business_days_from_a_saturday_counts_monday_as_the_first() -> None:
    assert new_york_owner().add_business_days(ny(2026, 11, 21, 10), 1) == ny(2026, 11, 23, 10)


def test_adding_zero_business_days_is_the_next_business_time() -> None:
    cal = new_york_owner()
    assert cal.add_business_days(ny(2026, 11, 24, 10), 0) == ny(2026, 11, 24, 10)
    assert cal.add_business_days(ny(2026, 11, 21, 10), 0) == ny(2026, 11, 23, 9)


def test_adding_negative_business_days_is_refused() -> None:
    with pytest.raises(ValueError, match="-1"):
        new_york_owner().add_business_days(ny(2026, 11, 24, 10), -1)


def test_add_days_then_business_is_one_week_at_the_same_time() -> None:
    # 001: one touch a week
    assert new_york_owner().add_days_then_business(ny(2026, 11, 16, 11), 7) == ny(2026, 11, 23, 11)


def test_add_days_then_business_moves_off_a_holiday() -> None:
    assert new_york_owner().add_days_then_business(ny(2026, 11, 19, 11), 7) == ny(2026, 11, 27, 9)


# --- counting business days -----------------------------------------------------------------


def test_a_proposal_sent_on_monday_is_five_business_days_unanswered_the_next_monday() -> None:
    cal = new_york_owner()
    sent = ny(2026, 11, 2, 10)
    assert cal.business_days_between(sent, ny(2026, 11, 6, 18)) == 4
    assert cal.business_days_between(sent, ny(2026, 11, 9, 8)) == 5


def test_business_days_between_leaves_out_thanksgiving() -> None:
    cal = new_york_owner()
    sent = ny(2026, 11, 23, 10)
    assert cal.business_days_between(sent, ny(2026, 11, 30, 10)) == 4
    assert cal.business_days_between(sent, ny(2026, 12, 1, 10)) == 5


def test_a_promise_for_friday_has_passed_by_one_business_day_on_monday() -> None:
    cal = new_york_owner()
    promised = ny(2026, 11, 13, 17)
    assert cal.business_days_between(promised, ny(2026, 11, 15, 23)) == 0
    assert cal.business_days_between(promised, ny(2026, 11, 16, 9)) == 1


def test_business_days_between_is_zero_on_the_same_day_and_backwards() -> None:
    cal = new_york_owner()
    assert cal.business_days_between(ny(2026, 11, 24, 9), ny(2026, 11, 24, 16)) == 0
    assert cal.business_days_between(ny(2026, 11, 24, 9), ny(2026, 11, 10, 9)) == 0


def test_business_days_between_counts_across_the_new_year() -> None:
    cal = new_york_owner()
    # 28 Dec 2026 – 8 Jan 2027: 9 weekdays after the 28th, minus New Year's Day
    assert cal.business_days_between(ny(2026, 12, 28, 10), ny(2027, 1, 8, 10)) == 8


# --- clock changes --------------------------------------------------------------------------


def test_spring_forward_week_keeps_nine_o_clock() -> None:
    cal = new_york_owner()
    monday = cal.add_business_days(ny(2026, 3, 6, 9), 1)
    assert monday == ny(2026, 3, 9, 9)
    assert (monday.hour, offset_hours(monday)) == (9, -4)
    assert cal.add_days_then_business(ny(2026, 3, 2, 9), 7).hour == 9


def test_spring_forward_sunday_leads_to_monday_nine_o_clock_daylight_time() -> None:
    result = new_york_owner().next_business_time(ny(2026, 3, 8, 12))
    assert result.astimezone(UTC) == datetime(2026, 3, 9, 13, tzinfo=UTC)
    assert not new_york_owner().is_business_time(datetime(2026, 3, 9, 12, 30, tzinfo=UTC))


def test_fall_back_week_keeps_nine_o_clock() -> None:
    cal = new_york_owner()
    monday = cal.add_business_days(ny(2026, 10, 30, 9), 1)
    assert monday == ny(2026, 11, 2, 9)
    assert offset_hours(monday) == -5
    assert monday.astimezone(UTC) == datetime(2026, 11, 2, 14, tzinfo=UTC)


def test_eu_spring_forward_week_keeps_nine_o_clock() -> None:
    cal = berlin_owner()
    monday = cal.add_business_days(berlin(2026, 3, 27, 9), 1)
    assert monday.astimezone(UTC) == datetime(2026, 3, 30, 7, tzinfo=UTC)
    assert offset_hours(monday) == 2
    assert cal.add_days_then_business(berlin(2026, 3, 23, 9), 7).astimezone(UTC) == datetime(
        2026, 3, 30, 7, tzinfo=UTC
    )


def test_eu_fall_back_week_keeps_nine_o_clock() -> None:
    cal = berlin_owner()
    monday = cal.add_business_days(berlin(2026, 10, 23, 9), 1)
    assert monday.astimezone(UTC) == datetime(2026, 10, 26, 8, tzinfo=UTC)
    assert offset_hours(monday) == 1


def test_a_start_time_that_does_not_exist_begins_an_hour_later() -> None:
    # 02:30 does not exist in New York on 8 March 2026; the day starts at 03:30 EDT
    cal = BusinessCalendar("America/New_York", None, WEEKDAYS, (time(2, 30), time(10)))
    result = cal.next_business_time(ny(2026, 3, 8, 0))
    assert result.astimezone(UTC) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert (result.hour, result.minute) == (3, 30)
    assert not cal.is_business_time(datetime(2026, 3, 8, 7, 29, tzinfo=UTC))


def test_a_start_time_that_happens_twice_begins_at_its_first_occurrence() -> None:
    # 01:30 happens twice in New York on 1 November 2026; the day starts at the first (EDT)
    cal = BusinessCalendar("America/New_York", None, WEEKDAYS, (time(1, 30), time(10)))
    result = cal.next_business_time(ny(2026, 11, 1, 0))
    assert result.astimezone(UTC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert result.fold == 0
    # the second 01:30 (EST) is business time too, it is after the start
    assert cal.is_business_time(datetime(2026, 11, 1, 6, 30, tzinfo=UTC))


def test_a_working_period_that_a_clock_change_empties_is_skipped() -> None:
    # 02:00–03:00 does not exist on 8 March 2026 in New York
    cal = BusinessCalendar("America/New_York", None, WEEKDAYS, (time(2), time(3)))
    assert cal.working_period(date(2026, 3, 8)) is None
    result = cal.next_business_time(ny(2026, 3, 8, 0))
    assert result.date() == date(2026, 3, 9)
    assert cal.is_business_time(result)


def test_a_working_day_that_a_clock_change_leaves_without_hours_is_not_a_business_day() -> None:
    cal = BusinessCalendar("America/New_York", None, WEEKDAYS, (time(2), time(3)))
    assert not cal.is_business_day(date(2026, 3, 8))
    # Saturday 7 to Monday 9 March: only the Monday is counted, and only it is added
    assert cal.business_days_between(ny(2026, 3, 7, 2, 30), ny(2026, 3, 9, 2, 30)) == 1
    assert cal.add_business_days(ny(2026, 3, 7, 2, 30), 1) == ny(2026, 3, 9, 2, 30)


def test_adding_days_from_a_period_worked_after_its_end_s_wall_time_stays_on_the_day() -> None:
    # 02:00-02:30 is worked at 03:00-03:30 EDT on 8 March 2026; 03:00 is after 02:30 on the
    # 9th, so the result keeps the half hour left before work ends: the 9th at 02:00
    cal = BusinessCalendar("America/New_York", "US", WEEKDAYS, (time(2), time(2, 30)))
    start = cal.next_business_time(datetime(2026, 3, 8, tzinfo=UTC))
    assert start == ny(2026, 3, 8, 3)
    assert cal.add_business_days(start, 1) == ny(2026, 3, 9, 2)
    assert cal.business_days_between(start, cal.add_business_days(start, 1)) == 1


def test_adding_days_onto_a_skipped_time_of_day_keeps_the_time_left_before_work_ends() -> None:
    # 02:30 on 8 March 2026 reads as 03:30 EDT, after work ends at 03:15 EDT; 02:30 on the
    # 7th is 45 minutes before the end, and so is 01:30 EST on the 8th
    cal = BusinessCalendar("America/New_York", None, WEEKDAYS, (time(1), time(3, 15)))
    result = cal.add_business_days(ny(2026, 3, 7, 2, 30), 1)
    assert result.astimezone(UTC) == datetime(2026, 3, 8, 6, 30, tzinfo=UTC)
    assert cal.is_business_time(result)


def test_adding_days_in_a_repeated_hour_keeps_the_instant_for_zero_days() -> None:
    cal = BusinessCalendar("America/New_York", None, WEEKDAYS, (time(0), time(23)))
    second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST, the second one
    # (compared in UTC: Python never finds a fold=1 time equal to another zone's)
    assert cal.add_business_days(second, 0).astimezone(UTC) == second


# --- recipient hours ------------------------------------------------------------------------


def test_in_recipient_hours_without_a_recipient_zone_is_the_next_business_time() -> None:
    cal = new_york_owner()
    assert cal.in_recipient_hours(ny(2026, 11, 20, 18), None) == ny(2026, 11, 23, 9)


def test_in_recipient_hours_waits_for_the_recipients_morning() -> None:
    # Kolkata 09:00–17:00 is 03:30–11:30 in London; London's 09:00 is 14:30 in Kolkata
    cal = BusinessCalendar("Asia/Kolkata", "IN")
    result = cal.in_recipient_hours(datetime(2026, 11, 23, 9, tzinfo=KOLKATA), "Europe/London")
    assert result == datetime(2026, 11, 23, 14, 30, tzinfo=KOLKATA)


def test_in_recipient_hours_follows_the_weeks_when_only_america_has_changed_its_clocks() -> None:
    cal = berlin_owner()
    # usually New York's 09:00 is 15:00 in Berlin; from 8 to 29 March 2026 it is 14:00
    assert cal.in_recipient_hours(berlin(2026, 3, 2, 9), "America/New_York") == berlin(
        2026, 3, 2, 15
    )
    assert cal.in_recipient_hours(berlin(2026, 3, 16, 9), "America/New_York") == berlin(
        2026, 3, 16, 14
    )


def test_a_recipient_weekend_pushes_the_send_time_to_their_monday() -> None:
    # Monday morning in Auckland is Sunday afternoon in Los Angeles
    cal = BusinessCalendar("Pacific/Auckland")
    result = cal.in_recipient_hours(
        datetime(2026, 11, 23, 9, tzinfo=AUCKLAND), "America/Los_Angeles"
    )
    assert result == datetime(2026, 11, 24, 9, tzinfo=AUCKLAND)
    assert BusinessCalendar.is_recipient_time(result, "America/Los_Angeles")


def test_when_the_days_never_overlap_it_sends_late_in_the_owners_day() -> None:
    # New York 09:00–17:00 is 01:00–09:00 in Sydney: the mail waits for Sydney's morning
    cal = new_york_owner()
    result = cal.in_recipient_hours(ny(2026, 11, 23, 10), "Australia/Sydney")
    assert result == ny(2026, 11, 23, 16, 45)
    assert cal.is_business_time(result)
    assert not BusinessCalendar.is_recipient_time(result, "Australia/Sydney")


def test_an_unknown_recipient_zone_is_bad_input() -> None:
    with pytest.raises(BadInput, match="Nowhere/Land"):
        new_york_owner().in_recipient_hours(ny(2026, 11, 23, 10), "Nowhere/Land")


def test_recipient_windows_are_their_weekday_hours_only() -> None:
    windows = recipient_windows(
        "Europe/London", datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC)
    )
    # Friday, then Monday: Saturday and Sunday have none
    assert [w[0].date() for w in windows] == [date(2026, 11, 20), date(2026, 11, 23)]
    assert windows[0] == (
        datetime(2026, 11, 20, 9, tzinfo=UTC),
        datetime(2026, 11, 20, 17, tzinfo=UTC),
    )


# --- properties -----------------------------------------------------------------------------

ZONES = ["America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Sydney", "UTC"]
COUNTRIES = ["US", "DE", "GB", "IN", "AU", None]
STEP = timedelta(minutes=15)


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    days = draw(st.sets(st.sampled_from(WEEKDAYS), min_size=1))
    start = draw(st.integers(min_value=0, max_value=22 * 4))  # quarter hours
    length = draw(st.integers(min_value=2, max_value=24 * 4 - 1 - start))
    end = start + length
    return BusinessCalendar(
        draw(st.sampled_from(ZONES)),
        draw(st.sampled_from(COUNTRIES)),
        tuple(d for d in WEEKDAYS if d in days),
        (time(start // 4, start % 4 * 15), time(end // 4, end % 4 * 15)),
    )


# the weekends clocks change in the US, the EU and Australia, 2026–2028
CLOCK_CHANGES = [
    datetime(2026, 3, 8, tzinfo=UTC),
    datetime(2026, 3, 29, tzinfo=UTC),
    datetime(2026, 4, 5, tzinfo=UTC),
    datetime(2026, 10, 4, tzinfo=UTC),
    datetime(2026, 10, 25, tzinfo=UTC),
    datetime(2026, 11, 1, tzinfo=UTC),
    datetime(2027, 3, 14, tzinfo=UTC),
    datetime(2027, 3, 28, tzinfo=UTC),
    datetime(2027, 10, 31, tzinfo=UTC),
    datetime(2027, 11, 7, tzinfo=UTC),
    datetime(2028, 3, 12, tzinfo=UTC),
    datetime(2028, 10, 29, tzinfo=UTC),
]
instants = st.one_of(
    st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
    ),
    st.builds(
        lambda change, minutes: change + timedelta(minutes=minutes),
        st.sampled_from(CLOCK_CHANGES),
        st.integers(min_value=-4 * 24 * 60, max_value=2 * 24 * 60),
    ),
)


def utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)


@settings(deadline=None)
@given(calendars(), instants)
def test_next_business_time_is_the_first_business_time_from_the_input(
    cal: BusinessCalendar, dt: datetime
) -> None:
    result = cal.next_business_time(dt)
    assert cal.is_business_time(result)
    assert utc(result) >= utc(dt)
    assert result.tzinfo == cal.zone
    t = utc(dt)
    while t < utc(result):
        assert not cal.is_business_time(t), t
        t += STEP


@settings(deadline=None)
@given(calendars(), instants, st.integers(min_value=0, max_value=12))
def test_add_business_days_lands_in_business_time_and_grows_with_n(
    cal: BusinessCalendar, dt: datetime, n: int
) -> None:
    here = cal.add_business_days(dt, n)
    there = cal.add_business_days(dt, n + 1)
    for result in (here, there):
        local = result.astimezone(cal.zone)
        assert cal.is_business_day(local.date())
        assert cal.is_business_time(result)
        assert cal.holiday_name(local.date()) is None
    # n = 0 from outside business time can meet n = 1 (a holiday's night and the next morning)
    assert utc(dt) <= utc(here) <= utc(there)
    if n > 0:
        assert utc(here) < utc(there)
    assert cal.business_days_between(dt, here) >= n


@settings(deadline=None)
@given(calendars(), instants, st.integers(min_value=0, max_value=8))
# found by Hypothesis: 02:00-02:30 is worked at 03:00-03:30 EDT on 8 March 2026
@example(
    BusinessCalendar("America/New_York", "US", WEEKDAYS, (time(2), time(2, 30))),
    datetime(2026, 3, 8, tzinfo=UTC),
    1,
)
@example(
    BusinessCalendar("America/New_York", None, WEEKDAYS, (time(1), time(3, 15))),
    datetime(2026, 3, 7, 7, 30, tzinfo=UTC),
    1,
)
@example(
    BusinessCalendar("America/New_York", None, WEEKDAYS, (time(2), time(3))),
    datetime(2026, 3, 7, 7, 30, tzinfo=UTC),
    1,
)
def test_adding_business_days_from_business_time_is_counted_back_exactly(
    cal: BusinessCalendar, dt: datetime, n: int
) -> None:
    start = cal.next_business_time(dt)
    assert cal.business_days_between(start, cal.add_business_days(start, n)) == n


@settings(deadline=None)
@given(calendars(), instants, st.integers(min_value=0, max_value=400))
def test_business_days_between_counts_the_business_dates_after_the_first(
    cal: BusinessCalendar, a: datetime, span: int
) -> None:
    b = a + timedelta(days=span)
    first, last = a.astimezone(cal.zone).date(), b.astimezone(cal.zone).date()
    expected = sum(
        1
        for i in range(1, (last - first).days + 1)
        if cal.is_business_day(first + timedelta(days=i))
    )
    assert cal.business_days_between(a, b) == expected


@settings(deadline=None)
@given(calendars(), instants, st.integers(min_value=-10, max_value=30))
def test_add_days_then_business_is_business_time(
    cal: BusinessCalendar, dt: datetime, days: int
) -> None:
    assert cal.is_business_time(cal.add_days_then_business(dt, days))


@settings(deadline=None)
@given(calendars(), instants, st.sampled_from([*ZONES, "America/Los_Angeles", "Asia/Tokyo"]))
def test_in_recipient_hours_is_the_owners_business_time_and_the_first_shared_one(
    cal: BusinessCalendar, dt: datetime, recipient_tz: str
) -> None:
    result = cal.in_recipient_hours(dt, recipient_tz)
    assert cal.is_business_time(result)
    assert utc(result) >= utc(dt)
    t = utc(dt)
    while t < utc(result):
        assert not (
            cal.is_business_time(t) and BusinessCalendar.is_recipient_time(t, recipient_tz)
        ), t
        t += STEP
