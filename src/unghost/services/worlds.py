"""What the planner reads about many deals: fetched in a few queries, then made into worlds.

`fetch` runs a fixed number of queries whatever the number of deals and keeps the rows
as they come; `worlds` turns the rows of some of those deals into the planner's `World`s.
The second half is pure, so a big book can build and plan its deals in shares, one per
core (services/parallel.py), each share building only its own deals' objects.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Result, Select, and_, or_, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from unghost.domain import model as d
from unghost.domain.calendar import BusinessCalendar
from unghost.domain.compose import Sent
from unghost.domain.planner import World
from unghost.domain.playbook import Playbook
from unghost.domain.silence import episode_start
from unghost.services.owners import owner_of
from unghost.store import models as m
from unghost.store.models import UTCDateTime

# The stored plan is not the planner's input; times come raw, to be converted in `_utc`.
_PLAN = frozenset({"state", "assessment", "plan_digest", "planned_at", "replan_at"})
_DEAL_COLUMNS = [
    type_coerce(c, NullType()).label(c.name) if isinstance(c.type, UTCDateTime) else c
    for c in m.Deal.__table__.c
    if c.name not in _PLAN
]
_CONTACT_COLUMNS = list(m.Contact.__table__.c)
_T = m.Touch
_TOUCH_COLUMNS = (
    _T.deal_id, _T.contact_id, type_coerce(_T.at, NullType()).label("at"), _T.channel,
    _T.direction, _T.outcome, _T.play, _T.variant, _T.content_key, _T.body,
)  # fmt: skip
_CONTACT, _AT, _CHANNEL, _DIRECTION, _OUTCOME, _PLAY, _VARIANT, _CONTENT, _BODY = range(1, 10)


@dataclass
class Rows:
    """The planner's inputs for some deals of some owners, as fetched.

    Deals and contacts are dicts of their columns; touches are tuples in `_TOUCH_COLUMNS`
    order with the time as the driver returns it (indexing a tuple is many times faster
    than a row's attributes, and there are millions of touches in a big book).
    """

    playbook: Playbook
    owners: dict[int, d.Owner]
    cals: dict[int, BusinessCalendar]
    deals: list[dict[str, Any]]  # by owner, then key
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    touches: list[tuple[Any, ...]] = field(default_factory=list)  # by deal id, then time
    touch_deals: list[int] = field(default_factory=list)  # each touch's deal id, to bisect
    meetings: dict[int, list[d.Meeting]] = field(default_factory=dict)
    busy: dict[int, list[tuple[datetime, datetime]]] = field(default_factory=dict)
    promises: dict[int, list[d.Promise]] = field(default_factory=dict)
    content: dict[int, list[d.ContentItem]] = field(default_factory=dict)
    skipped: dict[int, list[tuple[str, datetime]]] = field(default_factory=dict)

    def touches_of(self, deal_id: int) -> list[tuple[Any, ...]]:
        """The deal's touches, oldest first."""
        lo = bisect.bisect_left(self.touch_deals, deal_id)
        hi = bisect.bisect_right(self.touch_deals, deal_id, lo)
        return self.touches[lo:hi]


def fetch(
    session: Session,
    owners: Sequence[int],
    playbook: Playbook,
    *,
    deals: Sequence[str] | None = None,
    deal_ids: Sequence[int] | None = None,
) -> Rows:
    """Every row the planner reads for the open deals of these owners (or the named deals)."""
    conn = session.connection()
    users = owners_of(session, owners)
    cals = {uid: BusinessCalendar.for_owner(o) for uid, o in users.items()}
    q = select(*_DEAL_COLUMNS).where(m.Deal.owner_id.in_(owners))
    named = deals is not None or deal_ids is not None
    if deals is not None:
        q = q.where(m.Deal.key.in_(deals))
    elif deal_ids is not None:
        q = q.where(m.Deal.id.in_(deal_ids))
    else:
        q = q.where(m.Deal.stage == "open")
    deal_rows = _dicts(conn.execute(q.order_by(m.Deal.owner_id, m.Deal.key)))
    rows = Rows(playbook, users, cals, deal_rows)
    if not deal_rows:
        return rows
    ids = [r["id"] for r in deal_rows]
    rows.contacts = {
        c["id"]: c for c in _dicts(conn.execute(_contacts_query(owners, deal_rows, named)))
    }
    rows.touches = conn.execute(_touches_query(owners, ids, list(rows.contacts), named)).all()  # type: ignore[assignment]
    rows.touch_deals = [t[0] for t in rows.touches]
    wanted = set(ids)
    meetings = select(m.Meeting, m.Deal.owner_id).join(m.Deal, m.Deal.id == m.Meeting.deal_id)
    meetings = meetings.where(m.Deal.owner_id.in_(owners))
    if named:  # the named deals' meetings, and every meeting that keeps the owner busy
        meetings = meetings.where(or_(m.Meeting.deal_id.in_(ids), m.Meeting.status == "scheduled"))
    else:
        meetings = meetings.where(m.Meeting.status != "cancelled")
    for mt, owner_id in session.execute(meetings):
        if mt.deal_id in wanted:
            rows.meetings.setdefault(mt.deal_id, []).append(
                d.Meeting(at=mt.at, minutes=mt.minutes, confirmed=mt.confirmed, status=mt.status)  # type: ignore[arg-type]
            )
        if mt.status == "scheduled":
            rows.busy.setdefault(owner_id, []).append(
                (mt.at, mt.at + timedelta(minutes=mt.minutes))
            )
    for p in session.scalars(select(m.Promise).where(_in(m.Promise.deal_id, ids, owners, named))):
        rows.promises.setdefault(p.deal_id, []).append(
            d.Promise(by=p.by, who=p.who, note=p.note, made_at=p.made_at)  # type: ignore[arg-type]
        )
    for c in session.scalars(select(m.ContentItem).where(m.ContentItem.owner_id.in_(owners))):
        rows.content.setdefault(c.owner_id, []).append(
            d.ContentItem(
                key=c.key, title=c.title, url=c.url, tags=tuple(c.tags), summary=c.summary
            )
        )
    for sk in session.execute(
        select(m.Step.deal_id, m.Step.play, m.Step.done_at).where(
            m.Step.status == "skipped", _in(m.Step.deal_id, ids, owners, named)
        )
    ):
        if sk.done_at is not None:
            rows.skipped.setdefault(sk.deal_id, []).append((sk.play, sk.done_at))
    return rows


def owners_of(session: Session, owners: Sequence[int]) -> dict[int, d.Owner]:
    """user id → the pure-core view of these owners."""
    return {u.id: owner_of(u) for u in session.scalars(select(m.User).where(m.User.id.in_(owners)))}


def worlds(rows: Rows, deal_rows: Sequence[dict[str, Any]]) -> Iterator[tuple[int, d.Owner, World]]:
    """The worlds of these deals (some of `rows.deals`), built from the fetched rows."""
    contacts = rows.contacts
    people: dict[int, d.Contact] = {}

    def person(cid: int) -> d.Contact:
        found = people.get(cid)
        if found is None:
            found = people[cid] = _contact(contacts[cid], contacts)
        return found

    # Who each deal may address: its prospect, referrer and advocate, and the prospect's
    # assistant when the assistant is the owner's contact too.
    cast_ids: dict[int, list[int]] = {}
    for row in deal_rows:
        ids = [row[c] for c in ("contact_id", "referrer_id", "advocate_id") if row[c] in contacts]
        assistant = contacts.get(contacts[row["contact_id"]]["assistant_id"])
        if assistant is not None and assistant["owner_id"] == row["owner_id"]:
            ids.append(assistant["id"])
        cast_ids[row["id"]] = ids
    addressed = {c for ids in cast_ids.values() for c in ids}

    sent: dict[int, dict[str, Sent]] = defaultdict(dict)
    for t in rows.touches:
        if t[_DIRECTION] == "out" and t[_CONTACT] in addressed:
            c = contacts[t[_CONTACT]]
            history = sent[c["owner_id"]].get(c["key"])
            if history is None:
                history = sent[c["owner_id"]][c["key"]] = Sent()
            if t[_VARIANT]:
                history.variants.add(t[_VARIANT])
            if t[_CONTENT]:
                history.content.add(t[_CONTENT])
            if t[_BODY]:
                history.bodies.append(t[_BODY])

    keys = {cid: c["key"] for cid, c in contacts.items()}
    for row in deal_rows:
        deal_id, owner_id = row["id"], row["owner_id"]
        touches = [
            _touch(
                {
                    "at": _utc(t[_AT]),
                    "channel": t[_CHANNEL],
                    "direction": t[_DIRECTION],
                    "outcome": t[_OUTCOME],
                    "contact": keys.get(t[_CONTACT]),
                    "subject": None,
                    "body": None,
                    "play": t[_PLAY],
                    "variant": t[_VARIANT],
                    "content": t[_CONTENT],
                }
            )
            for t in rows.touches_of(deal_id)
        ]
        deal = _deal(
            row, contacts, touches, rows.meetings.get(deal_id, []), rows.promises.get(deal_id, [])
        )
        skipped = rows.skipped.get(deal_id, [])
        since = episode_start(deal) if skipped else None
        owner = rows.owners[owner_id]
        yield (
            deal_id,
            owner,
            World(
                owner=owner,
                cal=rows.cals[owner_id],
                playbook=rows.playbook,
                deal=deal,
                people={person(c).key: person(c) for c in cast_ids[deal_id]},
                content=rows.content.get(owner_id, []),
                sent=sent[owner_id],
                skipped=frozenset(p for p, at in skipped if since is None or at > since),
                busy=rows.busy.get(owner_id, []),
                skipped_ever=frozenset(p for p, _ in skipped),
            ),
        )


def _dicts(result: Result[Any]) -> list[dict[str, Any]]:
    names = list(result.keys())
    return [dict(zip(names, row, strict=True)) for row in result.all()]


def _touch(values: dict[str, Any]) -> d.Touch:
    """A touch with these field values, made the fast way.

    A frozen dataclass's `__init__` sets each field through `object.__setattr__`, which
    costs more than the rest of loading a touch; a big book has millions, so the fields
    go into the new touch's `__dict__` at once (every field, as `_TOUCH_FIELDS` checks).
    """
    touch: d.Touch = object.__new__(d.Touch)
    touch.__dict__.update(values)
    return touch


_TOUCH_FIELDS = ("at", "channel", "direction", "outcome", "contact", "subject", "body", "play",
                 "variant", "content")  # fmt: skip
assert tuple(f.name for f in fields(d.Touch)) == _TOUCH_FIELDS, "worlds._touch sets every field"


def _utc(value: Any) -> datetime:
    """A stored time as the driver returns it (naive UTC text on SQLite), made aware."""
    if value.__class__ is str:  # parsing the offset costs a tenth of replace(tzinfo=…)
        return datetime.fromisoformat(value + "+00:00")
    return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]


