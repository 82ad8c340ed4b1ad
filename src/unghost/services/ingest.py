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
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from unghost.channels.inbox.parse import ParsedReply, parse_reply
from unghost.channels.inbox.referral import find_referral
from unghost.domain.calendar import BusinessCalendar
from unghost.domain.playbook import Playbook
from unghost.errors import BadInput
from unghost.services import plan as planning
from unghost.services.owners import owner_of
from unghost.services.send import lock_deal
from unghost.services.workspace import touch_fingerprint
from unghost.store import models as m

Kind = Literal["reply", "auto_reply", "bounce", "report", "own"]
MatchedBy = Literal["thread", "address"]

NOT_NOW_DAYS = 90  # PRODUCT §5: "paused until the named date (else 90 days)"
OUT_OF_OFFICE_DAYS = 7  # PRODUCT §5: "the return date it names (or 7 days)"
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
        lock_deal(session, deal.id)  # wait for a send to this deal that is on the wire
    at = min(parsed.date, now) if parsed.date else now
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
    reacting = _Reaction(session, owner, deal, contact, now)
    reacting.react(parsed, kind, reply, match)
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
    by_address = _contacts(session, address, owner_ids) if kind != "report" else []
    found = _by_thread(session, parsed, raw, kind, owner_ids)
    if found is not None:
        deal, sent_to = found
        contact = next((c for c in by_address if c.owner_id == deal.owner_id), None)
        if contact is None and kind in ("bounce", "report") and len(sent_to) == 1:
            contact = next(iter(_contacts(session, sent_to[0], [deal.owner_id])), None)
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


def _contacts(session: Session, address: str | None, owner_ids: Sequence[int]) -> list[m.Contact]:
    if not address or "@" not in address:
        return []
    return list(
        session.scalars(
            select(m.Contact)
            .where(m.Contact.owner_id.in_(owner_ids))
            .where(func.lower(m.Contact.email) == address.strip().lower())
            .order_by(m.Contact.id)
        )
    )


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


# -- reacting (PRODUCT §5) ----------------------------------------------------------


