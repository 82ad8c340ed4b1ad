"""Connecting an owner's mailbox: `unghost mailbox add|test|list`.

Hosts and ports are checked before anything is stored; passwords are sealed with the
secret key (services/secretkey.py) and shown as `••••`; header values lose their line
breaks. A mailbox belongs to one owner; adding it again replaces it and lifts a pause.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from unghost.channels import imap, smtp
from unghost.errors import BadInput, NotFound
from unghost.services import checks
from unghost.services.checks import quote
from unghost.services.owners import resolve_owner
from unghost.services.secretkey import SecretKey
from unghost.store import models as m

MASK = "••••"
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


@dataclass(frozen=True)
class MailboxSpec:
    """What `mailbox add` was given, before checks; unset fields take their defaults."""

    email: str
    smtp_host: str
    smtp_port: int | None = None
    smtp_tls: str = "starttls"
    smtp_user: str | None = None
    imap_host: str | None = None
    imap_port: int | None = None
    imap_tls: str = "ssl"
    imap_user: str | None = None
    sent_folder: str = "Sent"
    copy_to_sent: bool = True
    from_name: str | None = None
    per_day: int = 200
    per_minute: int = 10
    postal_address: str | None = None


def add_mailbox(
    session: Session,
    key: SecretKey,
    spec: MailboxSpec,
    *,
    password: str | None,
    imap_password: str | None = None,
    owner_email: str | None = None,
    now: datetime,
) -> m.Mailbox:
    """Store (or replace) the mailbox of the owner: the user with that address, or the one named."""
    address = checks.email(spec.email, "EMAIL")
    assert address is not None
    owner = session.scalar(select(m.User).where(func.lower(m.User.email) == address.lower()))
    if owner is None:
        owner = resolve_owner(session, owner_email, create=False)
    smtp_tls = tls_mode(spec.smtp_tls, "--smtp-tls")
    imap_tls = tls_mode(spec.imap_tls, "--imap-tls")
    imap_host = host(spec.imap_host, "--imap-host") if spec.imap_host else None
    row = session.scalar(select(m.Mailbox).where(m.Mailbox.owner_id == owner.id))
    if row is None:
        row = m.Mailbox(owner_id=owner.id, created_at=now)
        session.add(row)
    row.email = address
    row.from_name = header_value(spec.from_name, "--from-name")
    row.smtp_host = host(spec.smtp_host, "--smtp-host")
    row.smtp_port = port(spec.smtp_port, "--smtp-port", smtp.DEFAULT_PORTS[smtp_tls])
    row.smtp_tls = smtp_tls
    row.smtp_user = header_value(spec.smtp_user, "--smtp-user") or address
    row.smtp_password = key.seal(password) if password else None
    row.imap_host = imap_host
    row.imap_port = (
        port(spec.imap_port, "--imap-port", imap.DEFAULT_PORTS[imap_tls]) if imap_host else None
    )
    row.imap_tls = imap_tls if imap_host else None
    row.imap_user = (
        (header_value(spec.imap_user, "--imap-user") or row.smtp_user) if imap_host else None
    )
    imap_secret = imap_password or password
    row.imap_password = key.seal(imap_secret) if imap_host and imap_secret else None
    row.sent_folder = header_value(spec.sent_folder, "--sent-folder") or "Sent"
    row.copy_to_sent = spec.copy_to_sent
    row.per_day = checks.whole(spec.per_day, "--per-day", low=1, high=100_000, default=200)
    row.per_minute = checks.whole(spec.per_minute, "--per-minute", low=1, high=10_000, default=10)
    row.paused_until = None
    row.pause_reason = None
    if spec.postal_address is not None:
        owner.postal_address = checks.text(spec.postal_address, "--postal-address", max_len=500)
    session.flush()
    return row


def find_mailbox(session: Session, email: str) -> m.Mailbox:
    """The mailbox with this address."""
    row = session.scalar(
        select(m.Mailbox).where(func.lower(m.Mailbox.email) == email.strip().lower())
    )
    if row is None:
        raise NotFound(f"no mailbox {quote(email)} (add it with `unghost mailbox add`)")
    return row


def list_mailboxes(session: Session, owners: list[int]) -> list[dict[str, Any]]:
    """Every mailbox of these owners, passwords masked."""
    rows = session.execute(
        select(m.Mailbox, m.User.email)
        .join(m.User, m.User.id == m.Mailbox.owner_id)
        .where(m.Mailbox.owner_id.in_(owners))
        .order_by(m.Mailbox.email)
    )
    return [describe(box, owner) for box, owner in rows]


def describe(box: m.Mailbox, owner_email: str) -> dict[str, Any]:
    """A mailbox as `mailbox list --json` shows it: never a password."""
    return {
        "email": box.email,
        "owner": owner_email,
        "from_name": box.from_name,
        "smtp": {
            "host": box.smtp_host,
            "port": box.smtp_port,
            "tls": box.smtp_tls,
            "user": box.smtp_user,
            "password": MASK if box.smtp_password else None,
        },
        "imap": None
        if not box.imap_host
        else {
            "host": box.imap_host,
            "port": box.imap_port,
            "tls": box.imap_tls,
            "user": box.imap_user,
            "password": MASK if box.imap_password else None,
        },
        "sent_folder": box.sent_folder,
        "copy_to_sent": box.copy_to_sent,
        "per_day": box.per_day,
        "per_minute": box.per_minute,
        "paused_until": box.paused_until.isoformat() if box.paused_until else None,
        "pause_reason": box.pause_reason,
    }


@dataclass(frozen=True)
class Check:
    """One line of `mailbox test`: what was tried, whether it worked, and what happened."""

    what: str
    ok: bool
    detail: str


def check_mailbox(box: m.Mailbox, key: SecretKey) -> list[Check]:
    """Connect to the mailbox's SMTP and IMAP servers and say what works."""
    out: list[Check] = []
    server = smtp_server(box, key)
    result = smtp.check(server)
    where = f"SMTP {box.smtp_host}:{box.smtp_port} ({box.smtp_tls})"
    out.append(
        Check(where, result.kind == "sent", result.words if result.kind != "sent" else result.reply)
    )
    reader = imap_server(box, key)
    if reader is None:
        out.append(
            Check(
                "IMAP",
                True,
                "not configured: a send cut off midway cannot be checked against the "
                "Sent folder (add --imap-host)",
            )
        )
        return out
    where = f"IMAP {box.imap_host}:{box.imap_port} ({box.imap_tls})"
    try:
        out.append(Check(where, True, imap.check(reader, box.sent_folder)))
    except imap.ImapError as exc:
        out.append(Check(where, False, str(exc)))
    return out