def load_worlds(
    session: Session,
    owners: Sequence[int],
    playbook: Playbook,
    *,
    deals: Sequence[str] | None = None,
    deal_ids: Sequence[int] | None = None,
) -> Iterator[tuple[int, d.Owner, World]]:
    """Everything the planner needs, for every open deal of these owners (or the named deals)."""
    rows = fetch(session, owners, playbook, deals=deals, deal_ids=deal_ids)
    return worlds(rows, rows.deals)


def _in(col: Any, ids: list[int], owners: Sequence[int], named: bool) -> Any:
    """Rows of the loaded deals: by id when a few are named, by owner when planning all."""
    if named:
        return col.in_(ids)
    return col.in_(select(m.Deal.id).where(m.Deal.owner_id.in_(owners), m.Deal.stage == "open"))


def _contacts_query(
    owners: Sequence[int], deal_rows: list[dict[str, Any]], named: bool
) -> Select[Any]:
    q = select(*_CONTACT_COLUMNS).where(m.Contact.owner_id.in_(owners))
    if named:
        ids = {r[c] for r in deal_rows for c in ("contact_id", "referrer_id", "advocate_id")}
        ids.discard(None)
        assistants = select(m.Contact.assistant_id).where(m.Contact.id.in_(ids))
        q = q.where(or_(m.Contact.id.in_(ids), m.Contact.id.in_(assistants)))
    return q


