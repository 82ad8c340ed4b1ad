"""The touches of an import: the fast path takes exactly what the careful checks take,
and making the rows in a worker process changes nothing but the speed."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import small_workspace, snapshot
from unghost.errors import BadInput, UnghostError
from unghost.services import touchrows
from unghost.services.touchrows import TouchRows, touch_fingerprint
from unghost.services.workspace import import_document, import_file
from unghost.settings import Settings
from unghost.store import bulk
from unghost.store.db import make_engine

TIMES = [
    "2026-11-02T09:15:00-05:00",
    "2026-11-02T23:59:59-05:00",
    "2026-12-31T23:30:00-01:00",
    "2026-11-02T09:15:00+05:30",
    "2026-11-02T14:15:00Z",
    "2026-11-02 14:15:00+00:00",
    "2026-11-02T09:15:00.25-05:00",
    "2026-11-02T09:15:00",
    "2026-11-02T09:15",
    "2026-03-08T02:30:00",
    "2026-11-02T09:15:00-0500",
]
BAD_TIMES = [
    "2026-11-02T0915-05:00",
    "2026-11-02T09:60:00-05:00",
    "2026-11-02T24:00:00-05:00",
    "2026-02-30T09:15:00-05:00",
    "2026-11-02X09:15:00-05:00",
    "2026-W45-1T09:15:00",
    "2026-11-02T09:15:00-05:0x",
    "2026-11-02T09:15:00,25-05:00",
    "0001-01-01T00:15:00-05:00",
    "9999-12-31T23:15:00-05:00",
    "yesterday",
    "",
]


def engine_for(url: str) -> Any:
    return make_engine(Settings(database_url=url, home=Path("/nonexistent")))


def many_touches(count: int = 60) -> dict[str, Any]:
    """The small workspace with `count` touches in every time shape the fast path sees."""
    doc = small_workspace()
    doc["touches"] = [
        {
            "deal": "acme",
            "contact": ["george", "lisa", None][i % 3],
            "at": TIMES[i % len(TIMES)].replace("2026-11-02", f"2026-11-{1 + i % 28:02d}", 1),
            "channel": ["email", "call", "meeting"][i % 3],
            "direction": ["out", "in"][i % 2],
            "outcome": [None, "sent", "replied"][i % 3],
            "subject": [None, "  Re: the close ", "", "Numbers"][i % 4],
            "body": [None, "Thanks.", "   "][i % 3],
            "play": [None, "ask-referrer", ""][i % 3],
        }
        for i in range(count)
    ]
    doc["touches"].append(dict(doc["touches"][5]))  # the same touch twice is one touch
    return doc


@pytest.fixture
def in_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every import's touch rows in a worker process, seven touches a batch."""
    monkeypatch.setattr(touchrows, "WORKER_MIN", 1)
    monkeypatch.setattr(touchrows, "BATCH", 7)


def test_touches_made_in_a_worker_are_stored_exactly_as_in_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "w.json"
    path.write_text(json.dumps(many_touches()))
    engine = engine_for(f"sqlite:///{tmp_path}/in-process.db")
    in_process = import_file(engine, path)
    expected = snapshot(engine)
    del expected["users"]  # created now, with this moment's time
    engine.dispose()
    monkeypatch.setattr(touchrows, "WORKER_MIN", 1)
    monkeypatch.setattr(touchrows, "BATCH", 7)
    engine = engine_for(f"sqlite:///{tmp_path}/worker.db")
    in_worker = import_file(engine, path)
    assert gc.get_freeze_count() == 0  # what the worker froze is thawed again
    assert in_worker == in_process
    assert in_worker.created["touches"] == 60 and in_worker.unchanged["touches"] == 1
    stored = snapshot(engine)
    del stored["users"]
    assert stored == expected
    engine.dispose()


def test_a_file_imported_through_a_worker_reimports_unchanged_in_process(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engine_for(db_url)
    monkeypatch.setattr(touchrows, "WORKER_MIN", 1)
    monkeypatch.setattr(touchrows, "BATCH", 7)
    first = import_document(engine, many_touches())
    assert first.created["touches"] == 60
    before = snapshot(engine)
    assert not import_document(engine, many_touches()).changed
    monkeypatch.setattr(touchrows, "WORKER_MIN", 10**9)
    again = import_document(engine, many_touches())
    assert not again.changed and again.unchanged["touches"] == 61
    assert snapshot(engine) == before
    engine.dispose()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"deal": "nope"}, 'touches[40].deal: no deal "nope"'),
        ({"contact": "nobody"}, 'touches[40].contact: no contact "nobody"'),
        ({"channel": ["email"]}, "touches[40].channel: must be one of email, call,"),
        ({"at": "2026-11-02T0915-05:00"}, "touches[40].at: must be an ISO 8601 time"),
        ({"play": "ask referrer"}, "touches[40].play: must be an id of 1-200 characters"),
        ({"mood": "sunny"}, "touches[40].mood: unknown field"),
    ],
)  # fmt: skip
def test_a_bad_touch_late_in_a_file_is_named_and_leaves_the_database_as_it_was(
    sqlite_url: str, in_worker: None, change: dict[str, Any], message: str
) -> None:
    engine = engine_for(sqlite_url)
    import_document(engine, small_workspace())
    before = snapshot(engine)
    doc = many_touches()
    doc["touches"][40].update(change)
    with pytest.raises(BadInput) as caught:
        import_document(engine, doc)
    assert caught.value.message.startswith(message)
    assert len(caught.value.message.splitlines()) == 1
    assert snapshot(engine) == before
    engine.dispose()


