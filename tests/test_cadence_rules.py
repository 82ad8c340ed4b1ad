"""The default playbook's plays and cadence rules 1-9 (PRODUCT §4), one behaviour per test."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from factories import (
    MONDAY,
    at,
    contact,
    deal,
    default_playbook,
    meeting,
    out,
    playbook_from,
    proposal,
    reply,
    silent_deal,
    with_touches,
    world,
)
from unghost.domain.compose import Sent
from unghost.domain.model import ContentItem, Touch
from unghost.domain.planner import Step, World, cadence, plan_deal, with_step_done

GEORGE = contact()
DIANE = contact("diane")
LISA = contact("lisa")
CHECKLIST = ContentItem(
    key="close-checklist",
    title="A checklist for a five-day close",
    url="https://example.com/close",
    tags=("finance",),
)


def step(w: World, now: object = MONDAY) -> Step:
    s = plan_deal(w, now).next  # type: ignore[arg-type]
    assert s is not None, "expected a step"
    return s


def plays(w: World, now: object = MONDAY) -> list[str]:
    return [s.play for s in cadence(w, now)]  # type: ignore[arg-type]


def user_playbook(tmp_path: Path, yaml: str) -> World:
    (tmp_path / "playbook.yaml").write_text(yaml, encoding="utf-8")
    return world(playbook=playbook_from(tmp_path))


# -- preconditions --------------------------------------------------------------------


def test_a_missed_meeting_gets_missed_meeting_with_three_times_the_same_day() -> None:
    d = deal(touches=(reply(6),), meetings=(meeting(3),))  # Friday 14:00, 30 minutes
    s = step(world(d), MONDAY)
    assert s.play == "missed-meeting"
    assert s.due == at(3, 14) + timedelta(minutes=30), "due the moment the meeting ended"
    assert len(s.times) == 3 and len({t.split(",")[0] for t in s.times}) == 3
    assert all(t in s.body for t in s.times)
    assert all(t.endswith("CST") for t in s.times), "times are in George's time zone"


def test_personal_concern_comes_four_days_after_missed_meeting() -> None:
    d = deal(touches=(reply(10),), meetings=(meeting(7),))
    w = world(d)
    first = step(w, at(7, 15))
    w = with_step_done(w, first, first.due)
    second = step(w, first.due + timedelta(hours=1))
    assert second.play == "personal-concern"
    assert (second.due - first.due) >= timedelta(days=4)
    assert (second.due - first.due) < timedelta(days=6)


def test_ask_referrer_goes_first_and_to_the_referrer_when_there_is_one() -> None:
    w = world(silent_deal(referrer="diane"), people=[GEORGE, DIANE])
    s = step(w)
    assert s.play == "ask-referrer" and s.to == ("diane",)
    assert "George" in s.body


def test_an_advocate_stands_in_for_a_missing_referrer() -> None:
    w = world(silent_deal(advocate="diane"), people=[GEORGE, DIANE])
    assert step(w).to == ("diane",)


def test_without_a_referrer_the_cadence_opens_with_a_call_and_an_email() -> None:
    s = step(world(silent_deal()))
    assert s.play == "voicemail-then-email"
    assert s.channel == "call" and s.script and "email" in s.script.lower()
    assert s.body and s.subject


def test_without_a_phone_the_opener_is_the_transparent_check_in() -> None:
    s = step(world(silent_deal(), people=[contact(phone=None)]))
    assert s.play == "transparent-check-in" and s.channel == "email"
    assert "month-end close takes nine days" in s.body, "it restates their problem"


def test_value_drip_needs_matching_content_never_sent_to_the_contact() -> None:
    w = world(silent_deal(tags=("finance",)), content=(CHECKLIST,))
    assert "value-drip" in plays(w)
    drip = next(s for s in cadence(w, MONDAY) if s.play == "value-drip")
    assert drip.content == "close-checklist" and CHECKLIST.title in drip.body
    seen = replace(w, sent={"george": Sent(content={"close-checklist"})})
    assert "value-drip" not in plays(seen)
    assert "value-drip" not in plays(world(silent_deal(tags=("hr",)), content=(CHECKLIST,)))


def test_personal_touch_needs_an_interest() -> None:
    assert "personal-touch" not in plays(world(silent_deal()))
    fan = world(silent_deal(), people=[contact(interests=("Chicago Cubs",))])
    touch = next(s for s in cadence(fan, MONDAY) if s.play == "personal-touch")
    assert "Chicago Cubs" in touch.body


def test_opportunity_cost_needs_both_benefits_and_cost_of_inaction() -> None:
    both = silent_deal(benefits="a five-day close", cost_of_inaction="another audit finding")
    assert "opportunity-cost" in plays(world(both))
    assert "opportunity-cost" not in plays(world(replace(both, cost_of_inaction=None)))


def test_assistant_schedule_asks_the_assistant_for_a_slot() -> None:
    w = world(silent_deal(), people=[contact(assistant="lisa"), LISA])
    s = next(s for s in cadence(w, MONDAY) if s.play == "assistant-schedule")
    assert s.to == ("lisa",) and len(s.times) == 3
    assert "assistant-schedule" not in plays(world(silent_deal()))


def test_warm_visit_only_for_nearby_contacts() -> None:
    assert "warm-visit" not in plays(world(silent_deal()))
    s = next(s for s in cadence(world(silent_deal(), people=[contact(nearby=True)]), MONDAY)
             if s.play == "warm-visit")  # fmt: skip
    assert s.channel == "visit" and s.script


def test_humor_checklist_only_for_contacts_who_enjoy_a_joke() -> None:
    assert "humor-checklist" not in plays(world(silent_deal()))
    assert "humor-checklist" in plays(world(silent_deal(), people=[contact(humor_ok=True)]))


def test_did_i_offend_is_off_by_default_and_needs_three_unanswered_touches(tmp_path: Path) -> None:
    assert "did-i-offend" not in plays(world(silent_deal()))
    on = user_playbook(tmp_path, "format: unghost-playbook\nversion: 1\nplays:\n"
                                 "  - id: did-i-offend\n    enabled: true\n")  # fmt: skip
    mapped = cadence(replace(on, deal=silent_deal()), MONDAY)
    offend = [i for i, s in enumerate(mapped) if s.play == "did-i-offend"]
    assert offend, [s.play for s in mapped]
    touches_before = 2 + sum(
        2 if s.play == "voicemail-then-email" else 1 for s in mapped[: offend[0]]
    )
    assert touches_before >= 3


def test_go_for_no_needs_four_unanswered_touches_and_recalls_permission_to_say_no() -> None:
    three = deal(touches=(reply(40), out(30), out(20), out(10)), proposal=None)
    w = world(three, people=[contact(phone=None)])
    assert step(w).play != "go-for-no"
    mapped = cadence(world(silent_deal(permission_to_say_no=True)), MONDAY)
    go = next(s for s in mapped if s.play == "go-for-no")
    assert "no" in go.body.lower() and "agreed" in go.body.lower()


def test_proposal_expiry_applies_within_seven_days_of_the_expiry_date() -> None:
    soon = silent_deal(proposal=proposal(20, expires=date(2026, 11, 27)))
    later = silent_deal(proposal=proposal(20, expires=date(2026, 12, 20)))
    assert "proposal-expiry" in plays(world(soon))
    opened = with_touches(soon, out(3, play="voicemail-then-email"))
    assert step(world(opened)).play == "proposal-expiry", "it comes before the rotation"
    first_of_later = plays(world(later))
    assert first_of_later.index("proposal-expiry") > first_of_later.index("progress-check")


def test_a_proposal_without_expiry_is_given_thirty_days_and_the_seller_is_told() -> None:
    d = silent_deal(proposal=proposal(25))
    expiry = next(s for s in cadence(world(d), MONDAY) if s.play == "proposal-expiry")
    assert any("30 days" in w for w in expiry.warnings)


def test_the_cadence_ends_with_final_call_then_check_back_three_to_four_months_later() -> None:
    mapped = cadence(world(silent_deal()), MONDAY)
    assert [s.play for s in mapped[-2:]] == ["final-call", "check-back"]
    gap = mapped[-1].due.date() - mapped[-2].due.date()  # calendar days, across the DST change
    assert 90 <= gap.days <= 120


# -- cadence rules ----------------------------------------------------------------------


def test_rule_1_the_order_of_the_default_playbook() -> None:
    rich = silent_deal(
        referrer="diane",
        tags=("finance",),
        benefits="a five-day close",
        cost_of_inaction="another audit finding",
        proposal=proposal(40, expires=date(2026, 11, 20)),
    )
    people = [contact(interests=("sailing",), humor_ok=True, nearby=True, assistant="lisa"),
              DIANE, LISA]  # fmt: skip
    order = plays(world(rich, people=people, content=(CHECKLIST,)))
    # An expired proposal is time-sensitive: it comes right after the openers.
    assert order[:3] == ["ask-referrer", "voicemail-then-email", "proposal-expiry"]
    rotation = ["progress-check", "value-drip", "opportunity-cost", "personal-touch",
                "client-reference", "introduction", "assistant-schedule", "warm-visit",
                "humor-checklist"]  # fmt: skip
    assert [p for p in order if p in rotation] == rotation
    assert order[-3:] == ["go-for-no", "final-call", "check-back"]
    assert len(order) == len(set(order))


def test_rule_2_one_touch_a_week_three_business_days_when_urgent() -> None:
    normal = cadence(world(silent_deal()), MONDAY)
    gaps = [b.due - a.due for a, b in itertools.pairwise(normal[:-1])]
    assert min(gaps) >= timedelta(days=7)
    urgent = cadence(world(silent_deal(urgency="high")), MONDAY)
    cal = world().cal
    for a, b in itertools.pairwise(urgent[:-1]):
        assert cal.business_days_between(a.due, b.due) >= 3
    assert urgent[-2].due < normal[-2].due


def test_rule_2_no_step_on_a_weekend_a_holiday_or_out_of_hours() -> None:
    w = world(silent_deal())
    for s in cadence(w, at(0, 16)):
        assert w.cal.is_business_time(s.due), s
        assert s.due.astimezone(w.cal.zone).date() != date(2026, 11, 26)


def test_rule_2_email_goes_out_in_the_recipients_business_hours() -> None:
    london = contact(timezone="Europe/London", phone=None)
    s = step(world(silent_deal(), people=[london]), at(0, 14))  # 19:00 in London
    local = s.due.astimezone(__import__("zoneinfo").ZoneInfo("Europe/London"))
    assert 9 <= local.hour < 17 and local.weekday() < 5


def test_rule_3_never_the_same_variant_twice_to_one_contact_even_across_deals() -> None:
    first = step(world(silent_deal(), people=[contact(phone=None)]))
    seen = Sent(variants={first.variant or ""}, bodies=[first.body])
    again = step(world(silent_deal(), people=[contact(phone=None)], sent={"george": seen}))
    assert again.play == first.play and again.variant != first.variant


def test_rule_3_a_draft_too_close_to_anything_sent_is_replaced_or_the_play_skipped() -> None:
    w = world(silent_deal(), people=[contact(phone=None)])
    drafts = {}
    for v in w.playbook.play("transparent-check-in").variants:
        forced = replace(w, sent={"george": Sent(variants={x.id for x in
                         w.playbook.play("transparent-check-in").variants} - {v.id})})  # fmt: skip
        drafts[v.id] = step(forced).body
    near_copies = Sent(bodies=list(drafts.values()))
    s = step(replace(w, sent={"george": near_copies}))
    assert s.play != "transparent-check-in"
    assert "transparent-check-in" in s.why and "too close" in s.why


def test_rule_4_no_default_draft_carries_a_tone_warning_in_a_whole_cadence() -> None:
    d = silent_deal(
        referrer="diane",
        tags=("finance",),
        benefits="a five-day close",
        cost_of_inaction="another audit finding",
        proposal=proposal(40, expires=date(2026, 11, 27)),
        permission_to_say_no=True,
    )
    people = [contact(interests=("sailing",), humor_ok=True, nearby=True, assistant="lisa"),
              DIANE, LISA]  # fmt: skip
    for s in cadence(world(d, people=people, content=(CHECKLIST,)), MONDAY):
        assert s.warnings == (), (s.play, s.warnings)


def test_rule_4_a_user_template_with_an_ultimatum_gets_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "templates" / "transparent-check-in"
    folder.mkdir(parents=True)
    (folder / "1.j2").write_text(
        "{% block subject %}Last chance{% endblock %}{% block body %}Hi {{ contact.first_name }}, "
        "if I don't hear back by Friday I will assume you are not interested. Can we talk?"
        "{% endblock %}{% block script %}Hi, it is Nora.{% endblock %}",
        encoding="utf-8",
    )
    w = world(silent_deal(), people=[contact(phone=None)], playbook=playbook_from(tmp_path))
    w = replace(w, sent={"george": Sent(variants={"transparent-check-in/2",
                                                  "transparent-check-in/3"})})  # fmt: skip
    s = step(w)
    assert s.variant == "transparent-check-in/1"
    assert any(x.startswith("ultimatum") for x in s.warnings)


def test_rule_5_copy_the_referrer_when_set_but_never_on_ask_referrer(tmp_path: Path) -> None:
    w = user_playbook(tmp_path, "format: unghost-playbook\nversion: 1\nsettings:\n"
                                "  cc_referrer: true\n")  # fmt: skip
    w = replace(w, deal=silent_deal(referrer="diane"), people={"george": GEORGE, "diane": DIANE})
    mapped = cadence(w, MONDAY)
    assert mapped[0].play == "ask-referrer" and mapped[0].cc == ()
    assert all(s.cc == ("diane",) for s in mapped[1:])
    assert all(s.cc == () for s in cadence(world(silent_deal(referrer="diane"),
                                                 people=[GEORGE, DIANE]), MONDAY))  # fmt: skip


def test_rule_6_a_call_step_can_withhold_the_caller_id(tmp_path: Path) -> None:
    w = user_playbook(tmp_path, "format: unghost-playbook\nversion: 1\nsettings:\n"
                                "  withhold_caller_id: true\n")  # fmt: skip
    s = step(replace(w, deal=silent_deal()))
    assert s.channel == "call" and s.dial == "*67 +13125550199"
    assert step(world(silent_deal())).dial == "+13125550199"


def test_rule_7_a_new_deal_gets_the_first_task_to_agree_a_no_is_welcome() -> None:
    new = deal(touches=(reply(2),), meetings=(meeting(-1, status="scheduled"),))
    s = step(world(new))
    assert s.play == "establish-guidelines" and s.channel == "meeting"
    assert s.due == at(-1, 14), "due at the first meeting"
    assert s.script and "no" in s.script.lower()
    assert plan_deal(world(replace(new, permission_to_say_no=True)), MONDAY).next is None
    held = replace(new, meetings=(meeting(5, status="held"),))
    assert plan_deal(world(held), MONDAY).next is None
    skipped = replace(world(new), skipped_ever=frozenset({"establish-guidelines"}))
    assert plan_deal(skipped, MONDAY).next is None


def test_rule_8_the_whole_cadence_can_be_mapped_before_it_starts() -> None:
    active = deal(touches=(Touch(at=at(30), channel="meeting", direction="out", outcome="held"),
                           reply(1)))  # fmt: skip
    mapped = cadence(world(active), MONDAY)
    assert plan_deal(world(active), MONDAY).next is None
    assert len(mapped) >= 6 and mapped[0].due > MONDAY + timedelta(days=6)
    assert [s.play for s in mapped[-2:]] == ["final-call", "check-back"]


def test_rule_9_every_step_says_why() -> None:
    for s in cadence(world(silent_deal(proposal=proposal(30))), MONDAY):
        assert s.play in s.why and "due:" in s.why
    s = step(world(silent_deal(proposal=proposal(30))))
    assert "proposal" in s.why and "touches unanswered" in s.why


def test_a_reply_cancels_the_plan_until_a_new_silence() -> None:
    w = world(with_touches(silent_deal(), reply(0.5, hour=8)))
    assert plan_deal(w, MONDAY).next is None
    assert plan_deal(w, MONDAY + timedelta(days=25)).next is not None


def test_do_not_contact_people_get_nothing() -> None:
    assert (
        plan_deal(world(silent_deal(), people=[contact(do_not_contact=True)]), MONDAY).next is None
    )
    referrer_out = world(silent_deal(referrer="diane"),
                         people=[GEORGE, contact("diane", do_not_contact=True)])  # fmt: skip
    assert all("diane" not in s.to + s.cc for s in cadence(referrer_out, MONDAY))


def test_every_play_of_the_default_playbook_has_at_least_three_variants() -> None:
    pb = default_playbook()
    assert len(pb.plays) >= 19
    assert all(len(p.variants) >= 3 for p in pb.plays)
