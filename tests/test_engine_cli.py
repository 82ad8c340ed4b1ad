"""The engine through the CLI on the sample workspace: plan, today, cadence, step, log."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from helpers import CliResult
from unghost.services.demo import sample_anchor, sample_document
from unghost.store import models as m

Cli = Callable[..., CliResult]
SAMPLE = str(resources.files("unghost.sample") / "workspace.json")
ANCHOR = sample_anchor(sample_document()).isoformat()


@pytest.fixture
def db(cli: Cli, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/engine.db"
    assert cli("--db", url, "import", SAMPLE).code == 0
    return url


def run(cli: Cli, db: str, *args: str) -> Any:
    result = cli("--db", db, *args, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_plan_json_has_the_contract_shape_and_one_step_per_silent_deal(cli: Cli, db: str) -> None:
    data = run(cli, db, "plan", "--as-of", ANCHOR)
    assert data["as_of"] == ANCHOR
    deals = {d["deal"]: d for d in data["deals"]}
    keys = {"deal", "contact", "state", "reasons", "silent_since", "paused_until", "next"}
    assert all(keys <= set(d) for d in deals.values())
    for d in deals.values():
        if d["state"] == "silent":
            assert d["reasons"] and d["next"] is not None, d["deal"]
            n = d["next"]
            assert {"play", "variant", "channel", "to", "cc", "due", "subject", "body", "why",
                    "warnings"} <= set(n)  # fmt: skip
            assert datetime.fromisoformat(n["due"]).utcoffset() is not None
            assert n["warnings"] == [], (d["deal"], n["warnings"])
        elif d["state"] == "active":  # only rule 7's first task, at the first meeting
            assert d["next"] is None or d["next"]["play"] == "establish-guidelines", d["deal"]
        elif d["state"] in ("paused", "do_not_contact"):
            assert d["next"] is None, d["deal"]
    assert deals["hollister-books"]["state"] == "do_not_contact"
    assert deals["merrimack-inventory"]["state"] == "paused"
    assert deals["pioneer-valley-parts"]["next"]["play"] == "check-back"
    assert not {"solberg-onboarding", "cityline-dispatch"} & set(deals), "won/lost are not open"
    first_task = deals["juniper-intake"]["next"]  # new: the first meeting is on Wednesday
    assert first_task["play"] == "establish-guidelines" and first_task["channel"] == "meeting"
    assert first_task["due"] == "2026-11-25T10:00:00-05:00"


def test_plan_for_one_deal_names_a_won_deal_won(cli: Cli, db: str) -> None:
    data = run(cli, db, "plan", "--as-of", ANCHOR, "--deal", "solberg-onboarding")
    assert [(d["deal"], d["state"], d["next"]) for d in data["deals"]] == [
        ("solberg-onboarding", "won", None)
    ]


def test_today_lists_missed_meetings_first_then_by_due_time(cli: Cli, db: str) -> None:
    items = run(cli, db, "today", "--as-of", ANCHOR)["items"]
    steps = [i for i in items if i["kind"] == "step"]
    assert [s["play"] for s in steps[:2]] == ["missed-meeting", "missed-meeting"]
    rest = [s["due"] for s in steps[2:]]
    assert rest == sorted(rest)
    end_of_day = datetime.fromisoformat(ANCHOR).replace(hour=23, minute=59)
    assert all(datetime.fromisoformat(s["due"]) <= end_of_day for s in steps)
    questions = [i for i in items if i["kind"] == "question"]
    assert any(q["deal"] == "pacific-crest-or" for q in questions), "an unconfirmed meeting passed"


def test_cadence_maps_out_the_whole_sequence_with_dates(cli: Cli, db: str) -> None:
    data = run(cli, db, "cadence", "tidewater-freight", "--as-of", ANCHOR)
    assert data["deal"] == "tidewater-freight"
    steps = data["steps"]
    assert all({"play", "channel", "to", "due"} <= set(s) for s in steps)
    assert [s["play"] for s in steps[-2:]] == ["final-call", "check-back"]
    dues = [datetime.fromisoformat(s["due"]) for s in steps]
    assert dues == sorted(dues)


def test_an_unknown_deal_is_a_one_line_error(cli: Cli, db: str) -> None:
    result = cli("--db", db, "cadence", "nope", "--as-of", ANCHOR)
    assert result.code == 2 and result.err == 'unghost: error: no deal "nope"\n'


def test_planning_twice_keeps_the_same_stored_step(cli: Cli, db: str) -> None:
    run(cli, db, "plan", "--as-of", ANCHOR)
    engine = create_engine(db)
    with engine.connect() as conn:
        first = set(conn.execute(select(m.Step.id).where(m.Step.status == "planned")).scalars())
    run(cli, db, "plan", "--as-of", ANCHOR)
    with engine.connect() as conn:
        second = set(conn.execute(select(m.Step.id).where(m.Step.status == "planned")).scalars())
        cancelled = conn.execute(select(m.Step.id).where(m.Step.status == "cancelled")).all()
    engine.dispose()
    assert first == second and cancelled == []


def test_a_reply_logged_cancels_the_deals_planned_step(cli: Cli, db: str) -> None:
    before = run(cli, db, "plan", "--as-of", ANCHOR, "--deal", "okonkwo-law")["deals"][0]
    assert before["next"] is not None
    later = (datetime.fromisoformat(ANCHOR) + timedelta(hours=1)).isoformat()
    logged = cli("--db", db, "log", "--deal", "okonkwo-law", "--channel", "email",
                 "--direction", "in", "--outcome", "replied", "--at", later)  # fmt: skip
    assert logged.code == 0, logged.err
    engine = create_engine(db)
    with engine.connect() as conn:
        statuses = (
            conn.execute(select(m.Step.status).join(m.Deal).where(m.Deal.key == "okonkwo-law"))
            .scalars()
            .all()
        )
    engine.dispose()
    assert statuses == ["cancelled"]
    after = run(cli, db, "plan", "--as-of", later, "--deal", "okonkwo-law")["deals"][0]
    assert after["state"] == "active" and after["next"] is None


def test_step_done_records_the_touch_and_step_skip_moves_on(cli: Cli, db: str) -> None:
    first = run(cli, db, "plan", "--as-of", ANCHOR, "--deal", "fernweh-analytics")["deals"][0]
    done = run(cli, db, "step", "done", "fernweh-analytics", "--at", first["next"]["due"])
    assert done["step"]["status"] == "done" and done["step"]["play"] == first["next"]["play"]
    timeline = run(cli, db, "show", "fernweh-analytics")["events"]
    assert timeline[-1]["play"] == first["next"]["play"]
    assert timeline[-1]["subject"] == first["next"]["subject"]
    skipped_play = done["next"]["play"]
    skipped = run(cli, db, "step", "skip", "fernweh-analytics", "--at", done["next"]["due"])
    assert skipped["step"]["status"] == "skipped"
    assert skipped["next"]["play"] != skipped_play


def test_a_missed_call_walks_a_sensible_cadence_week_by_week_to_check_back(
    cli: Cli, db: str
) -> None:
    now = ANCHOR
    walked: list[tuple[dict[str, Any], str]] = []
    for _ in range(30):
        d = run(cli, db, "plan", "--as-of", now, "--deal", "crumb-bakeries")["deals"][0]
        if d["state"] == "nurture":
            break
        step = d["next"]
        now = max(step["due"], now, key=datetime.fromisoformat)  # overdue steps are done now
        walked.append((step, now))
        run(cli, db, "step", "done", "crumb-bakeries", "--at", now)
    plays = [s["play"] for s, _ in walked]
    assert plays[:2] == ["missed-meeting", "personal-concern"]
    missed, concern = walked[0], walked[1]
    assert missed[0]["due"] == "2026-11-20T14:45:00-05:00", "when the missed call ended"
    assert len(missed[0]["times"]) == 3
    gap = datetime.fromisoformat(concern[0]["due"]) - datetime.fromisoformat(missed[1])
    assert timedelta(days=4) <= gap < timedelta(days=6)
    assert plays[-1] == "final-call" and len(set(plays)) == len(plays)
    variants = [s["variant"] for s, _ in walked]
    assert len(set(variants)) == len(variants)
    nurture = run(cli, db, "plan", "--as-of", now, "--deal", "crumb-bakeries")["deals"][0]
    check_back = nurture["next"]
    assert nurture["state"] == "nurture" and check_back["play"] == "check-back"
    gap_days = datetime.fromisoformat(check_back["due"]).date() - datetime.fromisoformat(now).date()
    assert 90 <= gap_days.days <= 120


def test_the_first_task_done_records_that_a_no_is_welcome(cli: Cli, db: str) -> None:
    task = run(cli, db, "plan", "--as-of", ANCHOR, "--deal", "juniper-intake")["deals"][0]
    assert task["next"]["play"] == "establish-guidelines"
    done = run(cli, db, "step", "done", "juniper-intake", "--at", task["next"]["due"])
    assert done["step"]["status"] == "done" and done["next"] is None
    exported = json.loads(cli("--db", db, "export").out)
    deal = next(d for d in exported["deals"] if d["id"] == "juniper-intake")
    assert deal["permission_to_say_no"] is True


def test_a_contact_is_greeted_by_the_first_name_on_file(cli: Cli, db: str) -> None:
    hoa = run(cli, db, "plan", "--as-of", ANCHOR, "--deal", "kestrel-bio")["deals"][0]["next"]
    assert hoa["body"].startswith("Hi Hoa,"), "Nguyễn Thị Hoa: Hoa is her given name"
