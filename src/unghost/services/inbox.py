"""Reading replies from an owner's mailbox: the worker's `read_mailbox` step (PRODUCT §5).

Each message is ingested (services/ingest.py) and the folder's cursor moved past its
UID in one transaction, so across crashes and restarts no message is read twice or
missed. The first read of a folder, and a read after its UIDVALIDITY changed (the UIDs
mean other messages now), take the messages of the last `LOOKBACK` days by date;
messages already ingested are recognised by their Message-ID and skipped.

A message whose ingest fails for a reason other than the database is tried again on the
next passes; after `MAX_TRIES` it is kept as a reply without a deal, saying why, so one
bad message never stops the mailbox. Database errors end the pass; the next one retries.

`watch_mailbox` keeps one connection open and waits in IDLE (re-issued before 29
minutes) where the server offers it, polling otherwise; `read_mailboxes` reads every
mailbox once, for `unghost worker --once` and the worker's passes.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from unghost.channels.imap import ImapError, Server
from unghost.channels.imap_inbox import IDLE_MAX, InboxReader
from unghost.channels.inbox.parse import ParsedReply, parse_reply
from unghost.domain.playbook import Playbook
from unghost.errors import BadInput
from unghost.services.ingest import dedupe_key, ingest
from unghost.services.mailboxes import imap_server
from unghost.services.secretkey import SecretKey
from unghost.services.send import write
from unghost.store import models as m

log = logging.getLogger("unghost.inbox")

LOOKBACK = timedelta(days=14)
MAX_TRIES = 3
POLL_SECONDS = 60.0
RECONNECT_CAP = 900.0  # seconds: the longest wait before connecting again after errors

SessionFactory = Callable[[], AbstractContextManager[Session]]
NowFn = Callable[[], datetime]


@dataclass(frozen=True)
class MailboxAccess:
    """What reading one mailbox needs, detached from any session (the password unsealed)."""

    mailbox_id: int
    owner_id: int
    email: str
    server: Server
    folder: str = "INBOX"


class _Stop(Exception):
    """A message failed to ingest: the pass ends here and the next one tries it again."""


def mailbox_access(box: m.Mailbox, key: SecretKey) -> MailboxAccess | None:
    """The mailbox's IMAP side, or None when it has no IMAP server."""
    server = imap_server(box, key)
    if server is None:
        return None
    return MailboxAccess(box.id, box.owner_id, box.email, server)


def mailboxes_to_read(session: Session, key: SecretKey) -> list[MailboxAccess]:
    """Every mailbox with an IMAP server."""
    rows = session.scalars(select(m.Mailbox).where(m.Mailbox.imap_host.is_not(None)))
    return [a for a in (mailbox_access(box, key) for box in rows) if a is not None]


def read_mailbox(
    session_factory: SessionFactory,
    mailbox: MailboxAccess,
    now_fn: NowFn,
    *,
    playbook: Playbook,
    reader: InboxReader | None = None,
) -> int:
    """Ingest every message that arrived since the last read; returns how many were new.

    Opens its own connection unless given an open `reader`. Raises ImapError when the
    server cannot be read, and DBAPIError when the database fails.
    """
    if reader is None:
        with InboxReader(mailbox.server, mailbox.folder) as own:
            return _read(session_factory, mailbox, own, now_fn, playbook)
    return _read(session_factory, mailbox, reader, now_fn, playbook)


def read_mailboxes(
    engine: Engine,
    key: SecretKey,
    now_fn: NowFn,
    *,
    playbook: Playbook,
    every: timedelta = timedelta(seconds=POLL_SECONDS),
) -> int:
    """Read every mailbox not read in the last `every` (the worker's passes can come fast;
    providers frown on a login a second); one that cannot be read is logged and skipped."""
    now = now_fn()
    with write(engine) as s:
        boxes = mailboxes_to_read(s, key)
        last: dict[int, datetime | None] = {
            mailbox_id: read_at
            for mailbox_id, read_at in s.execute(
                select(m.ImapCursor.mailbox_id, m.ImapCursor.read_at).where(
                    m.ImapCursor.folder == "INBOX"
                )
            )
        }
    total = 0
    for box in boxes:
        read_at = last.get(box.mailbox_id)
        if read_at is not None and read_at <= now < read_at + every:
            continue
        where = (engine.url.render_as_string(), box.mailbox_id)
        failed = _FAILING.get(where)
        if failed is not None and failed[0] <= now < failed[0] + _backoff(every, failed[1]):
            continue
        try:
            total += read_mailbox(lambda: write(engine), box, now_fn, playbook=playbook)
            _FAILING.pop(where, None)
        except (ImapError, OSError, _Stop) as exc:
            _FAILING[where] = (now, failed[1] + 1 if failed else 1)
            if not isinstance(exc, _Stop):
                log.warning("cannot read the mailbox %s: %s", box.email, exc)
    return total


