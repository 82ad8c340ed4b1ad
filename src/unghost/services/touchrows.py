"""The touches of an import as rows to insert: checked, fingerprinted, deduplicated.

This is the hot loop of a big import (2,000,000 touches in under a minute on two
cores). Well-formed touches take a fast path; anything it is unsure of goes through
the careful checks, which give the same values and the precise one-line errors. With
many touches the rows are made in a forked worker while the importing process writes
them; the transaction stays with the importer, so an import is still all or nothing.
"""

from __future__ import annotations

import gc
import hashlib
import marshal
import os
import signal
import struct
import traceback
import warnings
from collections.abc import Callable, Generator, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, BinaryIO

from unghost.domain.model import CHANNELS, DIRECTIONS, OUTCOMES
from unghost.errors import BadInput, UnghostError
from unghost.services import checks
from unghost.services.checks import quote

TOUCH_COLUMNS = (
    "deal_id", "contact_id", "fingerprint",
    "at", "channel", "direction", "outcome", "subject", "body", "play", "variant", "content_key",
)  # fmt: skip
TOUCH_FIELDS = frozenset(
    {"deal", "contact", "at", "channel", "direction", "outcome", "subject", "body", "play",
     "variant", "content"}
)  # fmt: skip

# Fewer touches than this are made in-process: a worker pays for itself only on big files.
WORKER_MIN = 100_000
BATCH = 10_000

Row = tuple[Any, ...]
Locate = Callable[..., str]
Batches = Generator[tuple[int, list[Row]], None, None]
_MINUTE_SECOND = frozenset(f":{m:02d}:{s:02d}" for m in range(60) for s in range(60))
_CHANNELS, _DIRECTIONS, _OUTCOMES = frozenset(CHANNELS), frozenset(DIRECTIONS), frozenset(OUTCOMES)
_FRAME = struct.Struct("<Q")


def utc_text(at: datetime) -> str:
    """A time as naive UTC text, "2026-11-23 14:00:00.000000": how touches are stored and hashed."""
    return at.astimezone(UTC).isoformat(" ", "microseconds")[:26]


def _digest(
    deal_id: int,
    contact_id: int | None,
    at: str,
    channel: str,
    direction: str,
    outcome: str | None,
    subject: str | None,
    body: str | None,
    play: str | None,
) -> str:
    text = (
        f"{deal_id}\x1f{contact_id}\x1f{at}\x1f{channel}\x1f{direction}\x1f{outcome or ''}"
        f"\x1f{subject or ''}\x1f{body or ''}\x1f{play or ''}"
    )
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def touch_fingerprint(deal_id: int, contact_id: int | None, values: Sequence[Any]) -> str:
    """A digest of a touch (TOUCH_COLUMNS[3:] order): the same touch twice is one touch."""
    at, channel, direction, outcome, subject, body, play = values[:7]
    return _digest(
        deal_id, contact_id, utc_text(at), channel, direction, outcome, subject, body, play
    )


