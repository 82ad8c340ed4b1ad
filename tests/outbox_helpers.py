"""Workspaces and setups for the outbox tests: silent deals with email contacts, mailboxes.

AS_OF is Monday 2026-11-23 10:00 in New York, inside the owner's working hours: every
deal of `silent_workspace` has its first step, an email, due right then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from mailservers import ImapAccount, SmtpServer
from unghost.services.mailboxes import MailboxSpec, add_mailbox
from unghost.services.secretkey import load_key
from unghost.services.send import write
from unghost.services.workspace import import_document
from unghost.settings import Settings
from unghost.store.db import make_engine

NEW_YORK = ZoneInfo("America/New_York")
AS_OF = datetime(2026, 11, 23, 10, 0, tzinfo=NEW_YORK)
OWNER = "maya@lindqvist-consulting.example"
SMTP_PASSWORD = "smtp-secret-ñ"
TEST_KEY = "q2Jk8Y7nE0m3QZ8oC5vJm2bX8dK1sH3tL6pW9rU4aFg="


def silent_workspace(n: int, *, first: int = 0) -> dict[str, Any]:
    """`n` deals gone silent a week ago, each with its own contact who has only an email."""

    def ago(days: int) -> str:
        return (AS_OF - timedelta(days=days)).isoformat()

    contacts, deals, touches = [], [], []
    for i in range(first, first + n):
        key = f"p{i:03d}"
        contacts.append(
            {
                "id": key,
                "name": f"Pat Number{i}",
                "email": f"{key}@prospects.example",
                "timezone": "America/New_York",
            }
        )
        deals.append(
            {
                "id": f"deal-{key}",
                "contact": key,
                "title": f"Project {i}",
                "problem": f"the backlog of team {i}",
                "created_at": ago(90),
            }
        )
        touches += [
            {
                "deal": f"deal-{key}",
                "at": ago(60),
                "channel": "meeting",
                "direction": "out",
                "outcome": "held",
            },
            {
                "deal": f"deal-{key}",
                "at": ago(30),
                "channel": "email",
                "direction": "in",
                "outcome": "replied",
                "subject": "Re: next steps",
            },
            {
                "deal": f"deal-{key}",
                "at": ago(20),
                "channel": "email",
                "direction": "out",
                "outcome": "sent",
                "subject": "Notes",
            },
            {
                "deal": f"deal-{key}",
                "at": ago(10),
                "channel": "email",
                "direction": "out",
                "outcome": "sent",
                "subject": "Following up",
            },
        ]
    return {
        "format": "unghost-workspace",
        "version": 1,
        "owner": {
            "name": "Maya Lindqvist",
            "email": OWNER,
            "timezone": "America/New_York",
            "country": "US",
            "signature": "Maya Lindqvist\nLindqvist Consulting",
        },
        "contacts": contacts,
        "deals": deals,
        "touches": touches,
    }


@dataclass(frozen=True)
class Setup:
    settings: Settings
    engine: Engine


def make_setup(url: str, home: Path, doc: dict[str, Any] | None = None, **settings: Any) -> Setup:
    """A migrated database holding `doc`, and settings with a private home and a fixed key."""
    options: dict[str, Any] = {"secret_key": TEST_KEY, "sent_settle": timedelta(0)}
    options.update(settings)
    s = Settings(database_url=url, home=home, **options)
    engine = make_engine(s)
    if doc is not None:
        import_document(engine, doc, source="test")
    return Setup(s, engine)


def connect_mailbox(
    setup: Setup,
    smtp: SmtpServer,
    dovecot: ImapAccount | None = None,
    **spec: Any,
) -> None:
    """The owner's mailbox on the test servers (the SMTP login is the owner's address)."""
    fields: dict[str, Any] = {
        "email": OWNER,
        "smtp_host": smtp.host,
        "smtp_port": smtp.port,
        "smtp_tls": "none",
        "per_day": 10_000,
        "per_minute": 10_000,
    }
    if dovecot is not None:
        fields.update(
            imap_host=dovecot.host, imap_port=dovecot.port, imap_tls="none", imap_user=dovecot.user
        )
    fields.update(spec)
    with write(setup.engine) as session:
        add_mailbox(
            session,
            load_key(setup.settings),
            MailboxSpec(**fields),
            password=SMTP_PASSWORD,
            imap_password=dovecot.password if dovecot else None,
            now=AS_OF,
        )
