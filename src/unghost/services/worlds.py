"""What the planner reads about many deals: fetched in a few queries, then made into worlds.

`fetch` runs a fixed number of queries whatever the number of deals and keeps the rows as
the driver returns them; deals and contacts come from the rows the digests were made of
(services/freshness.py), read once. `worlds` turns the rows of some of those deals into
the planner's `World`s, converting values on the way. That half is pure, so a big book
builds and plans its deals in shares, one per core (services/parallel.py), each share
converting only its own deals' rows.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import orjson
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    Numeric,
    and_,
    null,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import JSON, NullType

from unghost.domain import model as d
from unghost.domain.calendar import BusinessCalendar
from unghost.domain.compose import Sent
from unghost.domain.planner import World
from unghost.domain.playbook import Playbook
from unghost.domain.silence import episode_start
from unghost.services import freshness
from unghost.services.owners import owner_of
from unghost.store import models as m
from unghost.store.models import UTCDateTime

_T = TypeVar("_T")
_TOUCH_COLUMNS = (
    m.Touch.deal_id, m.Touch.contact_id, type_coerce(m.Touch.at, NullType()).label("at"),
    m.Touch.channel, m.Touch.direction, m.Touch.outcome, m.Touch.play, m.Touch.variant,
    m.Touch.content_key,
)  # fmt: skip
_CONTACT, _AT, _CHANNEL, _DIRECTION, _OUTCOME, _PLAY, _VARIANT, _CONTENT, _BODY = range(1, 10)
_C = {name: i for i, name in enumerate(freshness.CONTACT_NAMES)}
_C_ID, _C_OWNER, _C_KEY, _C_ASSISTANT = (_C[n] for n in ("id", "owner_id", "key", "assistant_id"))


@dataclass
class Rows:
    """The planner's inputs for some deals of some owners, as the driver returned them.

    Deals and contacts are the digests' raw rows; touches are tuples in `_TOUCH_COLUMNS`
    order, then the body (indexing a tuple is many times faster than a row's attributes,
    and a big book has millions of touches).
    """

    playbook: Playbook
    owners: dict[int, d.Owner]
    cals: dict[int, BusinessCalendar]
    deals: dict[int, tuple[Any, ...]]  # in `freshness.DEAL_NAMES` order
    contacts: dict[int, tuple[Any, ...]]  # in `freshness.CONTACT_NAMES` order
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
    inputs: freshness.Inputs,
    ids: Collection[int],
    *,
    named: bool,
    bodies: bool = True,
) -> Rows:
    """Every row the planner reads for these deals (some of those `inputs` was gathered for).

    `named`: a few deals, read by id; else every open deal of the owners, read by owner.
    Without `bodies`, what was sent is read without its words (only drafting needs them).
    """
    users = owners_of(session, owners)
    rows = Rows(
        playbook,
        users,
        {uid: BusinessCalendar.for_owner(o) for uid, o in users.items()},
        {i: inputs.deals[i] for i in ids},
        inputs.contacts,
    )
    if not rows.deals:
        return rows
    wanted = list(rows.deals)
    conn = session.connection()
    body = m.Touch.body if bodies else null().label("body")
    if named:  # the deals' touches, and what their people received on other deals
        people = _cast_ids(rows.deals.values(), inputs.contacts)
        touches = select(*_TOUCH_COLUMNS, body).where(
            or_(
                m.Touch.deal_id.in_(wanted),
                and_(m.Touch.direction == "out", m.Touch.contact_id.in_(people)),
            )
        )
    else:
        touches = (
            select(*_TOUCH_COLUMNS, body)
            .join(m.Deal, m.Deal.id == m.Touch.deal_id)
            .where(m.Deal.owner_id.in_(owners))
        )
    query = touches.order_by(m.Touch.deal_id, m.Touch.at, m.Touch.id)
    rows.touches = conn.execute(query).all()  # type: ignore[assignment]
    rows.touch_deals = [t[0] for t in rows.touches]
    _fetch_the_rest(session, owners, rows, wanted, named)
    return rows


def _fetch_the_rest(
    session: Session, owners: Sequence[int], rows: Rows, ids: list[int], named: bool
) -> None:
    """Meetings, promises, content and skipped steps: few rows, read as objects."""
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


def owners_of(session: Session, owners: Sequence[int]) -> dict[int, d.Owner]:
    """user id → the pure-core view of these owners."""
    return {u.id: owner_of(u) for u in session.scalars(select(m.User).where(m.User.id.in_(owners)))}


def worlds(rows: Rows, ids: Sequence[int]) -> Iterator[tuple[int, d.Owner, World]]:
    """The worlds of these deals (some of `rows.deals`), built from the fetched rows."""
    contacts = rows.contacts
    people: dict[int, d.Contact] = {}

    def person(cid: int) -> d.Contact:
        found = people.get(cid)
        if found is None:
            found = people[cid] = _contact(contacts[cid], contacts)
        return found

    deals = [_typed(rows.deals[i], _DEAL_NAMES, _DEAL_CONVERT) for i in ids]
    cast_ids = {row["id"]: _cast(row, contacts) for row in deals}
    addressed = {c for cast in cast_ids.values() for c in cast}
    sent: dict[int, dict[str, Sent]] = defaultdict(dict)
    for t in rows.touches:
        if t[_DIRECTION] == "out" and t[_CONTACT] in addressed:
            c = contacts[t[_CONTACT]]
            history = sent[c[_C_OWNER]].get(c[_C_KEY])
            if history is None:
                history = sent[c[_C_OWNER]][c[_C_KEY]] = Sent()
            if t[_VARIANT]:
                history.variants.add(t[_VARIANT])
            if t[_CONTENT]:
                history.content.add(t[_CONTENT])
            if t[_BODY]:
                history.bodies.append(t[_BODY])

    keys = {cid: c[_C_KEY] for cid, c in contacts.items()}
    for row in deals:
        deal_id, owner_id = row["id"], row["owner_id"]
        touches = [
            _built(
                d.Touch,
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
                },
            )
            for t in rows.touches_of(deal_id)
        ]
        deal = _deal(
            row, keys, touches, rows.meetings.get(deal_id, []), rows.promises.get(deal_id, [])
        )
        skipped = rows.skipped.get(deal_id, [])
        since = episode_start(deal) if skipped else None
        owner = rows.owners[owner_id]
        yield (
            deal_id,
            owner,
            _built(
                World,
                {
                    "owner": owner,
                    "cal": rows.cals[owner_id],
                    "playbook": rows.playbook,
                    "deal": deal,
                    "people": {person(c).key: person(c) for c in cast_ids[deal_id]},
                    "content": rows.content.get(owner_id, []),
                    "sent": sent[owner_id],
                    "skipped": frozenset(p for p, at in skipped if since is None or at > since),
                    "busy": rows.busy.get(owner_id, []),
                    "skipped_ever": frozenset(p for p, _ in skipped),
                },
            ),
        )


def load_worlds(
    session: Session,
    owners: Sequence[int],
    playbook: Playbook,
    *,
    deals: Sequence[str] | None = None,
    deal_ids: Sequence[int] | None = None,
) -> Iterator[tuple[int, d.Owner, World]]:
    """Everything the planner needs, for every open deal of these owners (or the named deals).

    In owner and key order; a fixed number of queries whatever the number of deals.
    """
    named = deals is not None or deal_ids is not None
    scope: ColumnElement[bool] = m.Deal.owner_id.in_(owners)
    if deals is not None:
        scope = and_(scope, m.Deal.key.in_(deals))
    elif deal_ids is not None:
        scope = and_(scope, m.Deal.id.in_(deal_ids))
    else:
        scope = and_(scope, m.Deal.stage == "open")
    inputs = freshness.gather(session, owners, playbook, scope=scope, named=named)
    owner, key = _D["owner_id"], _D["key"]
    ids = sorted(inputs.deals, key=lambda i: (inputs.deals[i][owner], inputs.deals[i][key]))
    rows = fetch(session, owners, playbook, inputs, ids, named=named)
    return worlds(rows, ids)


def _cast(row: dict[str, Any], contacts: dict[int, tuple[Any, ...]]) -> list[int]:
    """Who a deal may address: its prospect, referrer and advocate, and the prospect's
    assistant when the assistant is the owner's contact too."""
    ids = [row[c] for c in ("contact_id", "referrer_id", "advocate_id") if row[c] in contacts]
    assistant = contacts.get(contacts[row["contact_id"]][_C_ASSISTANT])
    if assistant is not None and assistant[_C_OWNER] == row["owner_id"]:
        ids.append(assistant[_C_ID])
    return ids


