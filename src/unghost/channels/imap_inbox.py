"""Reading a mailbox folder over IMAP: new messages by UID, and IDLE to wait for more.

An adapter that returns plain data (UIDs and raw bytes); what to do with a message is
the services' business (services/inbox.py). The folder is opened read-only (`EXAMINE`)
and messages are fetched with `BODY.PEEK[]`, so they stay unread for the human.

Why the standard library's `imaplib`: it does everything here but IDLE (RFC 2177), which
arrives in Python 3.14; the sixty lines of IDLE below are less to carry than a second
IMAP stack next to the one the outbox already uses (channels/imap.py, whose connection
code this module shares). IMAPClient, the maintained alternative, waits for IDLE the
same way (select on the socket under imaplib).
"""

from __future__ import annotations

import imaplib
import itertools
import logging
import re
import select
import socket
import ssl
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from types import TracebackType

from unghost.channels import imap
from unghost.channels.imap import ImapError, Server, encode_folder

log = logging.getLogger("unghost.inbox")

IDLE_MAX = 28 * 60.0  # RFC 2177: servers may end an IDLE after 30 minutes; re-issue before 29
FETCH_MAX = 20_000_000  # bytes of one message fetched (the parser reads no more)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TAGS = itertools.count(1)
_CHANGED = re.compile(rb"^\* \d+ (?:EXISTS|RECENT)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Folder:
    """What selecting the folder said: its UIDVALIDITY and the number of messages."""

    uidvalidity: int
    exists: int


class InboxReader:
    """One read-only connection to one folder: `with InboxReader(server) as reader: …`."""

    def __init__(self, server: Server, folder: str = "INBOX") -> None:
        self.server = server
        self.folder_name = folder
        self._stack = ExitStack()
        self._imap: imaplib.IMAP4 | None = None
        self.folder = Folder(0, 0)
        self.can_idle = False

    def __enter__(self) -> InboxReader:
        self._stack.__enter__()
        try:
            self._imap = self._stack.enter_context(imap._session(self.server))
            self.can_idle = "IDLE" in self._capabilities()
            self.folder = self._examine()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._imap = None
        self._stack.__exit__(exc_type, exc, tb)

    @property
    def conn(self) -> imaplib.IMAP4:
        """The open connection (inside the `with` block only)."""
        if self._imap is None:
            raise ImapError("the IMAP connection is closed")
        return self._imap

    # -- reading ---------------------------------------------------------------------

    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs of the messages after `last_uid`, oldest first."""
        found = self._search("UID", f"{last_uid + 1}:*")
        # "n:*" always includes the last message, even when its UID is below n.
        return [uid for uid in found if uid > last_uid]

    def uids_since(self, day: date) -> list[int]:
        """UIDs of the messages that arrived on or after `day` (the server's INTERNALDATE)."""
        return self._search("SINCE", f"{day.day}-{_MONTHS[day.month - 1]}-{day.year}")

    def fetch(self, uid: int) -> bytes | None:
        """The raw message (at most FETCH_MAX bytes), left unread; None when it is gone."""
        status, data = self.conn.uid("FETCH", str(uid), f"(BODY.PEEK[]<0.{FETCH_MAX}>)")
        if status != "OK":
            raise ImapError(f"fetching message {uid} failed: {_said(data)}")
        wanted = re.compile(rb"\bUID %d\b" % uid)
        for item in data:
            if isinstance(item, tuple) and b"BODY[" in item[0] and wanted.search(item[0]):
                return bytes(item[1])
        return None

    def poll(self) -> None:
        """Ask the server for news (NOOP), so messages that arrived show in the next search."""
        status, data = self.conn.noop()
        if status != "OK":
            raise ImapError(f"NOOP failed: {_said(data)}")

    # -- waiting ---------------------------------------------------------------------

    def idle(self, seconds: float = IDLE_MAX, stop: threading.Event | None = None) -> bool:
        """Wait in IDLE until the folder changes, `seconds` pass or `stop` is set.

        True when the server reported new mail. Never longer than IDLE_MAX, so the IDLE
        is re-issued before the 29 minutes after which servers may drop it.
        """
        if not self.can_idle:
            raise ImapError("the server does not offer IDLE")
        conn = self.conn
        sock = conn.socket()
        tag = b"UGI%d" % next(_TAGS)
        lines = _Lines(sock)
        timeout = self.server.timeout
        conn.send(tag + b" IDLE\r\n")
        changed = False
        while True:  # untagged news may come before the go-ahead
            line = lines.read(time.monotonic() + timeout)
            if line is None:
                raise ImapError("the server did not answer IDLE")
            if line.startswith(b"+"):
                break
            if line.startswith(tag):
                raise ImapError(f"IDLE refused: {_said(line)}")
            changed |= bool(_CHANGED.match(line))
            _bye(line)
        deadline = time.monotonic() + min(seconds, IDLE_MAX)
        while not changed:
            line = lines.read(deadline, stop)
            if line is None:
                break
            changed = bool(_CHANGED.match(line))
            _bye(line)
        conn.send(b"DONE\r\n")
        while True:
            line = lines.read(time.monotonic() + timeout)
            if line is None:
                raise ImapError("the server did not end IDLE")
            if line.startswith(tag):
                if not line[len(tag) :].lstrip().upper().startswith(b"OK"):
                    raise ImapError(f"IDLE ended badly: {_said(line)}")
                break
            changed |= bool(_CHANGED.match(line))
            _bye(line)
        if lines.pending:
            raise ImapError("the server said more than expected after IDLE")
        return changed

    # -- inside ----------------------------------------------------------------------

    def _capabilities(self) -> set[str]:
        # imaplib reads them before login; servers may offer more after it.
        status, data = self.conn.capability()
        words = set(self.conn.capabilities)
        if status == "OK" and data and isinstance(data[-1], bytes):
            words |= set(data[-1].decode("ascii", "replace").upper().split())
        return words

    def _examine(self) -> Folder:
        name = '"' + encode_folder(self.folder_name).replace("\\", "\\\\").replace('"', '\\"') + '"'
        status, data = self.conn.select(name, readonly=True)
        if status != "OK":
            raise ImapError(f"no folder {self.folder_name!r}: {_said(data)}")
        exists = int(data[0]) if data and isinstance(data[0], bytes) and data[0].isdigit() else 0
        _, values = self.conn.response("UIDVALIDITY")
        raw = values[-1] if values else None
        if not isinstance(raw, bytes) or not raw.strip().isdigit():
            raise ImapError(f"the server gave no UIDVALIDITY for {self.folder_name!r}")
        return Folder(int(raw), exists)

    def _search(self, *criteria: str) -> list[int]:
        status, data = self.conn.uid("SEARCH", *criteria)
        if status != "OK":
            raise ImapError(f"search in {self.folder_name!r} failed: {_said(data)}")
        found: set[int] = set()
        for chunk in data:
            if isinstance(chunk, bytes):
                found.update(int(word) for word in chunk.split() if word.isdigit())
        return sorted(found)


class _Lines:
    """Lines read straight from the socket while imaplib is not listening (during IDLE)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    @property
    def pending(self) -> bool:
        return bool(self.buffer)

    def read(self, deadline: float, stop: threading.Event | None = None) -> bytes | None:
        """One line without its end; None when the deadline passes or `stop` is set."""
        while b"\n" not in self.buffer:
            if stop is not None and stop.is_set():
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready = isinstance(self.sock, ssl.SSLSocket) and self.sock.pending() > 0
            if not ready:
                readable, _, _ = select.select([self.sock], [], [], min(left, 1.0))
                if not readable:
                    continue
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ImapError("the server closed the connection")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.rstrip(b"\r")


def _bye(line: bytes) -> None:
    if line.upper().startswith(b"* BYE"):
        raise ImapError(f"the server ended the session: {_said(line)}")


def _said(value: object) -> str:
    if isinstance(value, list):
        value = b" ".join(v for v in value if isinstance(v, bytes))
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).split()) or "no reason given"