def _touches_query(
    owners: Sequence[int], ids: list[int], contact_ids: list[int], named: bool
) -> Select[*tuple[Any, ...]]:
    q: Select[*tuple[Any, ...]] = select(*_TOUCH_COLUMNS)
    if named:
        q = q.where(
            or_(
                m.Touch.deal_id.in_(ids),
                and_(m.Touch.direction == "out", m.Touch.contact_id.in_(contact_ids)),
            )
        )
    else:
        q = q.join(m.Deal, m.Deal.id == m.Touch.deal_id).where(m.Deal.owner_id.in_(owners))
    return q.order_by(m.Touch.deal_id, m.Touch.at, m.Touch.id)


def _contact(c: dict[str, Any], all_contacts: dict[int, dict[str, Any]]) -> d.Contact:
    assistant = all_contacts.get(c["assistant_id"]) if c["assistant_id"] else None
    return d.Contact(
        key=c["key"],
        name=c["name"],
        first_name=c["first_name"],
        email=c["email"],
        phone=c["phone"],
        company=c["company"],
        title=c["title"],
        timezone=c["timezone"],
        linkedin=c["linkedin"],
        interests=tuple(c["interests"]),
        humor_ok=c["humor_ok"],
        nearby=c["nearby"],
        assistant=assistant["key"] if assistant else None,
        do_not_contact=c["do_not_contact"],
        email_bad=c["email_bad"],
    )


