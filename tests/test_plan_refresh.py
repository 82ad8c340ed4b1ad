"""The worker's refresh: every deal's step decided and stored, its words left for later.

A refreshed step is stored undrafted (null body); `plan` drafts it when it shows it, in
place when the move is the same, and what `plan` shows is what it would have shown with
no refresh before it.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from unghost.services import parallel
from unghost.services import plan as planning
from unghost.services.demo import sample_anchor, sample_document
from unghost.services.touches import record_touch
from unghost.services.workspace import import_document
from unghost.settings import Settings
from unghost.store import models as m
from unghost.store.db import make_engine, transaction

NOW = sample_anchor(sample_document())
PLAYBOOK = planning.default_playbook()


def sample(url: str) -> Any:
    engine = make_engine(Settings(database_url=url, home=Path("/nonexistent")))
    import_document(engine, sample_document())
    return engine


@pytest.fixture
def engine(db_url: str) -> Any:
    engine = sample(db_url)
    yield engine
    engine.dispose()


def refresh(engine: Any, now: Any = NOW, **kw: Any) -> int:
    with transaction(engine) as session:
        return planning.refresh(session, [1], now, playbook=PLAYBOOK, **kw)


def plan(engine: Any, now: Any = NOW) -> dict[str, Any]:
    with transaction(engine) as session:
        return planning.plan_json(planning.plan(session, [1], now, playbook=PLAYBOOK), now)


def open_steps(engine: Any) -> dict[int, tuple[int, str | None, Any]]:
    """deal id → (step id, body, due) of every open step."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(m.Step.deal_id, m.Step.id, m.Step.body, m.Step.due).where(
                m.Step.status.in_(planning.OPEN)
            )
        )
        return {r.deal_id: (r.id, r.body, r.due) for r in rows}


def test_refresh_stores_every_step_undrafted_and_plan_shows_what_it_always_showed(
    tmp_path: Path,
) -> None:
    refreshed, planned = sample(f"sqlite:///{tmp_path}/a.db"), sample(f"sqlite:///{tmp_path}/b.db")
    open_deals = [d for d in sample_document()["deals"] if d.get("stage", "open") == "open"]
    assert refresh(refreshed) == len(open_deals)
    steps = open_steps(refreshed)
    assert steps and all(body is None for _, body, _ in steps.values())
    assert plan(refreshed) == plan(planned)
    assert all(body is not None for _, body, _ in open_steps(refreshed).values())


def test_drafting_a_refreshed_step_fills_it_in_place(engine: Any) -> None:
    refresh(engine)
    before = open_steps(engine)
    plan(engine)
    after = open_steps(engine)
    assert {d: s[0] for d, s in after.items()} == {d: s[0] for d, s in before.items()}
    with engine.connect() as conn:
        assert not conn.scalar(select(m.Step.id).where(m.Step.status == "cancelled").limit(1))


def test_a_second_refresh_finds_every_plan_still_right(engine: Any) -> None:
    refresh(engine)
    with engine.connect() as conn:
        stamps = dict(conn.execute(select(m.Deal.id, m.Deal.planned_at)).all())
    assert refresh(engine, NOW + timedelta(minutes=5)) == 0
    with engine.connect() as conn:
        assert dict(conn.execute(select(m.Deal.id, m.Deal.planned_at)).all()) == stamps


def test_a_touch_after_a_refresh_replans_only_its_deal(engine: Any) -> None:
    refresh(engine)
    with transaction(engine) as session:
        record_touch(session, [1], deal="okonkwo-law", channel="email", direction="in",
                     outcome="replied", at=NOW + timedelta(minutes=1))  # fmt: skip
    assert refresh(engine, NOW + timedelta(minutes=5)) == 1


def test_refresh_drafts_the_steps_due_before_it_is_told(engine: Any) -> None:
    by = NOW + timedelta(days=2)
    refresh(engine, draft_due_by=by)
    steps = open_steps(engine).values()
    assert any(due < by for _, _, due in steps) and any(due >= by for _, _, due in steps)
    assert all((body is not None) == (due < by) for _, body, due in steps)
    # and a later refresh drafts what has come within its reach
    refresh(engine, draft_due_by=by + timedelta(days=365))
    assert all(body is not None for _, body, _ in open_steps(engine).values())


def test_plan_after_plan_keeps_the_words_and_refresh_never_takes_them_back(engine: Any) -> None:
    first = plan(engine)
    refresh(engine, NOW + timedelta(minutes=1))
    assert all(body is not None for _, body, _ in open_steps(engine).values())
    assert plan(engine, NOW + timedelta(minutes=2))["deals"] == first["deals"]


def square_all(share: list[int]) -> list[int]:
    return [n * n for n in share]


def test_spread_does_shares_in_forked_processes_and_keeps_the_order() -> None:
    items = list(range(1000))
    assert parallel.spread(square_all, items, processes=2, min_share=10) == square_all(items)


def test_a_share_whose_process_fails_is_done_again_here() -> None:
    here = os.getpid()

    def fragile(share: list[int]) -> list[int]:
        if os.getpid() != here:
            raise RuntimeError("a forked share fails")
        return square_all(share)

    items = list(range(100))
    assert parallel.spread(fragile, items, processes=2, min_share=10) == square_all(items)


def test_when_this_share_fails_no_forked_process_is_left_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    here, forked = os.getpid(), []
    fork = parallel._fork

    def recorded(*args: Any) -> tuple[int, int]:
        pid, fd = fork(*args)
        forked.append(pid)
        return pid, fd

    def failing(share: list[int]) -> list[int]:
        if os.getpid() == here:
            raise RuntimeError("this share fails")
        return square_all(share)

    monkeypatch.setattr(parallel, "_fork", recorded)
    with pytest.raises(RuntimeError, match="this share fails"):
        parallel.spread(failing, list(range(100)), processes=2, min_share=10)
    assert forked
    for pid in forked:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaped already