class _Reaction:
    """The reaction to one message: what it changes, which deals to replan, and in words."""

    def __init__(
        self,
        session: Session,
        owner: m.User,
        deal: m.Deal | None,
        contact: m.Contact | None,
        now: datetime,
    ) -> None:
        self.session = session
        self.owner = owner
        self.deal = deal
        self.contact = contact
        self.now = now
        self.cal = BusinessCalendar.for_owner(owner_of(owner))
        self.replan: set[int] = {deal.id} if deal is not None else set()
        self.said: list[str] = []
        self.names: dict[int, str] = {}

    def react(self, parsed: ParsedReply, kind: Kind, reply: m.Reply, match: _Match) -> None:
        deal, contact = self.deal, self.contact
        who = _who(contact) if contact else parsed.from_address or "an unknown sender"
        if deal is not None:
            how = "its thread" if match.by == "thread" else "the sender's address"
            self.said.append(f"matched deal {deal.key} by {how}")
        elif kind != "own":
            self.said.append("matched no deal: kept for later")
        if kind == "own":
            self.said.append("the seller's own message: not a reply")
        elif kind == "report":
            self.report(parsed, who)
        elif kind == "bounce":
            self.bounce(parsed, match)
        elif kind == "auto_reply":
            self.auto_reply(parsed)
        else:
            self.person(parsed, reply, who)

    def report(self, parsed: ParsedReply, who: str) -> None:
        if parsed.report == "complaint":
            self.said.append(f"a spam complaint by {who}")
            self.do_not_contact()
        else:
            self.said.append("a read receipt: nothing to do")

    def bounce(self, parsed: ParsedReply, match: _Match) -> None:
        bounce = parsed.bounce
        assert bounce is not None
        address = bounce.recipient or (match.sent_to[0] if len(match.sent_to) == 1 else None)
        status = f" ({bounce.status})" if bounce.status else ""
        if not bounce.hard:
            where = address or "the recipient"
            self.said.append(f"a soft bounce{status} for {where}: the address stays good")
            return
        bad = _contacts(self.session, address, [self.owner.id])
        if not bad:
            self.said.append(f"a hard bounce{status} for {address or 'an unknown recipient'}")
            return
        for c in bad:
            c.email_bad = True
            self._changed(c)
        self.said.append(
            f"a hard bounce{status}: {address} does not work; "
            f"{', '.join(_who(c) for c in bad)} will not be emailed there again"
        )

    def auto_reply(self, parsed: ParsedReply) -> None:
        if parsed.auto_reply != "out_of_office":
            self.said.append("an automatic reply: not a reply, never answered")
            return
        back = parsed.return_date
        if back is not None:
            start = datetime.combine(back, self.cal.working_hours[0], self.cal.zone)
            named = f"back {back.isoformat()}"
        else:
            start = self.now + timedelta(days=OUT_OF_OFFICE_DAYS)
            named = f"no return date, so {OUT_OF_OFFICE_DAYS} days"
        until = self.cal.add_business_days(start, 1)
        if self.deal is None:
            self.said.append(f"out of office ({named}): no deal to pause")
            return
        self.pause(until, f"out of office ({named})", extend_only=True)

    def person(self, parsed: ParsedReply, reply: m.Reply, who: str) -> None:
        if parsed.unsubscribe:
            self.said.append(f"{who} asked to hear no more")
            self.do_not_contact()
            return
        intent = parsed.intent
        if self.deal is None:
            self.said.append(f"intent {intent}: no deal to act on")
            return
        if intent == "not_interested":
            self.deal.stage = "lost"
            self.said.append(f"not interested: deal {self.deal.key} marked lost")
        elif intent == "not_now":
            self.pause(self._named_day(parsed.dates), "not now")
        elif intent == "referral":
            self.referral(parsed, reply)
        else:
            self.said.append(f"a reply ({intent}): the deal is active and the reply tops Today")

    def referral(self, parsed: ParsedReply, reply: m.Reply) -> None:
        exclude = [a for a in (parsed.from_address, self.owner.email) if a]
        found = find_referral(parsed.new_text, exclude=exclude)
        if found is None:
            self.said.append("a referral naming nobody we could read: complete it by hand")
            return
        person = next(iter(_contacts(self.session, found.email, [self.owner.id])), None)
        if person is None:
            person = m.Contact(
                owner_id=self.owner.id,
                key=_free_key(self.session, self.owner.id, found.name or found.email or "referral"),
                name=found.name[:200],
                email=found.email,
                company=self.contact.company if self.contact else None,
                interests=[],
            )
            self.session.add(person)
            self.session.flush()
            added = "added as contact"
        else:
            added = "already contact"
        reply.referred_contact_id = person.id
        address = f" <{found.email}>" if found.email else " (no address given: add one)"
        self.said.append(f"a referral: {found.name}{address}, {added} {person.key}")

    def do_not_contact(self) -> None:
        """For ever, at once: every contact of this owner with the address (PRODUCT §5)."""
        people = (
            _contacts(self.session, self.contact.email, [self.owner.id])
            if self.contact is not None and self.contact.email
            else [self.contact]
            if self.contact is not None
            else []
        )
        if not people:
            self.said.append("no contact to mark: nobody is known by this address")
            return
        for c in people:
            c.do_not_contact = True
            self._changed(c)
        self.said.append(f"{', '.join(_who(c) for c in people)}: do not contact, for ever")

    def pause(self, until: datetime, why: str, *, extend_only: bool = False) -> None:
        deal = self.deal
        assert deal is not None
        if extend_only and deal.paused_until is not None and deal.paused_until >= until:
            self.said.append(f"{why}: deal {deal.key} already paused until {self._day(deal)}")
            return
        deal.paused_until = until
        self.said.append(f"{why}: deal {deal.key} paused until {self._day(deal)}")

    def cancelled(
        self, before: dict[int, tuple[int, str, str]], after: dict[int, tuple[int, str, str]]
    ) -> None:
        """Say which open steps the replan cancelled (a changed step counts as replaced)."""
        replaced = {deal_id for deal_id, _, _ in after.values()}
        for step_id, (deal_id, play, channel) in sorted(before.items()):
            if step_id in after:
                continue
            key = self.session.get_one(m.Deal, deal_id).key
            verb = "replanned" if deal_id in replaced else "cancelled"
            self.said.append(f"{verb} the {play} step ({channel}) of deal {key}")

    def _changed(self, contact: m.Contact) -> None:
        """Replan every open deal this contact takes part in."""
        assistants = select(m.Contact.id).where(m.Contact.assistant_id == contact.id)
        self.replan.update(
            self.session.scalars(
                select(m.Deal.id).where(
                    m.Deal.owner_id == self.owner.id,
                    m.Deal.stage == "open",
                    or_(
                        m.Deal.contact_id == contact.id,
                        m.Deal.referrer_id == contact.id,
                        m.Deal.advocate_id == contact.id,
                        m.Deal.contact_id.in_(assistants),
                    ),
                )
            )
        )

    def _named_day(self, dates: Sequence[date]) -> datetime:
        today = self.now.astimezone(self.cal.zone).date()
        later = sorted(d for d in dates if d > today)
        if later:
            start = datetime.combine(later[0], self.cal.working_hours[0], self.cal.zone)
        else:
            start = self.now + timedelta(days=NOT_NOW_DAYS)
        return self.cal.next_business_time(start)

    def _day(self, deal: m.Deal) -> str:
        assert deal.paused_until is not None
        return deal.paused_until.astimezone(self.cal.zone).strftime("%Y-%m-%d %H:%M")


def _who(contact: m.Contact) -> str:
    return f"{contact.name} ({contact.email})" if contact.email else contact.name


def _free_key(session: Session, owner_id: int, name: str) -> str:
    """A contact id from a name, unique among the owner's contacts."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower().partition("@")[0]).strip("-")[:60] or "referral"
    taken = set(
        session.scalars(
            select(m.Contact.key).where(
                m.Contact.owner_id == owner_id, m.Contact.key.like(f"{base}%")
            )
        )
    )
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}-{n}"
    return key
