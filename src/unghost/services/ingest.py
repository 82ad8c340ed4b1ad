"""Ingesting one inbound message: match it to a deal, record it, react (PRODUCT §5).

`ingest(session, raw, now=…, playbook=…, owner_ids=[…])` does it all in the caller's
transaction — the reply, its touch, the reaction (do-not-contact, lost, paused, a
referred contact, a bad address) and the replan of every deal it changes — so a crash
leaves all of it or none of it, and a follow-up is never left queued behind a reply.

Matching: thread headers first (In-Reply-To and References against the Message-IDs we
sent and the replies already stored; for a bounce, the Message-ID of the returned
message too), then the sender's address (a bounce's failed recipient) among the owner's
contacts, taking that contact's most recent open deal. A message that matches no deal is
kept as a reply without one. A message is ingested once per owner: its Message-ID (or,
without one, a digest of its bytes) is unique among the owner's replies.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from unghost.channels.inbox.parse import ParsedReply, parse_reply
from unghost.domain.calendar import BusinessCalendar
from unghost.domain.playbook import Playbook
from unghost.errors import BadInput
from unghost.services import plan as planning
from unghost.services.owners import owner_of
from unghost.services.reactions import Kind, MatchedBy, Reaction, contacts_with
from unghost.services.touchrows import touch_fingerprint
from unghost.store import models as m

PLAUSIBLE_AGE = timedelta(days=30)  # a Date older than this is not when the message came
_RETURNED_ID = re.compile(rb"^Message-ID:[ \t]*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class IngestResult:
    """What ingesting one message did: the reply row, what it matched, how it reacted."""

    reply_id: int
    duplicate: bool
    kind: Kind
    parsed: ParsedReply
    deal: str | None = None
    contact: str | None = None
    matched_by: MatchedBy | None = None
    reactions: tuple[str, ...] = ()
    state: str | None = None
    next_step: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        """The `reply ingest --json` object."""
        return {
            "reply_id": self.reply_id,
            "duplicate": self.duplicate,
            "kind": self.kind,
            "deal": self.deal,
            "contact": self.contact,
            "matched_by": self.matched_by,
            "reactions": list(self.reactions),
            "state": self.state,
            "next": self.next_step,
            "message_id": self.parsed.message_id,
            "from": self.parsed.from_address,
            "subject": self.parsed.subject,
            **self.parsed.as_json(),
        }


@dataclass
class _Match:
    deal: m.Deal | None = None
    contact: m.Contact | None = None
    by: MatchedBy | None = None
    sent_to: list[str] = field(default_factory=list)  # the addresses our matched message went to


def dedupe_key(parsed: ParsedReply, raw: bytes) -> str:
    """What makes a message the same message: its Message-ID, else a digest of its bytes."""
    if parsed.message_id:
        return _bracketed(parsed.message_id)[:998]
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def ingest(
    session: Session,
    raw: bytes,
    *,
    now: datetime,
    playbook: Playbook,
    owner_ids: Sequence[int],
) -> IngestResult:
    """Parse, match, record and react to one raw message, in the caller's transaction.

    `owner_ids` are the users whose deals the message may belong to; a message that
    matches none of their deals is kept for the first of them. Raises BadInput for an
    empty message.
    """
    if not owner_ids:
        raise BadInput("no owner to ingest the message for")
    parsed = parse_reply(raw, now=now)
    key = dedupe_key(parsed, raw)
    seen = session.scalar(
        select(m.Reply).where(m.Reply.owner_id.in_(owner_ids), m.Reply.message_id == key).limit(1)
    )
    if seen is not None:
        return _duplicate(session, seen, parsed)

    kind = _kind(parsed)
    if kind != "report" and _from_owner(session, parsed, owner_ids):
        kind = "own"  # the seller's own message (a copy to self, another device): not a reply
    match = _Match() if kind == "own" else _match(session, parsed, raw, kind, owner_ids)
    deal, contact = match.deal, match.contact
    owner_id = deal.owner_id if deal else contact.owner_id if contact else owner_ids[0]
    if deal is not None:
        # Wait for a send to this deal that is on the wire (services/send.py holds the
        # same row lock while it delivers); on SQLite the write transaction does it.
        session.execute(select(m.Deal.id).where(m.Deal.id == deal.id).with_for_update())
    at = _received(parsed.date, now)
    reply = m.Reply(
        owner_id=owner_id,
        deal_id=deal.id if deal else None,
        contact_id=contact.id if contact else None,
        message_id=key,
        received_at=at,
        from_address=(parsed.from_address or "")[:320] or None,
        subject=parsed.subject or None,
        new_text=parsed.new_text or None,
        auto_reply=parsed.auto_reply,
        return_date=parsed.return_date,
        bounce=parsed.bounce.as_json() if parsed.bounce else None,
        intent=parsed.intent,
        confidence=parsed.confidence,
        dates=[day.isoformat() for day in parsed.dates],
        # Machines' messages are dealt with here; a person's reply waits for the seller.
        handled_at=None if kind == "reply" else now,
    )
    session.add(reply)
    session.flush()
    if deal is not None and kind in ("reply", "auto_reply", "bounce"):
        reply.touch_id = _touch(session, deal, contact, parsed, kind, at).id

    owner = session.get_one(m.User, owner_id)
    reacting = Reaction(session, owner, deal, contact, now)
    reacting.react(parsed, kind, reply, match.by, match.sent_to)
    before = _open_steps(session, reacting.replan)
    planned = (
        planning.plan(session, [owner_id], now, playbook=playbook, deal_ids=sorted(reacting.replan))
        if reacting.replan
        else []
    )
    reacting.cancelled(before, _open_steps(session, reacting.replan))
    reply.reaction = "; ".join(reacting.said) or None
    session.flush()
    after = next((p for p in planned if deal is not None and p.deal_id == deal.id), None)
    return IngestResult(
        reply_id=reply.id,
        duplicate=False,
        kind=kind,
        parsed=parsed,
        deal=deal.key if deal else None,
        contact=contact.key if contact else None,
        matched_by=match.by,
        reactions=tuple(reacting.said),
        state=after.plan.assessment.state if after else (deal.state if deal else None),
        next_step=_next(after, owner) if after else None,
    )


# -- what the message is, and whose -------------------------------------------------


def _kind(parsed: ParsedReply) -> Kind:
    if parsed.report is not None:
        return "report"
    if parsed.bounce is not None:
        return "bounce"
    if parsed.auto_reply is not None:
        return "auto_reply"
    return "reply"


def _from_owner(session: Session, parsed: ParsedReply, owner_ids: Sequence[int]) -> bool:
    sender = (parsed.from_address or "").lower()
    if not sender:
        return False
    users = select(func.lower(m.User.email)).where(m.User.id.in_(owner_ids))
    boxes = select(func.lower(m.Mailbox.email)).where(m.Mailbox.owner_id.in_(owner_ids))
    return sender in set(session.scalars(users)) | set(session.scalars(boxes))


def _match(
    session: Session, parsed: ParsedReply, raw: bytes, kind: Kind, owner_ids: Sequence[int]
) -> _Match:
    """Thread headers first, then the address; a bounce is matched by its failed recipient."""
    address = parsed.bounce.recipient if parsed.bounce else parsed.from_address
    by_address = contacts_with(session, address, owner_ids) if kind != "report" else []
    found = _by_thread(session, parsed, raw, kind, owner_ids)
    if found is not None:
        deal, sent_to = found
        contact = next((c for c in by_address if c.owner_id == deal.owner_id), None)
        if contact is None and kind in ("bounce", "report") and len(sent_to) == 1:
            contact = next(iter(contacts_with(session, sent_to[0], [deal.owner_id])), None)
        return _Match(deal, contact or session.get(m.Contact, deal.contact_id), "thread", sent_to)
    if not by_address:
        return _Match()
    best: tuple[m.Deal, m.Contact] | None = None
    for person in by_address:
        open_deal = _open_deal_of(session, person)
        if open_deal is not None and (best is None or _recency(open_deal) > _recency(best[0])):
            best = (open_deal, person)
    if best is None:
        return _Match(contact=by_address[0])
    return _Match(best[0], best[1], "address")


def _by_thread(
    session: Session, parsed: ParsedReply, raw: bytes, kind: Kind, owner_ids: Sequence[int]
) -> tuple[m.Deal, list[str]] | None:
    wanted = [parsed.in_reply_to, *reversed(parsed.references)]
    if kind in ("bounce", "report"):  # the returned message's Message-ID, when it came back
        own = _bracketed(parsed.message_id) if parsed.message_id else None
        wanted += [i.decode("ascii", "replace") for i in _RETURNED_ID.findall(raw)]
        wanted = [i for i in wanted if i is None or _bracketed(i) != own]
    ids = list(dict.fromkeys(_bracketed(i) for i in wanted if i))
    if not ids:
        return None
    rank = {message_id: n for n, message_id in enumerate(ids)}
    hits: list[tuple[int, int, list[str]]] = []
    for message_id, deal_id, to in session.execute(
        select(m.OutboxMessage.message_id, m.OutboxMessage.deal_id, m.OutboxMessage.to_addresses)
        .join(m.Deal, m.Deal.id == m.OutboxMessage.deal_id)
        .where(m.OutboxMessage.message_id.in_(ids), m.Deal.owner_id.in_(owner_ids))
    ):
        hits.append((rank[message_id], deal_id, list(to or [])))
    for message_id, deal_id in session.execute(
        select(m.Reply.message_id, m.Reply.deal_id).where(
            m.Reply.message_id.in_(ids),
            m.Reply.owner_id.in_(owner_ids),
            m.Reply.deal_id.is_not(None),
        )
    ):
        if message_id is not None and deal_id is not None:
            hits.append((rank[message_id], deal_id, []))
    if not hits:
        return None
    _, deal_id, sent_to = min(hits, key=lambda hit: hit[0])
    return session.get_one(m.Deal, deal_id), sent_to


def _open_deal_of(session: Session, contact: m.Contact) -> m.Deal | None:
    """The contact's most recent open deal: as its prospect first, else as referrer or advocate."""
    base = select(m.Deal).where(m.Deal.owner_id == contact.owner_id, m.Deal.stage == "open")
    order = (m.Deal.created_at.desc().nulls_last(), m.Deal.id.desc())
    deal = session.scalar(base.where(m.Deal.contact_id == contact.id).order_by(*order).limit(1))
    if deal is not None:
        return deal
    return session.scalar(
        base.where(or_(m.Deal.referrer_id == contact.id, m.Deal.advocate_id == contact.id))
        .order_by(*order)
        .limit(1)
    )