def _cast_ids(
    deals: Collection[tuple[Any, ...]], contacts: dict[int, tuple[Any, ...]]
) -> list[int]:
    people = {deal[_D[c]] for deal in deals for c in ("contact_id", "referrer_id", "advocate_id")}
    people.discard(None)
    people |= {contacts[c][_C_ASSISTANT] for c in people if c in contacts}
    people.discard(None)
    return sorted(people)


def _in(col: Any, ids: list[int], owners: Sequence[int], named: bool) -> Any:
    """Rows of the loaded deals: by id when a few are named, by owner when planning all."""
    if named:
        return col.in_(ids)
    return col.in_(select(m.Deal.id).where(m.Deal.owner_id.in_(owners), m.Deal.stage == "open"))


# -- converting the raw values -----------------------------------------------------------


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str) else value  # SQLite: text


def _flag(value: Any) -> Any:
    return bool(value)  # SQLite: 0 or 1


def _date(value: Any) -> Any:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _amount(value: Any) -> Any:  # SQLite: a float; as SQLAlchemy's Numeric(14, 2) reads it
    return value if isinstance(value, Decimal) else Decimal(f"{value:.2f}")


def _utc(value: Any) -> datetime:
    """A stored time as the driver returns it (naive UTC text on SQLite), made aware."""
    if value.__class__ is str:  # parsing the offset costs a tenth of replace(tzinfo=…)
        return datetime.fromisoformat(value + "+00:00")
    return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]


