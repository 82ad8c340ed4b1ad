"""Ingesting a reply: matched to its deal, recorded, and reacted to in one transaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from helpers import CliResult, small_workspace, snapshot
from inbox_helpers import (
    GEORGE,
    GERMAN_OUT_OF_OFFICE,
    NOW,
    SENT_ID,
    World,
    hard_bounce_for,
    make_world,
    message,
)
from unghost.channels.inbox.referral import Referral, find_referral
from unghost.services import plan as planning
from unghost.services.ingest import IngestResult, ingest
from unghost.services.send import write

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def world(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    w = make_world(sqlite_url, tmp_path)
    yield w
    w.engine.dispose()


def take(w: World, raw: bytes, now: datetime = NOW) -> IngestResult:
    with write(w.engine) as s:
        return ingest(s, raw, now=now, playbook=w.playbook, owner_ids=[w.owner_id])


def plays_for(w: World, contact: str, now: datetime) -> list[str]:
    return [
        p.plan.next.play
        for p in w.plan(now)
        if p.plan.next is not None and contact in p.plan.next.to
    ]


# -- matching ---------------------------------------------------------------------------


def test_a_reply_from_a_contact_is_matched_by_address_and_cancels_the_open_step(
    world: World,
) -> None:
    [step] = world.open_steps()

    result = take(world, message("Thanks Maya, can we talk on Thursday at 2pm?"))

    assert (result.deal, result.contact, result.matched_by) == ("acme", "george", "address")
    assert result.kind == "reply" and result.parsed.intent == "meeting"
    assert world.step(step.id).status == "cancelled"
    assert world.open_steps() == []
    [touch] = world.touches_in()
    assert (touch.channel, touch.outcome) == ("email", "replied")
    assert touch.subject == "Re: Close the books faster"
    assert "Thursday at 2pm" in (touch.body or "")
    assert world.deal().state == "active"


def test_a_reply_in_the_thread_of_a_sent_message_matches_even_from_another_address(
    world: World,
) -> None:
    world.send_first_step()
    world.plan()
    assert world.open_steps(), "the next step is planned"

    result = take(
        world,
        message("Got it, thanks.", sender="G. Abara <g.abara@home.example>", in_reply_to=SENT_ID),
    )

    assert (result.deal, result.contact, result.matched_by) == ("acme", "george", "thread")
    assert world.open_steps() == []
    assert any("cancelled" in said for said in result.reactions)


def test_a_later_message_in_the_thread_matches_through_the_stored_reply(world: World) -> None:
    take(world, message("First answer.", message_id="<r1@acme.example>"))

    result = take(
        world,
        message(
            "And a second thought.",
            sender="Someone Else <else@elsewhere.example>",
            message_id="<r2@elsewhere.example>",
            in_reply_to="<r1@acme.example>",
        ),
    )

    assert (result.deal, result.matched_by) == ("acme", "thread")


def test_a_message_that_matches_no_deal_is_kept_without_one(world: World) -> None:
    result = take(world, message("Hello, want to buy a list?", sender="x@spam.example"))

    assert (result.deal, result.contact, result.matched_by) == (None, None, None)
    [reply] = world.replies()
    assert reply.deal_id is None and reply.owner_id == world.owner_id
    assert reply.new_text == "Hello, want to buy a list?"
    assert "matched no deal" in (reply.reaction or "")


def test_the_same_message_is_recorded_once(world: World) -> None:
    raw = message("Sounds good.")
    first = take(world, raw)
    second = take(world, raw, NOW + timedelta(hours=1))

    assert not first.duplicate and second.duplicate
    assert second.reply_id == first.reply_id
    assert len(world.replies()) == 1 and len(world.touches_in()) == 1


def test_a_message_without_a_message_id_is_recognised_by_its_bytes(world: World) -> None:
    raw = message("Sounds good.", message_id=None)
    take(world, raw)

    assert take(world, raw).duplicate
    assert len(world.replies()) == 1


def test_the_sellers_own_message_is_never_taken_for_a_reply(world: World) -> None:
    world.send_first_step()
    world.plan()
    steps = world.open_steps()

    result = take(
        world,
        message(
            "Following up from my phone.",
            sender="Maya Lindqvist <maya@lindqvist-consulting.example>",
            in_reply_to=SENT_ID,
        ),
    )

    assert result.kind == "own" and result.deal is None
    assert world.touches_in() == []
    assert [s.id for s in world.open_steps()] == [s.id for s in steps]


# -- reactions --------------------------------------------------------------------------


def test_an_unsubscribe_makes_the_contact_do_not_contact_and_nothing_is_planned_for_them_again(
    world: World,
) -> None:
    result = take(world, message("Please remove me from your list and stop emailing me."))

    george = world.contact()
    assert george.do_not_contact
    assert world.deal().state == "do_not_contact"
    assert world.open_steps() == []
    assert any("do not contact" in said for said in result.reactions)
    for later in (timedelta(days=1), timedelta(days=30), timedelta(days=120), timedelta(days=400)):
        assert plays_for(world, "george", NOW + later) == []
    assert world.deal().state == "do_not_contact"


def test_not_interested_marks_the_deal_lost(world: World) -> None:
    take(world, message("Thanks, but we are not interested. We decided to go another way."))

    deal = world.deal()
    assert deal.stage == "lost" and deal.state == "lost"
    assert world.open_steps() == []


def test_not_now_pauses_the_deal_until_the_date_the_reply_names(world: World) -> None:
    result = take(world, message("Not right now, busy with year-end. Try me in Q2."))

    assert result.parsed.intent == "not_now"
    paused = world.deal().paused_until
    assert paused is not None
    assert paused.astimezone(NEW_YORK) == datetime(2027, 4, 1, 9, 0, tzinfo=NEW_YORK)
    assert world.deal().state == "paused" and world.open_steps() == []


def test_not_now_without_a_date_pauses_the_deal_for_ninety_days(world: World) -> None:
    result = take(world, message("Not now, sorry - bad timing for us. Maybe later."))

    assert result.parsed.intent == "not_now" and result.parsed.dates == ()
    paused = world.deal().paused_until
    assert paused is not None
    assert NOW + timedelta(days=90) <= paused <= NOW + timedelta(days=93)


def test_a_referral_adds_the_named_person_as_a_contact_linked_through_the_reply(
    world: World,
) -> None:
    result = take(
        world,
        message(
            "I'm not the right person for this. You should talk to my colleague Priya Raman "
            "(priya.raman@acme.example), she handles finance tooling."
        ),
    )

    assert result.parsed.intent == "referral"
    priya = world.contact("priya-raman")
    assert (priya.name, priya.email, priya.company) == (
        "Priya Raman",
        "priya.raman@acme.example",
        "Acme, Inc.",
    )
    [reply] = world.replies()
    assert reply.referred_contact_id == priya.id and reply.deal_id == world.deal_id
    assert reply.handled_at is None, "the seller completes a referral"


def test_a_referral_that_names_nobody_is_left_for_the_seller(world: World) -> None:
    result = take(world, message("I'm not the right person for this, sorry."))

    assert result.parsed.intent == "referral"
    assert any("complete it by hand" in said for said in result.reactions)
    assert world.replies()[0].referred_contact_id is None


def test_an_out_of_office_pauses_until_the_day_after_its_return_date_and_is_no_reply(
    world: World,
) -> None:
    result = take(world, GERMAN_OUT_OF_OFFICE)

    assert result.kind == "auto_reply" and result.parsed.return_date == date(2026, 12, 3)
    paused = world.deal().paused_until
    assert paused is not None
    # Thursday 3 December → Friday 4 December, 09:00 in the owner's zone.
    assert paused.astimezone(NEW_YORK) == datetime(2026, 12, 4, 9, 0, tzinfo=NEW_YORK)
    assert not world.contact().do_not_contact
    [touch] = world.touches_in()
    assert touch.outcome == "auto_reply"
    [reply] = world.replies()
    assert reply.handled_at is not None, "an auto-reply never tops Today"
    assert [i["kind"] for i in world.today()["items"]] == []


def test_an_out_of_office_without_a_return_date_pauses_seven_days_and_a_business_day(
    world: World,
) -> None:
    take(
        world,
        message(
            "I am out of the office with limited access to email. "
            "For urgent matters please contact my assistant.",
            subject="Out of Office: Close the books faster",
            headers=(("Auto-Submitted", "auto-replied"),),
        ),
    )

    paused = world.deal().paused_until
    assert paused is not None
    # 7 days → Monday 30 November; one business day more → Tuesday 1 December, 10:00.
    assert paused.astimezone(NEW_YORK) == datetime(2026, 12, 1, 10, 0, tzinfo=NEW_YORK)


def test_a_hard_bounce_marks_the_address_bad_and_the_plan_leaves_email(world: World) -> None:
    [step] = world.open_steps()
    assert step.channel == "email"

    result = take(world, hard_bounce_for(GEORGE))

    assert result.kind == "bounce" and (result.deal, result.contact) == ("acme", "george")
    assert world.contact().email_bad
    [touch] = world.touches_in()
    assert touch.outcome == "bounced"
    for p in world.plan(NOW + timedelta(days=2)):
        assert p.plan.next is None or p.plan.next.channel != "email"


def test_a_soft_bounce_only_records_it(world: World) -> None:
    raw = (
        hard_bounce_for(GEORGE)
        .replace(b"5.1.1", b"4.2.2")
        .replace(
            b"The e-mail address you entered couldn't be found",
            b"The recipient's mailbox is full",
        )
    )

    result = take(world, raw)

    assert result.kind == "bounce" and result.parsed.bounce is not None
    assert not result.parsed.bounce.hard
    assert not world.contact().email_bad


# -- one transaction ------------------------------------------------------------------------


def test_a_reply_and_its_reaction_are_one_transaction(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = make_world(db_url, tmp_path)
    try:
        before = snapshot(w.engine)

        def crash(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("the replanner fell over")

        monkeypatch.setattr(planning, "plan", crash)
        with pytest.raises(RuntimeError, match="fell over"):
            take(w, message("Please remove me from your list."))

        assert snapshot(w.engine) == before
        monkeypatch.undo()
        take(w, message("Please remove me from your list."))
        assert w.contact().do_not_contact and w.open_steps() == []
    finally:
        w.engine.dispose()


# -- the CLI ----------------------------------------------------------------------------


def test_reply_ingest_on_a_file_says_what_it_matched_and_how_it_reacted(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    workspace = tmp_path / "workspace.json"
    workspace.write_text(json.dumps(small_workspace()))
    assert cli("import", str(workspace)).code == 0
    assert cli("plan", "--as-of", "2026-11-23T10:00").code == 0
    reply = tmp_path / "reply.eml"
    reply.write_bytes(message("Not now - try me after the holidays."))

    shown = cli("reply", "ingest", str(reply), "--as-of", "2026-11-23T10:00")

    assert shown.code == 0, shown.err
    assert "intent: not_now" in shown.out
    assert "→ matched deal acme by the sender's address" in shown.out
    assert "→ not now: deal acme paused until 2027-01-04 09:00" in shown.out
    assert "→ cancelled the missed-meeting step (email) of deal acme" in shown.out
    assert "deal acme: paused; no step planned" in shown.out

    again = cli("reply", "ingest", str(reply), "--json", "--owner", GEORGE.replace("george", "x"))
    assert again.code == 2 and "no user" in again.err
    again = cli("reply", "ingest", str(reply), "--json")
    assert again.code == 0
    body = json.loads(again.out)
    assert body["duplicate"] is True and body["deal"] == "acme" and body["intent"] == "not_now"


def test_reply_ingest_says_which_file_is_missing(cli: Callable[..., CliResult]) -> None:
    result = cli("reply", "ingest", "/nonexistent/reply.eml")

    assert result.code == 2
    assert result.err == "unghost: error: /nonexistent/reply.eml: no such file\n"


def test_reply_ingest_json_reports_the_reaction(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    workspace = tmp_path / "workspace.json"
    workspace.write_text(json.dumps(small_workspace()))
    cli("import", str(workspace))
    bounce = tmp_path / "bounce.eml"
    bounce.write_bytes(hard_bounce_for(GEORGE))

    result = cli("reply", "ingest", str(bounce), "--as-of", "2026-11-23T10:00", "--json")

    body = json.loads(result.out)
    assert body["kind"] == "bounce" and body["deal"] == "acme" and body["contact"] == "george"
    assert body["bounce"] == {"recipient": GEORGE, "status": "5.1.1", "hard": True}
    assert any("does not work" in said for said in body["reactions"])


# -- who a referral names -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "email"),
    [
        (
            "You should contact Jane Doe <jane.doe@acme.example> instead.",
            "Jane Doe",
            "jane.doe@acme.example",
        ),
        ("Bob Stone (bob@acme.example) is the right person.", "Bob Stone", "bob@acme.example"),
        ("I'm no longer at Acme. Try jane.doe@acme.example.", "Jane Doe", "jane.doe@acme.example"),
        ("Please talk to my colleague Jane Smith, she handles this.", "Jane Smith", None),
        ("Best to reach out to Marie van der Berg in finance.", "Marie van der Berg", None),
        ("I forwarded your note to Priya Raman.", "Priya Raman", None),
        ("Pieter handles this now: pieter@acme.example", "Pieter", "pieter@acme.example"),
    ],
)
def test_a_referral_names_the_person_and_address_the_reply_gives(
    text: str, name: str, email: str | None
) -> None:
    assert find_referral(text, exclude=[GEORGE]) == Referral(name, email)


@pytest.mark.parametrize(
    "text",
    [
        "The right person is our CFO.",
        "I'm not the right person for this, sorry.",
        f"Write to me at {GEORGE} instead.",
    ],
)
def test_a_referral_that_names_nobody_readable_gives_no_guess(text: str) -> None:
    assert find_referral(text, exclude=[GEORGE]) is None
