"""Bulk inserts: rows go in as given, in order, however many a statement carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from unghost.services.owners import resolve_owner
from unghost.settings import Settings
from unghost.store import models as m
from unghost.store.bulk import insert_rows
from unghost.store.db import make_engine, transaction


@pytest.mark.parametrize("count", [1, 99, 100, 101, 250])  # 100 rows of 7 columns a statement
def test_bulk_inserted_rows_read_back_as_given_and_in_order(db_url: str, count: int) -> None:
    engine = make_engine(Settings(database_url=db_url, home=Path("/nonexistent")))
    with transaction(engine) as session:
        owner = resolve_owner(session, "maya@example.com", create=True)
        rows: list[tuple[Any, ...]] = [
            (owner.id, f"c{i}", f"Contact {i}", ["golf"] if i % 2 else [], i % 3 == 0, None)
            for i in range(count)
        ]
        columns = ("owner_id", "key", "name", "interests", "humor_ok", "email")
        insert_rows(session, m.Contact.__table__, columns, rows)
    with engine.connect() as conn:
        stored = conn.execute(
            select(*(m.Contact.__table__.c[c] for c in columns), m.Contact.email_bad).order_by(
                m.Contact.id
            )
        )
        assert [tuple(r) for r in stored] == [(*r, False) for r in rows]
    engine.dispose()