def _deal(
    row: dict[str, Any],
    contacts: dict[int, dict[str, Any]],
    touches: list[d.Touch],
    meetings: list[d.Meeting],
    promises: list[d.Promise],
) -> d.Deal:
    proposal = None
    sent_at, expires_at, amount = (
        row["proposal_sent_at"], row["proposal_expires_at"], row["proposal_amount"]
    )  # fmt: skip
    if sent_at is not None:
        sent_at = _utc(sent_at)
    if sent_at or expires_at or amount is not None:
        proposal = d.Proposal(
            sent_at=sent_at, expires_at=expires_at, amount=amount,
            currency=row["proposal_currency"],
        )  # fmt: skip

    def key(cid: int | None) -> str | None:
        return contacts[cid]["key"] if cid is not None and cid in contacts else None

    return d.Deal(
        key=row["key"],
        contact=contacts[row["contact_id"]]["key"],
        title=row["title"],
        stage=row["stage"],
        problem=row["problem"],
        benefits=row["benefits"],
        cost_of_inaction=row["cost_of_inaction"],
        referrer=key(row["referrer_id"]),
        advocate=key(row["advocate_id"]),
        urgency=row["urgency"],
        permission_to_say_no=row["permission_to_say_no"],
        created_at=_utc(row["created_at"]) if row["created_at"] is not None else None,
        proposal=proposal,
        tags=tuple(row["tags"]),
        touches=tuple(touches),
        meetings=tuple(meetings),
        promises=tuple(promises),
        paused_until=_utc(row["paused_until"]) if row["paused_until"] is not None else None,
    )