class TouchRows:
    """The new rows of a file's touches, in TOUCH_COLUMNS order with `at` as UTC text.

    `known` holds the fingerprints already stored for the owner's deals; a touch whose
    fingerprint is known (or seen earlier in the file) is counted in `unchanged`.
    """

    def __init__(
        self,
        rows: Sequence[Any],
        *,
        deals: Mapping[str, int],
        contacts: Mapping[str, int],
        deal_contact: Mapping[int, int],
        known: set[str],
        tz: str,
        loc: Locate,
    ) -> None:
        self.rows = rows
        self.deals = deals
        self.contacts = contacts
        self.deal_contact = deal_contact
        self.known = known
        self.tz = tz
        self.loc = loc
        self.unchanged = 0
        # "2026-11-23T09-05:00" (date, hour and a whole-hour offset) -> "2026-11-23 14", its
        # UTC hour as the careful check reads it, or "" if it does not take it (or the shape
        # is another). The minutes and seconds are checked on their own (_MINUTE_SECOND).
        self._hours: dict[str, str] = {}

    def batches(self, size: int = BATCH) -> Batches:
        """(touches read, their new rows) for every `size` touches of the file."""
        rows, deals, contacts, deal_contact = (
            self.rows,
            self.deals,
            self.contacts,
            self.deal_contact,
        )
        known, hours, fields, minute_second = self.known, self._hours, TOUCH_FIELDS, _MINUTE_SECOND
        channels, directions, outcomes = _CHANNELS, _DIRECTIONS, _OUTCOMES
        blake2b = hashlib.blake2b
        new: list[Row] = []
        read = 0
        for i, d in enumerate(rows):
            row: Row | None = None
            if type(d) is dict and fields.issuperset(d):
                g = d.get
                when = g("at")
                at: str | None = None
                if type(when) is str and when[13:19] in minute_second:
                    hour = hours.get(when[:13] + when[19:])
                    if hour is None:
                        hour = self._hour(when)
                    if hour:
                        at = hour + when[13:19] + ".000000"
                if at is None:
                    at = self._utc(when)
                deal_key, ckey = g("deal"), g("contact")
                channel, direction, outcome = g("channel"), g("direction"), g("outcome")
                subject, body = g("subject"), g("body")
                play, variant, content = g("play"), g("variant"), g("content")
                deal_id = deals.get(deal_key) if type(deal_key) is str else None
                if (
                    at is not None
                    and deal_id is not None
                    and (ckey is None or (type(ckey) is str and ckey in contacts))
                    and type(channel) is str
                    and channel in channels
                    and type(direction) is str
                    and direction in directions
                    and (outcome is None or (type(outcome) is str and outcome in outcomes))
                    and (
                        subject is None
                        or (type(subject) is str and len(subject) <= 1000 and "\x00" not in subject)
                    )
                    and (
                        body is None
                        or (type(body) is str and len(body) <= 100_000 and "\x00" not in body)
                    )
                    and (play is None or (type(play) is str and _key(play)))
                    and (variant is None or (type(variant) is str and _key(variant)))
                    and (content is None or (type(content) is str and _key(content)))
                ):
                    contact_id = deal_contact[deal_id] if ckey is None else contacts[ckey]
                    subject = subject.strip() or None if subject else None
                    body = body.strip() or None if body else None
                    text = (
                        f"{deal_id}\x1f{contact_id}\x1f{at}\x1f{channel}\x1f{direction}"
                        f"\x1f{outcome or ''}\x1f{subject or ''}\x1f{body or ''}\x1f{play or ''}"
                    )  # _digest, inlined: this runs once per touch
                    fp = blake2b(text.encode(), digest_size=16).hexdigest()
                    row = (deal_id, contact_id, fp, at, channel, direction, outcome, subject, body,
                           play, variant, content)  # fmt: skip
            if row is None:
                row = self._careful(i, d)
            if row[2] in known:
                self.unchanged += 1
            else:
                known.add(row[2])
                new.append(row)
            if i + 1 - read == size:
                yield size, new
                new, read = [], i + 1
        if len(rows) > read:
            yield len(rows) - read, new

    def _hour(self, when: str) -> str:
        """The UTC date and hour of a whole-hour time like 2026-11-23T09:15:00-05:00, else ""."""
        offset = when[19:]
        whole_hour = offset == "Z" or (
            len(offset) == 6 and offset[0] in "+-" and offset[3:] == ":00"
        )
        at = (
            self._utc(when)
            if when[4] == when[7] == "-" and when[10] in "T " and whole_hour
            else None
        )
        hour = at[:13] if at is not None else ""
        self._hours[when[:13] + offset] = hour
        return hour

    def _utc(self, when: Any) -> str | None:
        """`when` as UTC text if the careful check takes it, else None (it will say why)."""
        try:
            moment = checks.moment(when, "at", tz=self.tz)
        except BadInput:
            return None
        return utc_text(moment) if moment is not None else None

    def _careful(self, i: int, d: Any) -> Row:
        """Touch `i` checked field by field: its row, or the error naming the field."""
        at = partial(self.loc, "touches", i)
        if not isinstance(d, dict):
            raise BadInput(f"{self.loc('touches', i)}: must be an object")
        extra = sorted(set(d) - TOUCH_FIELDS)
        if extra:
            raise BadInput(f"{self.loc('touches', i)}.{extra[0]}: unknown field")
        deal_key = d.get("deal")
        deal_id = self.deals.get(deal_key) if type(deal_key) is str else None
        if deal_id is None:
            checks.key(deal_key, at("deal"))
            raise BadInput(f"{at('deal')}: no deal {quote(deal_key)}")
        ckey = d.get("contact")
        contact_id: int | None = self.deal_contact[deal_id]
        if ckey is not None:
            contact_id = self.contacts.get(ckey) if type(ckey) is str else None
            if contact_id is None:
                raise BadInput(f"{at('contact')}: no contact {quote(ckey)}")
        channel = checks.choice(d.get("channel"), at("channel"), CHANNELS, default=None)
        direction = checks.choice(d.get("direction"), at("direction"), DIRECTIONS, default=None)
        if channel is None:
            raise BadInput(f"{at('channel')}: required")
        if direction is None:
            raise BadInput(f"{at('direction')}: required")
        when = checks.moment(d.get("at"), at("at"), tz=self.tz, required=True)
        assert when is not None
        values = (
            utc_text(when),
            channel,
            direction,
            checks.choice(d.get("outcome"), at("outcome"), OUTCOMES, default=None),
            checks.text(d.get("subject"), at("subject"), max_len=1000),
            checks.text(d.get("body"), at("body"), max_len=100_000),
            checks.key(d["play"], at("play")) if d.get("play") else None,
            checks.key(d["variant"], at("variant")) if d.get("variant") else None,
            checks.key(d["content"], at("content")) if d.get("content") else None,
        )
        return (deal_id, contact_id, _digest(deal_id, contact_id, *values[:7]), *values)