# Mailboxes (of a database) whose last read failed in this process: when, how many times.
_FAILING: dict[tuple[str, int], tuple[datetime, int]] = {}


def _backoff(every: timedelta, failures: int) -> timedelta:
    factor: int = 2 ** min(failures - 1, 10)
    return min(every * factor, timedelta(seconds=RECONNECT_CAP))


def watch_mailbox(
    session_factory: SessionFactory,
    mailbox: MailboxAccess,
    now_fn: NowFn,
    stop: threading.Event,
    *,
    playbook: Playbook,
    poll_seconds: float = POLL_SECONDS,
    idle_seconds: float = IDLE_MAX,
) -> None:
    """Read the mailbox until `stop` is set: after each read, wait in IDLE where the
    server offers it (else `poll_seconds`); after errors, connect again with backoff."""
    failures = 0
    while not stop.is_set():
        try:
            with InboxReader(mailbox.server, mailbox.folder) as reader:
                while not stop.is_set():
                    read_mailbox(session_factory, mailbox, now_fn, playbook=playbook, reader=reader)
                    failures = 0
                    if reader.can_idle:
                        reader.idle(idle_seconds, stop)
                    elif not stop.wait(poll_seconds):
                        reader.poll()
        except (ImapError, OSError, DBAPIError, _Stop) as exc:
            failures += 1
            wait = _backoff(timedelta(seconds=poll_seconds), failures).total_seconds()
            if not isinstance(exc, _Stop):
                log.warning("reading %s failed (%s); again in %.0fs", mailbox.email, exc, wait)
            stop.wait(wait)


class Watchers:
    """One `watch_mailbox` thread per mailbox with IMAP, for the worker's lifetime."""

    def __init__(self, engine: Engine, key: SecretKey, now_fn: NowFn, *, playbook: Playbook,
                 poll_seconds: float = POLL_SECONDS) -> None:  # fmt: skip
        self.engine = engine
        self.key = key
        self.now_fn = now_fn
        self.playbook = playbook
        self.poll_seconds = poll_seconds
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> int:
        """Start watching every mailbox; returns how many."""
        with write(self.engine) as s:
            boxes = mailboxes_to_read(s, self.key)
        for box in boxes:
            thread = threading.Thread(
                target=watch_mailbox,
                args=(lambda: write(self.engine), box, self.now_fn, self.stop),
                kwargs={"playbook": self.playbook, "poll_seconds": self.poll_seconds},
                name=f"unghost-inbox-{box.mailbox_id}",
                daemon=True,
            )
            thread.start()
            self.threads.append(thread)
        return len(boxes)

    def close(self, timeout: float = 30.0) -> None:
        """Stop every watcher (an IDLE ends within a second) and wait for them."""
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout)
        self.threads.clear()


# -- one pass -----------------------------------------------------------------------


def _read(
    session_factory: SessionFactory,
    mailbox: MailboxAccess,
    reader: InboxReader,
    now_fn: NowFn,
    playbook: Playbook,
) -> int:
    uidvalidity = reader.folder.uidvalidity
    with session_factory() as s:
        cursor = _cursor(s, mailbox, uidvalidity)
        last_uid = cursor.last_uid
        since = (cursor.read_at or now_fn()) - LOOKBACK
    uids = reader.uids_after(last_uid) if last_uid else reader.uids_since(since.date())
    new = 0
    for uid in uids:
        raw = reader.fetch(uid)
        new += _one(session_factory, mailbox, uidvalidity, uid, raw, now_fn, playbook)
    with session_factory() as s:
        cursor = _cursor(s, mailbox, uidvalidity)
        cursor.read_at = now_fn()
    if new:
        log.info("%s: %d new message%s", mailbox.email, new, "" if new == 1 else "s")
    return new


