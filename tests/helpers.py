"""Small helpers shared by tests: CLI results, database snapshots, workspace documents."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from unghost.store.models import Base


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order: equal snapshots mean nothing changed."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = conn.execute(select(table).order_by(*table.primary_key.columns))
            out[table.name] = [tuple(r) for r in rows]
    return out


SMALL_WORKSPACE: dict[str, Any] = {
    "format": "unghost-workspace",
    "version": 1,
    "owner": {
        "name": "Maya Lindqvist",
        "email": "maya@lindqvist-consulting.example",
        "phone": "+1 617 555 0142",
        "signature": "Maya Lindqvist\nLindqvist Consulting",
        "timezone": "America/New_York",
        "country": "US",
        "working_days": ["mon", "tue", "wed", "thu", "fri"],
        "working_hours": ["09:00", "17:00"],
    },
    "contacts": [
        {
            "id": "george",
            "name": "George Abara",
            "email": "george@acme.example",
            "phone": "(312) 555-0199",
            "company": "Acme, Inc.",
            "title": "COO",
            "timezone": "America/Chicago",
            "linkedin": "https://www.linkedin.com/in/george-abara",
            "interests": ["Chicago Cubs"],
            "humor_ok": True,
            "nearby": False,
            "assistant": "lisa",
            "do_not_contact": False,
        },
        {"id": "lisa", "name": "Lisa Oyelaran", "email": "lisa@acme.example"},
        {"id": "diane", "name": "Zoë Ødegaard", "email": "zoe@partners.example"},
    ],
    "deals": [
        {
            "id": "acme",
            "contact": "george",
            "title": "Close the books faster",
            "stage": "open",
            "problem": "our month-end close takes nine days",
            "benefits": "a five-day close by March",
            "cost_of_inaction": "another audit finding",
            "referrer": "diane",
            "advocate": None,
            "urgency": "high",
            "permission_to_say_no": True,
            "tags": ["finance", "close"],
            "created_at": "2026-09-01T10:00:00-04:00",
            "proposal": {
                "sent_at": "2026-11-02T11:00:00-05:00",
                "expires_at": "2026-12-01",
                "amount": 24000,
                "currency": "USD",
            },
        }
    ],
    "touches": [
        {
            "deal": "acme",
            "at": "2026-09-01T10:00:00-04:00",
            "channel": "meeting",
            "direction": "out",
            "outcome": "held",
            "subject": "First meeting",
            "body": "Walked through the close calendar.",
            "play": None,
        },
        {
            "deal": "acme",
            "contact": "diane",
            "at": "2026-11-10T09:30:00-05:00",
            "channel": "email",
            "direction": "out",
            "outcome": "sent",
            "subject": "How it is going with George",
            "body": "Short note.",
            "play": "ask-referrer",
        },
    ],
    "meetings": [
        {
            "deal": "acme",
            "at": "2026-11-20T14:00:00-05:00",
            "minutes": 30,
            "confirmed": True,
            "status": "scheduled",
        }
    ],
    "promises": [
        {"deal": "acme", "by": "2026-11-13", "who": "prospect", "note": "decide by Friday"}
    ],
    "content": [
        {
            "id": "close-checklist",
            "title": "A checklist for a five-day close",
            "url": "https://example.com/close-checklist",
            "tags": ["finance"],
            "summary": "Twelve steps.",
        }
    ],
}


def small_workspace() -> dict[str, Any]:
    """A fresh copy of a small workspace touching every record kind and field."""
    return copy.deepcopy(SMALL_WORKSPACE)


TIME_FIELDS = {"at", "created_at", "sent_at", "made_at"}


def _norm(field: str, value: Any) -> Any:
    from datetime import datetime

    if field in TIME_FIELDS and isinstance(value, str):
        return datetime.fromisoformat(value).timestamp()
    if isinstance(value, dict):
        return {k: _norm(k, v) for k, v in value.items()}
    return value


def _record_key(kind: str, record: dict[str, Any]) -> tuple[Any, ...]:
    if kind in ("contacts", "deals", "content"):
        return (record["id"],)
    if kind == "touches":
        return (
            record["deal"],
            _norm("at", record["at"]),
            record["channel"],
            record["direction"],
            record.get("subject"),
        )
    if kind == "meetings":
        return (record["deal"], _norm("at", record["at"]))
    return (record["deal"], record["by"], record.get("who", "prospect"))


def workspace_differences(
    given: dict[str, Any], exported: dict[str, Any], *, normalise: dict[str, Any] | None = None
) -> list[str]:
    """Every field of `given` that `exported` does not carry the same (times as instants)."""
    normalise = normalise or {}
    problems: list[str] = []
    for field, value in given.get("owner", {}).items():
        want = normalise.get(f"owner.{field}", value)
        if _norm(field, want) != _norm(field, exported["owner"].get(field)):
            problems.append(f"owner.{field}: {want!r} != {exported['owner'].get(field)!r}")
    for kind in ("contacts", "deals", "touches", "meetings", "promises", "content"):
        out = {_record_key(kind, r): r for r in exported.get(kind, [])}
        if len(given.get(kind, [])) != len(exported.get(kind, [])):
            problems.append(f"{kind}: {len(given.get(kind, []))} given, {len(out)} exported")
        for i, record in enumerate(given.get(kind, [])):
            other = out.get(_record_key(kind, record))
            if other is None:
                problems.append(f"{kind}[{i}]: missing from the export")
                continue
            for field, value in record.items():
                want = normalise.get(f"{kind}[{i}].{field}", value)
                if _norm(field, want) != _norm(field, other.get(field)):
                    problems.append(f"{kind}[{i}].{field}: {want!r} != {other.get(field)!r}")
    return problems