def _recency(deal: m.Deal) -> tuple[float, int]:
    return (deal.created_at.timestamp() if deal.created_at else 0.0, deal.id)


def _received(sent: datetime | None, now: datetime) -> datetime:
    """When the message came: its Date when plausible, else now (clocks and old files lie)."""
    if sent is None or sent > now or sent < now - PLAUSIBLE_AGE:
        return now
    return sent


def _bracketed(message_id: str) -> str:
    return "<" + message_id.strip().strip("<>") + ">"


# -- recording ----------------------------------------------------------------------


def _touch(
    session: Session,
    deal: m.Deal,
    contact: m.Contact | None,
    parsed: ParsedReply,
    kind: Kind,
    at: datetime,
) -> m.Touch:
    """The touch a message leaves: `in` by email, replied, auto_reply or bounced."""
    outcome = {"reply": "replied", "auto_reply": "auto_reply", "bounce": "bounced"}[kind]
    contact_id = contact.id if contact else deal.contact_id
    subject = (parsed.subject or "")[:1000] or None
    body = (parsed.new_text or "")[:100_000] or None
    values = (at, "email", "in", outcome, subject, body, None)
    touch = m.Touch(
        deal_id=deal.id,
        contact_id=contact_id,
        at=at,
        channel="email",
        direction="in",
        outcome=outcome,
        subject=subject,
        body=body,
        fingerprint=touch_fingerprint(deal.id, contact_id, values),
    )
    session.add(touch)
    session.flush()
    return touch


