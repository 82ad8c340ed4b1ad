"""Silence detection (PRODUCT §3): every reason, its default threshold, and the states."""

from __future__ import annotations

from datetime import date, timedelta

from factories import (
    MONDAY,
    NORA,
    at,
    contact,
    deal,
    default_playbook,
    meeting,
    out,
    promise,
    proposal,
    reply,
    silent_deal,
    with_touches,
)
from unghost.domain.calendar import BusinessCalendar
from unghost.domain.model import Deal, Touch
from unghost.domain.silence import Assessment, assess

CAL = BusinessCalendar.for_owner(NORA)
SETTINGS = default_playbook().settings


def state(d: Deal, now: object = MONDAY, **contact_kw: object) -> Assessment:
    return assess(d, contact(**contact_kw), CAL, SETTINGS, now)  # type: ignore[arg-type]


def recent() -> Deal:
    """A deal where George replied yesterday: active."""
    return deal(touches=(reply(3),))


def test_a_deal_with_a_recent_reply_is_active() -> None:
    assert state(recent()).state == "active"


def test_a_confirmed_meeting_that_passed_without_word_is_a_missed_meeting() -> None:
    d = deal(touches=(reply(6),), meetings=(meeting(3),))  # Friday 14:00
    a = state(d)
    assert a.state == "silent" and a.reasons == ("missed_meeting",)
    assert a.silent_since == at(3, 14) + timedelta(minutes=30)


def test_an_unconfirmed_held_or_answered_meeting_is_not_missed() -> None:
    assert (
        state(deal(touches=(reply(6),), meetings=(meeting(3, confirmed=False),))).state == "active"
    )
    assert state(deal(touches=(reply(6),), meetings=(meeting(3, status="held"),))).state == "active"
    answered = deal(touches=(reply(6), reply(2)), meetings=(meeting(3),))
    assert state(answered).state == "active"


def test_a_meeting_not_yet_over_is_not_missed() -> None:
    d = deal(touches=(reply(6),), meetings=(meeting(0, hour=8, minutes=90),))
    assert state(d).state == "active"


def test_a_promise_passed_by_one_business_day_makes_the_deal_silent() -> None:
    friday = date(2026, 11, 20)
    d = deal(touches=(reply(10),), promises=(promise(friday, made_at=at(10, 12)),))
    assert state(d).reasons == ("promise_passed",)  # Monday: one business day after Friday
    friday_evening = at(3, 18)
    assert state(d, friday_evening).state == "active"


def test_the_sellers_own_promise_does_not_count() -> None:
    d = deal(touches=(reply(10),), promises=(promise(date(2026, 11, 16), who="seller"),))
    assert state(d).state == "active"


def test_a_proposal_unanswered_for_five_business_days_makes_the_deal_silent() -> None:
    sent_monday_before = proposal(7)  # Monday 16 November, 10:00
    d = deal(touches=(reply(8),), proposal=sent_monday_before)
    assert state(d, at(0, 10)).reasons == ("proposal_unanswered",)
    assert state(d, at(0, 9)).state == "active", "five business days are up at 10:00"
    four_days = MONDAY - timedelta(days=1)  # Sunday: 4 business days only
    assert "proposal_unanswered" not in state(d, four_days).reasons


def test_thanksgiving_does_not_count_as_a_business_day() -> None:
    sent = proposal(3)  # Friday 20 November
    d = deal(touches=(reply(4),), proposal=sent)
    friday_after = MONDAY + timedelta(days=4)  # Thu 26 is Thanksgiving: only 4 business days
    assert "proposal_unanswered" not in state(d, friday_after).reasons
    assert "proposal_unanswered" in state(d, friday_after + timedelta(days=3, hours=1)).reasons


def test_two_unanswered_touches_after_a_week_make_the_deal_silent() -> None:
    d = deal(touches=(reply(8), out(6), out(2)))
    assert state(d).reasons == ("unanswered_touches",)
    assert state(deal(touches=(reply(8), out(6)))).state == "active"
    six_days = deal(touches=(reply(6), out(5), out(2)))
    assert state(six_days).state == "active"


def test_three_weeks_without_word_is_no_inbound() -> None:
    assert state(deal(touches=(reply(21, hour=8),))).reasons == ("no_inbound",)
    assert state(deal(touches=(reply(20),))).state == "active"


def test_every_reason_that_holds_is_recorded_in_order() -> None:
    d = silent_deal(proposal=proposal(25), meetings=(meeting(3),))
    assert state(d).reasons == (
        "missed_meeting",
        "proposal_unanswered",
        "unanswered_touches",
        "no_inbound",
    )


def test_a_connected_call_is_contact_from_the_prospect_but_an_auto_reply_is_not() -> None:
    connected = with_touches(silent_deal(), out(1, "call", outcome="connected"))
    assert state(connected).state == "active"
    bounced = with_touches(
        silent_deal(), Touch(at=at(1), channel="email", direction="in", outcome="bounced")
    )
    assert state(bounced).state == "silent"


def test_an_auto_reply_pauses_the_deal_for_seven_days_and_one_business_day() -> None:
    d = with_touches(
        silent_deal(), Touch(at=at(2), channel="email", direction="in", outcome="auto_reply")
    )
    a = state(d)
    assert a.state == "paused"
    assert a.paused_until is not None and a.paused_until.date() == date(2026, 11, 30)
    assert state(d, MONDAY + timedelta(days=8)).state == "silent"


def test_won_lost_and_do_not_contact_deals_are_never_silent() -> None:
    assert state(silent_deal(stage="won")).state == "won"
    assert state(silent_deal(stage="lost")).state == "lost"
    assert state(silent_deal(), do_not_contact=True).state == "do_not_contact"


def test_after_the_final_call_the_deal_is_in_nurture_until_the_check_back_date() -> None:
    d = with_touches(silent_deal(), out(5, play="final-call"))
    a = state(d)
    assert a.state == "nurture"
    assert a.nurture_until is not None
    assert 90 <= (a.nurture_until - at(5)).days <= 120
    answered = with_touches(d, reply(1))
    assert state(answered).state == "active"
