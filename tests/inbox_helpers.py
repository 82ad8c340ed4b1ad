"""Shared by the reply-reading tests: a small workspace planned at a pinned time, messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from helpers import small_workspace
from unghost.domain.playbook import Playbook
from unghost.services import agenda
from unghost.services import plan as planning
from unghost.services.send import write
from unghost.services.workspace import import_document
from unghost.settings import Settings
from unghost.store import models as m
from unghost.store.db import make_engine

# Monday 23 November 2026, 10:00 in New York (the owner's zone): acme is silent.
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
GEORGE = "george@acme.example"
SENT_ID = "<step-1.acme@lindqvist-consulting.example>"
DATA = Path("/work/shared/data")


@dataclass
class World:
    """The small workspace in a database, planned at NOW."""

    engine: Engine
    owner_id: int
    deal_id: int
    playbook: Playbook

    def plan(self, now: datetime = NOW) -> list[planning.Planned]:
        with write(self.engine) as s:
            return planning.plan(s, [self.owner_id], now, playbook=self.playbook)

    def open_steps(self) -> list[m.Step]:
        with write(self.engine) as s:
            return list(
                s.scalars(
                    select(m.Step).where(
                        m.Step.deal_id == self.deal_id, m.Step.status.in_(planning.OPEN)
                    )
                )
            )

    def step(self, step_id: int) -> m.Step:
        with write(self.engine) as s:
            return s.get_one(m.Step, step_id)

    def deal(self) -> m.Deal:
        with write(self.engine) as s:
            return s.get_one(m.Deal, self.deal_id)

    def contact(self, key: str = "george") -> m.Contact:
        with write(self.engine) as s:
            found = s.scalar(
                select(m.Contact).where(m.Contact.owner_id == self.owner_id, m.Contact.key == key)
            )
            assert found is not None, key
            return found

    def replies(self) -> list[m.Reply]:
        with write(self.engine) as s:
            return list(s.scalars(select(m.Reply).order_by(m.Reply.id)))

    def touches_in(self) -> list[m.Touch]:
        with write(self.engine) as s:
            return list(
                s.scalars(
                    select(m.Touch)
                    .where(m.Touch.deal_id == self.deal_id, m.Touch.direction == "in")
                    .order_by(m.Touch.id)
                )
            )

    def today(self, now: datetime = NOW) -> dict[str, Any]:
        with write(self.engine) as s:
            return agenda.today(s, [self.owner_id], now, playbook=self.playbook)

    def send_first_step(self) -> int:
        """The open email step goes out as SENT_ID (outbox row and touch); returns its id."""
        [step] = self.open_steps()
        assert step.channel == "email"
        with write(self.engine) as s:
            agenda.finish_step(s, [self.owner_id], "acme", NOW, playbook=self.playbook)
            s.add(
                m.OutboxMessage(
                    step_id=step.id,
                    deal_id=self.deal_id,
                    message_id=SENT_ID,
                    state="sent",
                    attempts=1,
                    created_at=NOW,
                    sent_at=NOW,
                    from_address="maya@lindqvist-consulting.example",
                    to_addresses=[GEORGE],
                )
            )
        return step.id


def make_world(url: str, home: Path) -> World:
    """Import the small workspace into a fresh database and plan it at NOW."""
    engine = make_engine(Settings(database_url=url, home=home))
    import_document(engine, small_workspace())
    with write(engine) as s:
        owner_id = s.scalars(select(m.User.id)).one()
        deal_id = s.scalars(select(m.Deal.id).where(m.Deal.key == "acme")).one()
    world = World(engine, owner_id, deal_id, planning.default_playbook())
    world.plan()
    return world


def message(
    body: str,
    *,
    sender: str = f"George Abara <{GEORGE}>",
    subject: str = "Re: Close the books faster",
    message_id: str | None = "<reply-1@acme.example>",
    in_reply_to: str | None = None,
    date: datetime = datetime(2026, 11, 23, 14, 30, tzinfo=UTC),
    headers: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """A raw RFC 5322 message (CRLF line ends, UTF-8 body)."""
    lines = [
        f"From: {sender}",
        "To: Maya Lindqvist <maya@lindqvist-consulting.example>",
        f"Subject: {subject}",
        f"Date: {format_datetime(date)}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    if message_id:
        lines.append(f"Message-ID: {message_id}")
    if in_reply_to:
        lines += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n" + body.replace("\n", "\r\n")).encode("utf-8")


GERMAN_OUT_OF_OFFICE = message(
    "Guten Tag,\n\nvielen Dank für Ihre Nachricht. Ich bin derzeit nicht im Büro und habe "
    "keinen Zugriff auf meine E-Mails.\nIch bin zurück am 03.12. und melde mich dann.\n\n"
    "In dringenden Fällen wenden Sie sich bitte an Frau Weber.\n\nMit freundlichen Grüßen\n"
    "George Abara",
    subject="Automatische Antwort: Close the books faster",
    message_id="<ooo-1@acme.example>",
    headers=(("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All")),
)


def hard_bounce_for(address: str) -> bytes:
    """A real Exchange 5.1.1 report (PHP-Bounce-Handler's exchange1.eml) for `address`."""
    raw = (DATA / "cfortune__PHP-Bounce-Handler/eml/exchange1.eml").read_bytes()
    return raw.replace(b"phk@nordiskeiendom.no", address.encode()).replace(
        b"PHK@nordiskeiendom.no", address.encode()
    )
