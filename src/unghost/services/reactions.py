"""Reacting to an inbound message (PRODUCT §5), inside the ingest's transaction.

- unsubscribe (or a spam complaint) → every contact of the owner with that address is
  do-not-contact, for ever, at once;
- not_interested → the deal is lost (a relationship check-back waits for a playbook
  setting that says so);
- not_now → paused until the latest date the reply names, else for 90 days;
- referral → the person named (a name, an address, or both) becomes a contact of the
  owner, linked to the deal through the reply; naming nobody, the seller completes it;
- out-of-office → paused until the return date (else 7 days) plus one business day of
  the owner's calendar; never a reply, never an unsubscribe, never answered;
- hard bounce → the address is bad (the planner moves the cadence to another channel);
  a soft bounce is only recorded;
- anything else → the touch makes the deal active, and the reply tops *Today*.

`Reaction` collects the deals to replan (every open deal a changed contact takes part
in) and says what it did in short sentences for the CLI and the reply's record.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Literal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from unghost.channels.inbox.parse import ParsedReply
from unghost.channels.inbox.referral import find_referral
from unghost.domain.calendar import BusinessCalendar
from unghost.services.owners import owner_of
from unghost.store import models as m

Kind = Literal["reply", "auto_reply", "bounce", "report", "own"]
MatchedBy = Literal["thread", "address"]

NOT_NOW_DAYS = 90  # PRODUCT §5: "paused until the named date (else 90 days)"
OUT_OF_OFFICE_DAYS = 7  # PRODUCT §5: "the return date it names (or 7 days)"


class Reaction:
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

    def react(
        self,
        parsed: ParsedReply,
        kind: Kind,
        reply: m.Reply,
        matched_by: MatchedBy | None,
        sent_to: Sequence[str],
    ) -> None:
        """Apply PRODUCT §5's reaction to this message, and say what it did."""
        deal, contact = self.deal, self.contact
        who = _who(contact) if contact else parsed.from_address or "an unknown sender"
        if deal is not None:
            how = "its thread" if matched_by == "thread" else "the sender's address"
            self.said.append(f"matched deal {deal.key} by {how}")
        elif kind != "own":
            self.said.append("matched no deal: kept for later")
        if kind == "own":
            self.said.append("the seller's own message: not a reply")
        elif kind == "report":
            self.report(parsed, who)
        elif kind == "bounce":
            self.bounce(parsed, sent_to)
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

    def bounce(self, parsed: ParsedReply, sent_to: Sequence[str]) -> None:
        bounce = parsed.bounce
        assert bounce is not None
        address = bounce.recipient or (sent_to[0] if len(sent_to) == 1 else None)
        status = f" ({bounce.status})" if bounce.status else ""
        if not bounce.hard:
            where = address or "the recipient"
            self.said.append(f"a soft bounce{status} for {where}: the address stays good")
            return
        bad = contacts_with(self.session, address, [self.owner.id])
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
        person = next(iter(contacts_with(self.session, found.email, [self.owner.id])), None)
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
            contacts_with(self.session, self.contact.email, [self.owner.id])
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
        self.replan.update(deals_involving(self.session, self.owner.id, contact.id))

    def _named_day(self, dates: Sequence[date]) -> datetime:
        today = self.now.astimezone(self.cal.zone).date()
        # "Busy until year-end; try me in Q2": the latest date named is when to come back.
        later = sorted(d for d in dates if d > today)
        if later:
            start = datetime.combine(later[-1], self.cal.working_hours[0], self.cal.zone)
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


def deals_involving(session: Session, owner_id: int, contact_id: int) -> list[int]:
    """The owner's open deals this contact takes part in: as prospect, referrer, advocate,
    or assistant of the prospect."""
    assistants = select(m.Contact.id).where(m.Contact.assistant_id == contact_id)
    return list(
        session.scalars(
            select(m.Deal.id).where(
                m.Deal.owner_id == owner_id,
                m.Deal.stage == "open",
                or_(
                    m.Deal.contact_id == contact_id,
                    m.Deal.referrer_id == contact_id,
                    m.Deal.advocate_id == contact_id,
                    m.Deal.contact_id.in_(assistants),
                ),
            )
        )
    )


def contacts_with(
    session: Session, address: str | None, owner_ids: Sequence[int]
) -> list[m.Contact]:
    """The owners' contacts with this address (compared without case)."""
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