def _converters(table: Any, names: Sequence[str]) -> list[tuple[int, Callable[[Any], Any]]]:
    """(position, converter) of each column whose raw value needs converting."""
    out: list[tuple[int, Callable[[Any], Any]]] = []
    for i, name in enumerate(names):
        kind = table.c[name].type
        if isinstance(kind, UTCDateTime):
            out.append((i, _utc))
        elif isinstance(kind, JSON):
            out.append((i, _json))
        elif isinstance(kind, Boolean):
            out.append((i, _flag))
        elif isinstance(kind, Date):
            out.append((i, _date))
        elif isinstance(kind, Numeric):
            assert kind.scale == 2, "_amount reads two decimals"
            out.append((i, _amount))
    return out


_DEAL_NAMES = freshness.DEAL_NAMES
_D = {name: i for i, name in enumerate(_DEAL_NAMES)}
_DEAL_CONVERT = _converters(m.Deal.__table__, _DEAL_NAMES)
_CONTACT_CONVERT = _converters(m.Contact.__table__, freshness.CONTACT_NAMES)


def _typed(
    raw: tuple[Any, ...], names: Sequence[str], convert: list[tuple[int, Callable[[Any], Any]]]
) -> dict[str, Any]:
    values = list(raw)
    for i, fn in convert:
        if values[i] is not None:
            values[i] = fn(values[i])
    return dict(zip(names, values, strict=True))


# -- building the objects ------------------------------------------------------------------