def smtp_server(box: m.Mailbox, key: SecretKey, *, timeout: float = 30.0) -> smtp.Server:
    """The mailbox's SMTP server, password unsealed."""
    password = key.unseal(box.smtp_password) if box.smtp_password else None
    return smtp.Server(
        box.smtp_host,
        box.smtp_port,
        tls_mode(box.smtp_tls, "smtp_tls"),
        box.smtp_user,
        password,
        timeout,
    )


def imap_server(box: m.Mailbox, key: SecretKey, *, timeout: float = 30.0) -> imap.Server | None:
    """The mailbox's IMAP server, password unsealed; None when it has none."""
    if not box.imap_host or not box.imap_port:
        return None
    password = key.unseal(box.imap_password) if box.imap_password else ""
    return imap.Server(
        box.imap_host,
        box.imap_port,
        tls_mode(box.imap_tls or "ssl", "imap_tls"),
        box.imap_user or box.email,
        password,
        timeout,
    )


# -- checks ---------------------------------------------------------------------------


def host(value: str | None, where: str) -> str:
    """A host name (RFC 1123) or an IP address."""
    raw = (value or "").strip().rstrip(".")
    if not raw:
        raise BadInput(f"{where}: required")
    try:
        return str(ipaddress.ip_address(raw.strip("[]")))
    except ValueError:
        pass
    labels = raw.split(".")
    if len(raw) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise BadInput(f"{where}: not a host name or IP address: {quote(raw)}")
    if labels[-1].isdigit():
        raise BadInput(f"{where}: not a host name or IP address: {quote(raw)}")
    return raw.lower()


def port(value: int | None, where: str, default: int) -> int:
    """A TCP port, 1-65535."""
    if value is None:
        return default
    if not 1 <= value <= 65535:
        raise BadInput(f"{where}: a port is a number from 1 to 65535, not {value}")
    return value


def tls_mode(value: str, where: str) -> smtp.TlsMode:
    """ssl, starttls or none."""
    for mode in smtp.TLS_MODES:
        if value == mode:
            return mode
    raise BadInput(f"{where}: one of {', '.join(smtp.TLS_MODES)}, not {quote(value)}")


def header_value(value: str | None, where: str, *, max_len: int = 320) -> str | None:
    """A value fit for a mail header or a login: line breaks become spaces."""
    if value is None:
        return None
    flat = " ".join(value.replace("\r", " ").replace("\n", " ").split())
    if len(flat) > max_len:
        raise BadInput(f"{where}: longer than {max_len} characters")
    return flat or None
