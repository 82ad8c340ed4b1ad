"""The sample workspace: a consultant's realistic book of deals, for `unghost demo` and tests."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from importlib import resources
from typing import Any

import orjson
from sqlalchemy import Engine, delete, select

from unghost.services.workspace import ImportResult, import_document
from unghost.store import models as m
from unghost.store.db import transaction

_DATE_FIELDS = {"at", "created_at", "sent_at", "expires_at", "by", "made_at"}


def sample_document() -> dict[str, Any]:
    """The sample workspace exactly as shipped, dated around its anchor (Monday 2026-11-23)."""
    data = (resources.files("unghost.sample") / "workspace.json").read_bytes()
    doc: dict[str, Any] = orjson.loads(data)
    return doc


def sample_anchor(doc: dict[str, Any]) -> datetime:
    """The moment the sample's history is written up to."""
    return datetime.fromisoformat(doc["anchor"])


def shifted(doc: dict[str, Any], today: date) -> dict[str, Any]:
    """The sample moved by whole weeks so that its anchor falls in `today`'s week."""
    anchor = sample_anchor(doc).date()
    weeks = (today - anchor).days // 7
    delta = timedelta(weeks=weeks)
    if not weeks:
        return doc
    out: dict[str, Any] = _shift(doc, delta)
    return out


def _shift(value: Any, delta: timedelta, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _shift(v, delta, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift(v, delta, key) for v in value]
    if isinstance(value, str) and (key in _DATE_FIELDS or key == "anchor"):
        if len(value) == 10:
            return (date.fromisoformat(value) + delta).isoformat()
        moved = datetime.fromisoformat(value) + delta
        return moved.isoformat()
    return value


def load_demo(engine: Engine, today: date) -> tuple[ImportResult, datetime]:
    """Reset the sample owner's workspace to the sample, shifted to this week."""
    doc = shifted(sample_document(), today)
    email = doc["owner"]["email"]
    with transaction(engine) as session:
        owner_id = session.scalar(select(m.User.id).where(m.User.email == email))
        if owner_id is not None:
            # The demo owner is fictional: starting over never loses a user's data.
            session.execute(delete(m.Deal).where(m.Deal.owner_id == owner_id))
            session.execute(delete(m.Contact).where(m.Contact.owner_id == owner_id))
            session.execute(delete(m.ContentItem).where(m.ContentItem.owner_id == owner_id))
    return import_document(engine, doc, source="sample"), sample_anchor(doc)