def _key(value: str) -> bool:
    try:
        checks.key(value, "")
    except BadInput:
        return False
    return True


# -- the worker -------------------------------------------------------------------


def use_worker(count: int) -> bool:
    """Whether `count` touches are worth a worker process on a second core (Linux's fork)."""
    if count < WORKER_MIN or not hasattr(os, "sched_getaffinity"):
        return False
    return len(os.sched_getaffinity(0)) > 1


def batches_in_worker(rows: TouchRows, size: int = BATCH) -> Batches:
    """`rows.batches()`, made in a forked child while the caller writes what it has.

    The child only reads what it inherited, computes and writes to a pipe, then leaves
    with os._exit: it never touches the database connection or the parent's files. An
    error in the child reaches the caller as the same BadInput; if the caller stops
    early (an error of its own), the child is killed.
    """
    read_fd, write_fd = os.pipe()
    # A collection would write to every object the two processes share, and so copy it;
    # frozen, the parsed file stays shared (the gc module's advice for fork). Objects
    # someone else froze (a server before forking its workers) stay frozen.
    thaw = gc.get_freeze_count() == 0
    gc.freeze()
    try:
        try:
            with warnings.catch_warnings():
                # Python 3.12 warns about forking a process with threads (the CLI's progress
                # bar); the child runs none of their code, so their locks cannot trap it.
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
        except OSError:  # no memory or processes to spare: make them here, more slowly
            os.close(read_fd)
            os.close(write_fd)
            yield from rows.batches(size)
            return
        if pid == 0:
            os.close(read_fd)
            _work(rows, size, os.fdopen(write_fd, "wb"))
        os.close(write_fd)
        with os.fdopen(read_fd, "rb") as pipe:
            yield from _receive(pipe, pid, rows)
    finally:
        if thaw:
            gc.unfreeze()


def _receive(pipe: BinaryIO, pid: int, rows: TouchRows) -> Batches:
    finished = False
    try:
        while True:
            head = pipe.read(_FRAME.size)
            length = _FRAME.unpack(head)[0] if len(head) == _FRAME.size else -1
            data = pipe.read(length) if length > 0 else b""
            if len(data) != length:
                raise UnghostError("import: the worker making touch rows stopped unexpectedly")
            message = marshal.loads(data)
            kind = message[0]
            if kind == "rows":
                yield message[1], message[2]
            elif kind == "done":
                rows.unchanged = message[1]
                finished = True
                return
            elif kind == "bad":
                raise BadInput(message[1])
            else:
                raise UnghostError(f"import: the worker making touch rows failed: {message[1]}")
    finally:
        if not finished:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def _work(rows: TouchRows, size: int, pipe: BinaryIO) -> None:
    code = 0
    try:
        try:
            for read, new in rows.batches(size):
                _send(pipe, ("rows", read, new))
            _send(pipe, ("done", rows.unchanged))
        except BadInput as exc:
            _send(pipe, ("bad", exc.message))
        except Exception:
            _send(pipe, ("crash", traceback.format_exc(limit=-3).replace("\n", " ")))
        pipe.flush()
    except BaseException:  # the parent went away or killed us: nothing left to tell
        code = 1
    finally:
        os._exit(code)


def _send(pipe: BinaryIO, message: tuple[Any, ...]) -> None:
    data = marshal.dumps(message)
    pipe.write(_FRAME.pack(len(data)))
    pipe.write(data)
