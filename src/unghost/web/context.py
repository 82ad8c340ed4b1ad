"""What every request of the web app shares: the engine, the clock, the signed-in viewer.

A request is authenticated by its session cookie (pages, and the pages' own scripts) or by
an API token (`Authorization: Bearer ug_…`). Either way it becomes a `Viewer`, whose
`owners` scope every query: a member's own id, or every user's for an admin. Unsafe
requests authenticated by the cookie must carry the session's CSRF token (form field
`csrf` or header `X-CSRF-Token`); token requests need none, as no browser sends a token
on its own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from argon2 import PasswordHasher
from fastapi import Request
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from unghost.domain.playbook import Playbook, load_playbook
from unghost.errors import UnghostError
from unghost.services import browse, websessions
from unghost.services import plan as planning
from unghost.services.secretkey import SecretKey, load_key
from unghost.services.users import live_token, password_hasher
from unghost.settings import Settings
from unghost.store import models as m
from unghost.store.db import reading, transaction

log = logging.getLogger(__name__)

COOKIE = "unghost_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Clock = Callable[[], datetime]


class NotSignedIn(UnghostError):
    """No session or token, or one that is no longer valid."""

    http_status = 401


class Forbidden(UnghostError):
    """Signed in, but this needs another role, or the form token is missing."""

    http_status = 403


@dataclass(frozen=True)
class Viewer:
    """The signed-in user a request acts for."""

    id: int
    email: str
    name: str
    is_admin: bool
    owners: list[int]
    csrf: str | None  # None for token requests
    timezone: str


@dataclass
class Web:
    """The app's shared state (one per `create_app`)."""

    settings: Settings
    engine: Engine
    clock: Clock
    _playbook: Playbook | None = None
    _key: SecretKey | None = None
    send_lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> datetime:
        return self.clock()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only snapshot, without SQLite's write lock (see store.db.reading)."""
        with reading(self.engine) as session:
            yield session

    @contextmanager
    def db(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on an error."""
        with transaction(self.engine) as session:
            yield session

    def replan_stale(self, owners: list[int]) -> None:
        """Plan the deals whose stored plan has run out (a write only when there are any),
        so reads that follow can trust the stored plans."""
        now = self.now()
        with self.read() as s:
            stale = browse.stale_deals(s, owners, now)
        if stale:
            with self.db() as s:
                planning.plan(s, owners, now, playbook=self.playbook, deal_ids=stale)

    @property
    def playbook_dir(self) -> Path:
        """Where edited templates are saved: UNGHOST_PLAYBOOK, else <home>/playbook."""
        return self.settings.playbook_dir or self.settings.home / "playbook"

    @property
    def playbook(self) -> Playbook:
        if self._playbook is None:
            folder = self.playbook_dir
            self._playbook = planning.default_playbook(folder if folder.is_dir() else None)
        return self._playbook

    def reload_playbook(self) -> Playbook:
        """Read the playbook files again (after a template was saved), past any cache."""
        folder = self.playbook_dir
        self._playbook = load_playbook(folder if folder.is_dir() else None)
        return self._playbook

    @property
    def key(self) -> SecretKey:
        if self._key is None:
            self._key = load_key(self.settings)
        return self._key

    @property
    def hasher(self) -> PasswordHasher:
        return password_hasher(self.settings)


def web(request: Request) -> Web:
    """The app state of this request."""
    state: Web = request.app.state.web
    return state


def client_of(request: Request) -> str:
    """Who is asking, for the sign-in throttle: the peer address."""
    return request.client.host if request.client else "unknown"


def viewer_of(request: Request) -> Viewer | None:
    """The signed-in viewer, or None. Cached on the request.

    Read without the write lock; the time of use is written at most every few minutes.
    """
    if hasattr(request.state, "viewer"):
        found: Viewer | None = request.state.viewer
        return found
    app = web(request)
    viewer = None
    header = request.headers.get("authorization", "")
    now = app.now()
    write: Callable[[Session], None] | None = None
    with app.read() as s:
        if header[:7].lower() == "bearer ":
            token = live_token(s, header[7:].strip())
            if token is not None:
                viewer = _viewer(s, s.get_one(m.User, token.user_id), None)
                last = token.last_used_at
                if last is None or now - last > websessions.TOUCH_EVERY:
                    write = partial(_used, token.id, now)
        else:
            signed = websessions.current(s, request.cookies.get(COOKIE), now)
            if signed is not None:
                viewer = _viewer(s, signed.user, signed.csrf)
                if signed.seen_due:
                    write = partial(websessions.seen, session_id=signed.session_id, now=now)
    if write is not None:
        with app.db() as s:
            write(s)
    request.state.viewer = viewer
    return viewer


def _used(token_id: int, now: datetime, s: Session) -> None:
    row = s.get(m.ApiToken, token_id)
    if row is not None:
        row.last_used_at = now


def _viewer(s: Session, user: m.User, csrf: str | None) -> Viewer:
    owners = list(s.scalars(select(m.User.id))) if user.is_admin else [user.id]
    return Viewer(user.id, user.email, user.name, user.is_admin, owners, csrf, user.timezone)


def now_utc() -> datetime:
    return datetime.now(UTC)
