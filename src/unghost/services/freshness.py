"""Is a deal's stored plan still right? A digest of everything the planner reads.

The planner is a pure function of the deal's history, its people, what they have
already received, the owner's calendar and the playbook (and of time, which
`Deal.replan_at` covers). This module computes, in a fixed number of queries
whatever the number of deals, a digest of those inputs per deal; a plan stored
with the same digest, made at or before `now` and good until after it, is reused
instead of being made again (STYLE: the database is the queue).

Values are hashed as the driver returns them, before any conversion to Python
types: the digest only has to change when a value does, and converting a hundred
thousand rows' times and JSON would cost more than hashing them.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Label, func, or_, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from unghost.domain.playbook import Playbook
from unghost.store import models as m

# Columns the planner does not read: the stored plan itself.
_BOOKKEEPING = frozenset({"state", "assessment", "plan_digest", "planned_at", "replan_at"})
# The owner's columns the planner reads (services/owners.py `owner_of`).
_OWNER = ("email", "name", "phone", "signature", "timezone", "country", "working_days",
          "working_start", "working_end")  # fmt: skip


# The order of the raw rows `gather` reads (services/worlds.py builds the deals from them).
DEAL_NAMES = [c.name for c in m.Deal.__table__.c if c.name not in _BOOKKEEPING]
CONTACT_NAMES = [c.name for c in m.Contact.__table__.c]
_OWNER_ID = DEAL_NAMES.index("owner_id")
_CONTACT = DEAL_NAMES.index("contact_id")
_PEOPLE = [DEAL_NAMES.index(n) for n in ("contact_id", "referrer_id", "advocate_id")]
_ASSISTANT = CONTACT_NAMES.index("assistant_id")


def _raw(table: Any, names: Sequence[str] | None = None) -> list[Label[Any]]:
    """The columns as the driver returns them (no JSON parsing, no time conversion)."""
    return [
        type_coerce(c, NullType()).label(c.name)
        for c in table.c
        if (names is None and c.name not in _BOOKKEEPING) or (names and c.name in names)
    ]


@dataclass
class Inputs:
    """What the digests are made of, fetched for the deals of a scope."""

    owner_part: dict[int, str]  # owner → digest of the playbook, owner, content, meetings
    deals: dict[int, tuple[Any, ...]]  # the deal's row, bookkeeping left out
    contacts: dict[int, tuple[Any, ...]]
    received: dict[int, tuple[Any, ...]]  # contact → (count, last id) of touches sent to them
    touches: dict[int, tuple[Any, ...]]  # deal → (count, last id) of its touches
    skipped: dict[int, tuple[Any, ...]]
    meetings: dict[int, list[tuple[Any, ...]]]
    promises: dict[int, list[tuple[Any, ...]]]


def digests(
    session: Session,
    owners: Sequence[int],
    playbook: Playbook,
    *,
    scope: ColumnElement[bool],
    named: bool,
) -> dict[int, str]:
    """deal id → digest of the planner's inputs, for the deals `scope` selects."""
    inputs = gather(session, owners, playbook, scope=scope, named=named)
    return {deal_id: digest(inputs, deal_id) for deal_id in inputs.deals}