def _duplicate(session: Session, seen: m.Reply, parsed: ParsedReply) -> IngestResult:
    deal = session.get(m.Deal, seen.deal_id) if seen.deal_id else None
    contact = session.get(m.Contact, seen.contact_id) if seen.contact_id else None
    return IngestResult(
        reply_id=seen.id,
        duplicate=True,
        kind=_kind(parsed),
        parsed=parsed,
        deal=deal.key if deal else None,
        contact=contact.key if contact else None,
        reactions=("already ingested: nothing done",),
        state=deal.state if deal else None,
    )


def _open_steps(session: Session, deal_ids: set[int]) -> dict[int, tuple[int, str, str]]:
    if not deal_ids:
        return {}
    return {
        s.id: (s.deal_id, s.play, s.channel)
        for s in session.execute(
            select(m.Step.id, m.Step.deal_id, m.Step.play, m.Step.channel).where(
                m.Step.deal_id.in_(deal_ids), m.Step.status.in_(planning.OPEN)
            )
        )
    }


def _next(planned: planning.Planned, owner: m.User) -> dict[str, Any] | None:
    step = planned.plan.next
    if step is None:
        return None
    tz = BusinessCalendar.for_owner(owner_of(owner)).zone
    return {"play": step.play, "channel": step.channel, "due": step.due.astimezone(tz).isoformat()}