def test_rows_written_before_a_bad_touch_are_rolled_back(db_url: str, in_worker: None) -> None:
    engine = engine_for(db_url)
    import_document(engine, small_workspace())
    before = snapshot(engine)
    doc = many_touches()
    doc["touches"][-1]["channel"] = "pigeon"  # found after eight batches were written
    with pytest.raises(BadInput, match=r"touches\[60\]\.channel: must be one of"):
        import_document(engine, doc)
    assert snapshot(engine) == before
    engine.dispose()


def schema(engine: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return list(conn.exec_driver_sql("SELECT type, name, sql FROM sqlite_master ORDER BY name"))


def test_a_big_import_builds_the_touch_index_after_the_rows_and_keeps_the_schema(
    sqlite_url: str, in_worker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engine_for(sqlite_url)
    before = schema(engine)
    assert any(name == "ix_touches_deal_id_at" for _, name, _ in before)
    monkeypatch.setattr(bulk, "REBUILD_MIN", 1)
    doc = many_touches()
    doc["touches"][-1]["direction"] = "sideways"
    with pytest.raises(BadInput, match=r"touches\[60\]\.direction"):
        import_document(engine, doc)
    assert schema(engine) == before
    assert import_document(engine, many_touches()).created["touches"] == 60
    assert schema(engine) == before
    with engine.connect() as conn:
        plan = " ".join(
            str(r)
            for r in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT * FROM touches WHERE deal_id = 1 ORDER BY at"
            )
        )
    assert "ix_touches_deal_id_at" in plan
    engine.dispose()


def test_a_worker_that_fails_is_reported_and_nothing_is_written(
    sqlite_url: str, in_worker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engine_for(sqlite_url)
    import_document(engine, small_workspace())
    before = snapshot(engine)

    def broken(self: TouchRows, i: int, d: Any) -> Any:
        raise ZeroDivisionError("the worker's own bug")

    monkeypatch.setattr(TouchRows, "_careful", broken)
    doc = many_touches()
    doc["touches"][30]["at"] = "not a time"
    with pytest.raises(UnghostError, match=r"the worker making touch rows failed: .*own bug"):
        import_document(engine, doc)
    assert snapshot(engine) == before
    assert gc.get_freeze_count() == 0
    engine.dispose()


# -- the fast path against the careful checks -------------------------------------------


def _value(options: list[Any], anything: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(options), anything)


ODD = st.one_of(st.none(), st.integers(), st.booleans(), st.lists(st.text(), max_size=1))
TOUCH = st.fixed_dictionaries(
    {
        "deal": _value(["acme", "acme", "nope", "5"], ODD),
        "at": _value(TIMES + BAD_TIMES, st.text(max_size=30)),
        "channel": _value(["email", "call", "pigeon"], ODD),
        "direction": _value(["out", "in", "sideways"], ODD),
    },
    optional={
        "contact": _value(["george", "lisa", "nobody"], ODD),
        "outcome": _value(["sent", "replied", "nah", ""], ODD),
        "subject": _value(["Hi", "  ", " Re: hi ", "x" * 1001, "a\x00b"], ODD | st.text()),
        "body": _value(["Thanks.", "", "line\nbreak"], ODD | st.text()),
        "play": _value(["ask", "", "a b", 'q"', "p" * 201], ODD | st.text(max_size=5)),
        "variant": _value(["v1", "v 2"], ODD),
        "content": _value(["c", "c d"], ODD),
        "mood": st.just("sunny"),
    },
)


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(touch=TOUCH, tz=st.sampled_from(["America/New_York", "UTC", "Asia/Kolkata"]))
def test_the_fast_path_takes_a_touch_exactly_as_the_careful_checks_do(
    touch: dict[str, Any], tz: str
) -> None:
    rows = TouchRows(
        [touch],
        deals={"acme": 1, "5": 5},
        contacts={"george": 10, "lisa": 11},
        deal_contact={1: 10, 5: 11},
        known=set(),
        tz=tz,
        loc=lambda kind, i, fld=None: f"{kind}[{i}].{fld}" if fld else f"{kind}[{i}]",
    )
    try:
        fast: Any = [row for _, new in rows.batches() for row in new]
    except BadInput as exc:
        fast = exc.message
    try:
        careful: Any = [rows._careful(0, touch)]
    except BadInput as exc:
        careful = exc.message
    assert fast == careful
    if isinstance(careful, list):  # the fingerprint is the one every other path stores
        deal_id, contact_id, fingerprint, at, *values = careful[0]
        assert fingerprint == touch_fingerprint(deal_id, contact_id, [_aware(at), *values])


def _aware(utc_text: str) -> Any:
    from datetime import UTC, datetime

    return datetime.fromisoformat(utc_text).replace(tzinfo=UTC)