def _cursor(s: Session, mailbox: MailboxAccess, uidvalidity: int) -> m.ImapCursor:
    """The folder's cursor, locked; a new UIDVALIDITY starts the folder over."""
    cursor = s.scalar(
        select(m.ImapCursor)
        .where(m.ImapCursor.mailbox_id == mailbox.mailbox_id, m.ImapCursor.folder == mailbox.folder)
        .with_for_update()
    )
    if cursor is None:
        cursor = m.ImapCursor(
            mailbox_id=mailbox.mailbox_id,
            folder=mailbox.folder,
            uidvalidity=uidvalidity,
            last_uid=0,
            failures=0,
        )
        s.add(cursor)
        s.flush()
    elif cursor.uidvalidity != uidvalidity:
        log.warning(
            "%s: the folder %s has a new UIDVALIDITY (%d, was %d): reading it again",
            mailbox.email,
            mailbox.folder,
            uidvalidity,
            cursor.uidvalidity,
        )
        cursor.uidvalidity = uidvalidity
        cursor.last_uid = 0
        cursor.failed_uid = None
        cursor.failures = 0
    return cursor


def _one(
    session_factory: SessionFactory,
    mailbox: MailboxAccess,
    uidvalidity: int,
    uid: int,
    raw: bytes | None,
    now_fn: NowFn,
    playbook: Playbook,
) -> int:
    """Ingest one message and move the cursor past it, together; 1 when it was new."""
    try:
        with session_factory() as s:
            cursor = _cursor(s, mailbox, uidvalidity)
            if uid <= cursor.last_uid:
                return 0  # another reader took it
            new = 0
            if raw is not None:  # None: expunged between the search and the fetch
                try:
                    result = ingest(s, raw, now=now_fn(), playbook=playbook,
                                    owner_ids=[mailbox.owner_id])  # fmt: skip
                    new = 0 if result.duplicate else 1
                except BadInput:
                    pass  # an empty message: nothing to keep
            _advance(cursor, uid, now_fn())
            return new
    except IntegrityError as exc:
        if raw is not None and _stored(session_factory, mailbox, raw, now_fn()):
            # The same message stored by another reader at the same moment.
            with session_factory() as s:
                _advance(_cursor(s, mailbox, uidvalidity), uid, now_fn())
            return 0
        failure: Exception = exc
    except DBAPIError:
        raise
    except Exception as exc:
        failure = exc
    log.error("%s: message %d could not be ingested", mailbox.email, uid, exc_info=failure)
    if _give_up(session_factory, mailbox, uidvalidity, uid, raw, now_fn, failure):
        return 0
    raise _Stop(f"message {uid} failed: {failure}") from failure


def _stored(
    session_factory: SessionFactory, mailbox: MailboxAccess, raw: bytes, now: datetime
) -> bool:
    key = _key(raw, now)
    with session_factory() as s:
        found = s.scalar(
            select(m.Reply.id).where(
                m.Reply.owner_id == mailbox.owner_id, m.Reply.message_id == key
            )
        )
    return found is not None


def _key(raw: bytes, now: datetime) -> str:
    try:
        return dedupe_key(parse_reply(raw, now=now), raw)
    except Exception:  # the parser never fails on a non-empty message; be safe anyway
        return "sha256:" + hashlib.sha256(raw).hexdigest()


def _advance(cursor: m.ImapCursor, uid: int, now: datetime) -> None:
    cursor.last_uid = max(cursor.last_uid, uid)
    cursor.read_at = now
    cursor.failed_uid = None
    cursor.failures = 0


def _give_up(
    session_factory: SessionFactory,
    mailbox: MailboxAccess,
    uidvalidity: int,
    uid: int,
    raw: bytes | None,
    now_fn: NowFn,
    exc: Exception,
) -> bool:
    """Count a failure; at MAX_TRIES keep the message without a deal and move on."""
    with session_factory() as s:
        cursor = _cursor(s, mailbox, uidvalidity)
        cursor.failures = cursor.failures + 1 if cursor.failed_uid == uid else 1
        cursor.failed_uid = uid
        if cursor.failures < MAX_TRIES or raw is None:
            return False
        _keep_unmatched(s, mailbox.owner_id, raw, now_fn(), exc)
        _advance(cursor, uid, now_fn())
        return True


def _keep_unmatched(s: Session, owner_id: int, raw: bytes, now: datetime, exc: Exception) -> None:
    key = _key(raw, now)
    if s.scalar(select(m.Reply.id).where(m.Reply.owner_id == owner_id, m.Reply.message_id == key)):
        return
    try:
        parsed: ParsedReply | None = parse_reply(raw, now=now)
    except Exception:
        parsed = None
    s.add(
        m.Reply(
            owner_id=owner_id,
            message_id=key,
            received_at=now,
            from_address=(parsed.from_address or "")[:320] or None if parsed else None,
            subject=parsed.subject or None if parsed else None,
            new_text=parsed.new_text or None if parsed else None,
            dates=[],
            reaction=f"could not be ingested ({type(exc).__name__}: {exc}); kept without a deal",
        )
    )
