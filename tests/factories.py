"""Factories with keyword defaults for the pure planner: a named cast and a pinned clock.

The cast: Nora (the owner, Boston), George (the prospect, Chicago), Diane (who
referred him), Lisa (his assistant). MONDAY is 2026-11-23 09:00 in Boston.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from unghost.domain.calendar import BusinessCalendar
from unghost.domain.compose import Sent
from unghost.domain.model import (
    Contact,
    ContentItem,
    Deal,
    Meeting,
    Owner,
    Promise,
    Proposal,
    Touch,
)
from unghost.domain.planner import World
from unghost.domain.playbook import Playbook, load_playbook

BOSTON = ZoneInfo("America/New_York")
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=BOSTON)

NORA = Owner(
    email="nora@castellanos.example",
    name="Nora Castellanos",
    phone="+16175550123",
    signature="Nora Castellanos\nCastellanos Operations",
    timezone="America/New_York",
    country="US",
    working_days=("mon", "tue", "wed", "thu", "fri"),
    working_hours=(time(9), time(17)),
)


@cache
def default_playbook() -> Playbook:
    return load_playbook()


def playbook_from(folder: Path) -> Playbook:
    return load_playbook(folder)


def at(days_ago: float = 0, hour: int = 10, *, base: datetime = MONDAY) -> datetime:
    """A time `days_ago` days before MONDAY, at `hour` o'clock Boston time."""
    d = (base - timedelta(days=days_ago)).date()
    return datetime.combine(d, time(hour), tzinfo=BOSTON)


def contact(key: str = "george", **kw: Any) -> Contact:
    defaults: dict[str, Any] = {
        "george": dict(name="George Abara", email="george@acme.example", phone="+13125550199",
                       company="Acme Freight", title="COO", timezone="America/Chicago"),
        "diane": dict(name="Diane Fowler", email="diane@partners.example"),
        "lisa": dict(name="Lisa Oyelaran", email="lisa@acme.example", phone="+13125550111",
                     timezone="America/Chicago"),
    }.get(key, dict(name=key.title(), email=f"{key}@example.com"))  # fmt: skip
    defaults.update(kw)
    return Contact(key=key, **defaults)


def out(days_ago: float, channel: str = "email", *, hour: int = 10, **kw: Any) -> Touch:
    """An outbound touch that got no answer."""
    outcome = {"email": "sent", "call": "no_answer", "voicemail": "left_voicemail"}.get(
        channel, "sent"
    )
    kw.setdefault("outcome", outcome)
    return Touch(at=at(days_ago, hour), channel=channel, direction="out", **kw)  # type: ignore[arg-type]


def reply(days_ago: float, *, hour: int = 11, **kw: Any) -> Touch:
    """Contact from the prospect: an email reply."""
    return Touch(at=at(days_ago, hour), channel="email", direction="in", outcome="replied", **kw)


def deal(**kw: Any) -> Deal:
    base: dict[str, Any] = dict(
        key="acme",
        contact="george",
        title="Faster month-end close",
        problem="our month-end close takes nine days",
        created_at=at(60),
        touches=(
            Touch(at=at(60), channel="meeting", direction="out", outcome="held"),
            reply(50),
        ),
    )
    base.update(kw)
    return Deal(**base)


def proposal(sent_days_ago: float, expires: date | None = None, amount: int = 24000) -> Proposal:
    return Proposal(sent_at=at(sent_days_ago), expires_at=expires, amount=Decimal(amount),
                    currency="USD")  # fmt: skip


def meeting(days_ago: float, hour: int = 14, **kw: Any) -> Meeting:
    return Meeting(at=at(days_ago, hour), **{"minutes": 30, "confirmed": True, **kw})


def promise(by: date, **kw: Any) -> Promise:
    return Promise(by=by, **kw)


def world(
    d: Deal | None = None,
    *,
    people: list[Contact] | None = None,
    playbook: Playbook | None = None,
    content: tuple[ContentItem, ...] = (),
    sent: dict[str, Sent] | None = None,
    owner: Owner = NORA,
    skipped: frozenset[str] = frozenset(),
) -> World:
    d = d or deal()
    cast = {c.key: c for c in (people or [contact()])}
    return World(
        owner=owner,
        cal=BusinessCalendar.for_owner(owner),
        playbook=playbook or default_playbook(),
        deal=d,
        people=cast,
        content=content,
        sent=sent or {},
        skipped=skipped,
    )


def silent_deal(**kw: Any) -> Deal:
    """A deal gone quiet: the last reply 30 days ago, two emails since."""
    touches = (
        Touch(at=at(60), channel="meeting", direction="out", outcome="held"),
        reply(30),
        out(20),
        out(10),
    )
    return deal(touches=touches, **kw)


def with_touches(d: Deal, *extra: Touch) -> Deal:
    return replace(d, touches=(*d.touches, *extra))
