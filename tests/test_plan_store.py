"""Stored plans: reused while nothing changed, redrawn when something did or time moved on."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from unghost.services import plan as planning
from unghost.services.demo import sample_anchor, sample_document
from unghost.services.touches import record_touch
from unghost.services.workspace import import_document
from unghost.settings import Settings
from unghost.store import models as m
from unghost.store.db import make_engine, transaction

NOW = sample_anchor(sample_document())


@pytest.fixture
def engine(db_url: str) -> Any:
    engine = make_engine(Settings(database_url=db_url, home=Path("/nonexistent")))
    import_document(engine, sample_document())
    yield engine
    engine.dispose()


def run(engine: Any, now: Any = NOW) -> dict[str, Any]:
    with transaction(engine) as session:
        return planning.plan_json(
            planning.plan(session, [1], now, playbook=planning.default_playbook()), now
        )


def planned_at(engine: Any) -> dict[str, Any]:
    with engine.connect() as conn:
        return {k: v for k, v in conn.execute(select(m.Deal.key, m.Deal.planned_at))}


def test_a_second_plan_reuses_every_stored_plan_and_answers_the_same(engine: Any) -> None:
    first = run(engine)
    stamps = planned_at(engine)
    again = run(engine, NOW + timedelta(minutes=5))
    assert planned_at(engine) == stamps, "nothing was planned again"
    assert again["deals"] == first["deals"]


def test_a_new_touch_replans_only_its_deal(engine: Any) -> None:
    run(engine)
    stamps = planned_at(engine)
    with transaction(engine) as session:
        record_touch(session, [1], deal="okonkwo-law", channel="email", direction="in",
                     outcome="replied", at=NOW + timedelta(minutes=1))  # fmt: skip
    later = NOW + timedelta(minutes=5)
    deals = {d["deal"]: d for d in run(engine, later)["deals"]}
    assert deals["okonkwo-law"]["state"] == "active" and deals["okonkwo-law"]["next"] is None
    changed = {k for k, v in planned_at(engine).items() if v != stamps[k]}
    assert changed == {"okonkwo-law"}


def test_time_passing_replans_a_deal_whose_silence_begins(engine: Any) -> None:
    active = {d["deal"] for d in run(engine)["deals"] if d["state"] == "active"}
    assert "riverside-checkin" in active
    later = {d["deal"]: d for d in run(engine, NOW + timedelta(days=30))["deals"]}
    assert later["riverside-checkin"]["state"] == "silent"
    assert later["riverside-checkin"]["next"] is not None


def test_a_contact_marked_do_not_contact_is_replanned_at_once(engine: Any) -> None:
    run(engine)
    with transaction(engine) as session:
        session.execute(
            update(m.Contact).where(m.Contact.key == "adaeze").values(do_not_contact=True)
        )
    deals = {d["deal"]: d for d in run(engine, NOW + timedelta(minutes=1))["deals"]}
    assert (
        deals["okonkwo-law"]["state"] == "do_not_contact" and deals["okonkwo-law"]["next"] is None
    )