def _built(cls: type[_T], values: dict[str, Any]) -> _T:
    """An instance of a frozen dataclass with these field values, made the fast way.

    A frozen dataclass's `__init__` sets each field through `object.__setattr__`, which
    costs more than the rest of loading a touch; a big book has millions of touches and
    hundreds of thousands of deals, so their fields go into the new instance's `__dict__`
    at once. Only for the classes of `_BUILT`, given every field (checked on import).
    """
    built: _T = object.__new__(cls)
    built.__dict__.update(values)
    return built


_BUILT: dict[type, tuple[str, ...]] = {
    d.Touch: ("at", "channel", "direction", "outcome", "contact", "subject", "body", "play",
              "variant", "content"),
    d.Contact: ("key", "name", "first_name", "email", "phone", "company", "title", "timezone",
                "linkedin", "interests", "humor_ok", "nearby", "assistant", "do_not_contact",
                "email_bad"),
    d.Deal: ("key", "contact", "title", "stage", "problem", "benefits", "cost_of_inaction",
             "referrer", "advocate", "urgency", "permission_to_say_no", "created_at",
             "proposal", "tags", "touches", "meetings", "promises", "paused_until", "extra"),
    World: ("owner", "cal", "playbook", "deal", "people", "content", "sent", "skipped", "busy",
            "skipped_ever"),
}  # fmt: skip
for _cls, _names in _BUILT.items():
    assert tuple(f.name for f in fields(_cls)) == _names, f"worlds builds every {_cls} field"
    assert not hasattr(_cls, "__post_init__"), f"worlds skips {_cls}'s __post_init__"


def _contact(raw: tuple[Any, ...], contacts: dict[int, tuple[Any, ...]]) -> d.Contact:
    c = _typed(raw, freshness.CONTACT_NAMES, _CONTACT_CONVERT)
    assistant = contacts.get(c["assistant_id"]) if c["assistant_id"] else None
    return _built(
        d.Contact,
        {
            "key": c["key"],
            "name": c["name"],
            "first_name": c["first_name"],
            "email": c["email"],
            "phone": c["phone"],
            "company": c["company"],
            "title": c["title"],
            "timezone": c["timezone"],
            "linkedin": c["linkedin"],
            "interests": tuple(c["interests"]),
            "humor_ok": c["humor_ok"],
            "nearby": c["nearby"],
            "assistant": assistant[_C_KEY] if assistant else None,
            "do_not_contact": c["do_not_contact"],
            "email_bad": c["email_bad"],
        },
    )


def _deal(
    row: dict[str, Any],
    keys: dict[int, str],
    touches: list[d.Touch],
    meetings: list[d.Meeting],
    promises: list[d.Promise],
) -> d.Deal:
    proposal = None
    sent_at, expires_at, amount = (
        row["proposal_sent_at"], row["proposal_expires_at"], row["proposal_amount"]
    )  # fmt: skip
    if sent_at or expires_at or amount is not None:
        proposal = d.Proposal(
            sent_at=sent_at, expires_at=expires_at, amount=amount,
            currency=row["proposal_currency"],
        )  # fmt: skip
    return _built(
        d.Deal,
        {
            "key": row["key"],
            "contact": keys[row["contact_id"]],
            "title": row["title"],
            "stage": row["stage"],
            "problem": row["problem"],
            "benefits": row["benefits"],
            "cost_of_inaction": row["cost_of_inaction"],
            "referrer": keys.get(row["referrer_id"]),
            "advocate": keys.get(row["advocate_id"]),
            "urgency": row["urgency"],
            "permission_to_say_no": row["permission_to_say_no"],
            "created_at": row["created_at"],
            "proposal": proposal,
            "tags": tuple(row["tags"]),
            "touches": tuple(touches),
            "meetings": tuple(meetings),
            "promises": tuple(promises),
            "paused_until": row["paused_until"],
            "extra": {},
        },
    )
