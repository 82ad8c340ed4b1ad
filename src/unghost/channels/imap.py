"""What the outbox needs from the owner's IMAP server: find a sent message, copy one to Sent.

One network exit (`_session`). Reading replies (IDLE, UIDs) is a different concern and
lives with the inbox. Folder names go over the wire quoted and in modified UTF-7
(RFC 3501 §5.1.3), so "Sent Items" and "Éléments envoyés" work.
"""

from __future__ import annotations

import base64
import imaplib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from unghost.channels import smtp

TlsMode = Literal["ssl", "starttls", "none"]
DEFAULT_PORTS: dict[str, int] = {"ssl": 993, "starttls": 143, "none": 143}

_LIST_LINE = re.compile(rb'\((?P<flags>[^)]*)\) (?:"[^"]*"|NIL) (?P<name>.+)')


class ImapError(Exception):
    """Talking to the IMAP server failed; the message says what, never with a password."""


@dataclass(frozen=True)
class Server:
    """Where and how to reach an IMAP server; the password never shows in a repr."""

    host: str
    port: int
    tls: TlsMode
    user: str
    password: str = field(default="", repr=False)
    timeout: float = 30.0


def find(server: Server, folder: str, message_id: str) -> bool:
    """Whether a message with this Message-ID is in the folder (SEARCH HEADER Message-ID)."""
    with _session(server) as imap:
        _select(imap, folder, readonly=True)
        status, data = imap.uid("SEARCH", "HEADER", "Message-ID", _quote(message_id))
        if status != "OK":
            raise ImapError(f"search in {folder!r} failed: {_said(data)}")
        return bool(data and data[0] and data[0].split())


def append(server: Server, folder: str, message: bytes, when: datetime) -> None:
    """Put a sent message in the folder, marked as read."""
    with _session(server) as imap:
        status, data = imap.append(
            _quote(encode_folder(folder)), r"(\Seen)", imaplib.Time2Internaldate(when), message
        )
        if status != "OK":
            raise ImapError(f"cannot add the message to {folder!r}: {_said(data)}")


def check(server: Server, folder: str) -> str:
    """Log in and look for the folder; a sentence on success, `ImapError` naming the problem."""
    with _session(server) as imap:
        sent = [name for name, flags in _folders(imap) if "\\sent" in flags]
        status, _ = imap.select(_quote(encode_folder(folder)), readonly=True)
        if status != "OK":
            hint = f"; the server's Sent folder is {sent[0]!r}" if sent else ""
            raise ImapError(f"logged in, but there is no folder {folder!r}{hint}")
        return f"logged in as {server.user}; folder {folder!r} is there"


def sent_folder(server: Server) -> str | None:
    """The folder the server marks `\\Sent` (RFC 6154), if it marks one."""
    with _session(server) as imap:
        return next((name for name, flags in _folders(imap) if "\\sent" in flags), None)


@contextmanager
def _session(server: Server) -> Iterator[imaplib.IMAP4]:
    """The one place that talks to the network: connect, TLS, login; logout after."""
    context = smtp.tls_context()
    where = f"{server.host}:{server.port}"
    try:
        if server.tls == "ssl":
            imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                server.host, server.port, ssl_context=context, timeout=server.timeout
            )
        else:
            imap = imaplib.IMAP4(server.host, server.port, timeout=server.timeout)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise ImapError(f"cannot connect to {where}: {_said(exc)}") from None
    try:
        try:
            if server.tls == "starttls":
                imap.starttls(ssl_context=context)
            imap.login(server.user, server.password)
        except imaplib.IMAP4.error as exc:
            raise ImapError(f"{where} refused the login of {server.user}: {_said(exc)}") from None
        try:
            yield imap
        except (OSError, imaplib.IMAP4.error) as exc:
            raise ImapError(f"{where}: {_said(exc)}") from None
    except OSError as exc:
        raise ImapError(f"{where}: {_said(exc)}") from None
    finally:
        try:
            imap.logout()
        except (OSError, imaplib.IMAP4.error):
            imap.shutdown()


def _select(imap: imaplib.IMAP4, folder: str, *, readonly: bool) -> None:
    status, data = imap.select(_quote(encode_folder(folder)), readonly=readonly)
    if status != "OK":
        raise ImapError(f"no folder {folder!r}: {_said(data)}")


def _folders(imap: imaplib.IMAP4) -> list[tuple[str, str]]:
    status, data = imap.list()
    if status != "OK":
        return []
    out = []
    for item in data:
        line = item[0] + item[1] if isinstance(item, tuple) else item
        if not isinstance(line, bytes):
            continue
        match = _LIST_LINE.match(line)
        if match is None:
            continue
        name = match["name"].strip()
        if name.startswith(b'"') and name.endswith(b'"'):
            name = name[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
        out.append(
            (decode_folder(name.decode("ascii", "replace")), match["flags"].decode().lower())
        )
    return out


def encode_folder(name: str) -> str:
    """A folder name in IMAP's modified UTF-7."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def decode_folder(name: str) -> str:
    """A folder name from IMAP's modified UTF-7."""

    def one(match: re.Match[str]) -> str:
        chunk = match[1]
        if not chunk:
            return "&"
        data = chunk.replace(",", "/")
        data += "=" * (-len(data) % 4)
        return base64.b64decode(data).decode("utf-16-be", "replace")

    return re.sub(r"&([A-Za-z0-9+,]*)-", one, name)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _said(value: object) -> str:
    if isinstance(value, list):
        value = b" ".join(v for v in value if isinstance(v, bytes))
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, TimeoutError):
        return "timed out"
    return " ".join(str(value).split()) or "no reason given"