def gather(
    session: Session,
    owners: Sequence[int],
    playbook: Playbook,
    *,
    scope: ColumnElement[bool],
    named: bool,
) -> Inputs:
    """Everything the digests of the deals `scope` selects are made of, in a few queries.

    `named`: the scope is a few named deals, so only their people are read.
    """
    conn = session.connection()
    ids_scope = select(m.Deal.id).where(scope)
    deals = {
        d[0]: tuple(d) for d in conn.execute(select(*_raw(m.Deal.__table__)).where(scope)).all()
    }
    users = {
        u.id: tuple(u)
        for u in conn.execute(
            select(m.User.id, *_raw(m.User.__table__, _OWNER)).where(m.User.id.in_(owners))
        ).all()
    }
    contacts_q = select(*_raw(m.Contact.__table__)).where(m.Contact.owner_id.in_(owners))
    received_q = (  # touches sent to nobody in particular are nobody's: not counted
        select(m.Touch.contact_id, func.count(), func.max(m.Touch.id))
        .join(m.Deal, m.Deal.id == m.Touch.deal_id)
        .where(m.Deal.owner_id.in_(owners), m.Touch.direction == "out")
        .where(m.Touch.contact_id.is_not(None))
    )
    if named:  # the deals' people and their assistants, not the whole book
        cast = {d[i] for d in deals.values() for i in _PEOPLE if d[i]}
        assistants = select(m.Contact.assistant_id).where(m.Contact.id.in_(cast))
        contacts_q = contacts_q.where(or_(m.Contact.id.in_(cast), m.Contact.id.in_(assistants)))
        received_q = received_q.where(
            or_(m.Touch.contact_id.in_(cast), m.Touch.contact_id.in_(assistants))
        )
    contacts = {c[0]: tuple(c) for c in conn.execute(contacts_q).all()}
    meetings: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    busy: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in conn.execute(
        select(*_raw(m.Meeting.__table__), m.Deal.owner_id)
        .join(m.Deal, m.Deal.id == m.Meeting.deal_id)
        .where(m.Deal.owner_id.in_(owners))
    ).all():
        values = (row.id, row.at, row.minutes, row.confirmed, row.status)
        meetings[row.deal_id].append(values)
        busy[row.owner_id].append(values)
    promises: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in conn.execute(
        select(*_raw(m.Promise.__table__)).where(m.Promise.deal_id.in_(ids_scope))
    ).all():
        promises[row.deal_id].append(tuple(row))
    content: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in conn.execute(
        select(*_raw(m.ContentItem.__table__)).where(m.ContentItem.owner_id.in_(owners))
    ).all():
        content[row.owner_id].append(tuple(row))
    return Inputs(
        owner_part={
            uid: _hash(repr((playbook.digest, user, sorted(content[uid]), sorted(busy[uid]))))
            for uid, user in users.items()
        },
        deals=deals,
        contacts=contacts,
        # (touches sent to nobody in particular are no deal's people's: no None key)
        received=_agg(session, received_q.group_by(m.Touch.contact_id)),
        touches=_agg(
            session,
            select(m.Touch.deal_id, func.count(), func.max(m.Touch.id))
            .where(m.Touch.deal_id.in_(ids_scope))
            .group_by(m.Touch.deal_id),
        ),
        skipped=_agg(
            session,
            select(m.Step.deal_id, func.count(), func.sum(m.Step.id))
            .where(m.Step.deal_id.in_(ids_scope), m.Step.status == "skipped")
            .group_by(m.Step.deal_id),
        ),
        meetings=dict(meetings),
        promises=dict(promises),
    )


def digest(inputs: Inputs, deal_id: int) -> str:
    """The digest of one deal's inputs (pure: a forked process can make it)."""
    d = inputs.deals[deal_id]
    people = [d[i] for i in _PEOPLE]
    prospect = inputs.contacts.get(d[_CONTACT])
    if prospect is not None and prospect[_ASSISTANT] is not None:
        people.append(prospect[_ASSISTANT])
    meetings = inputs.meetings.get(deal_id)
    promises = inputs.promises.get(deal_id)
    text = repr(
        (
            d,
            [inputs.contacts.get(p) for p in people],
            [inputs.received.get(p) for p in people],
            inputs.touches.get(deal_id),
            sorted(meetings) if meetings else None,
            sorted(promises) if promises else None,
            inputs.skipped.get(deal_id),
        )
    )
    return _hash(inputs.owner_part[d[_OWNER_ID]] + text)


def _agg(session: Session, query: Any) -> dict[int, tuple[Any, ...]]:
    return {row[0]: tuple(row[1:]) for row in session.connection().execute(query).all()}


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
