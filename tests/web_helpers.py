"""A web app on the sample workspace, for the web tests: a cast of users, signed-in clients.

`Site` holds the app (in-process, for httpx's TestClient) with its clock fixed at the
sample's Monday morning. The cast: the sample's owner (a member, who owns the 42 deals),
a second member with one deal of her own, and an admin who owns nothing.
`serve(site)` runs the same app under uvicorn on a free loopback port, for Chromium.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from servers import free_port
from unghost.services import users
from unghost.services.demo import load_demo
from unghost.services.workspace import import_document
from unghost.settings import Settings
from unghost.store.db import make_engine, transaction
from unghost.web import create_app

PASSWORD = "correct horse battery staple"
SAMPLE_MONDAY = date(2026, 11, 23)
OTHER = "mina@other-shop.example"
ADMIN = "admin@team.example"

# The second member's one deal: a contact whose name would run a script if not escaped.
OTHER_DOC = {
    "format": "unghost-workspace",
    "version": 1,
    "owner": {"email": OTHER, "name": "Mina Okafor", "timezone": "Europe/London", "country": "GB"},
    "contacts": [
        {"id": "rival", "name": "<script>alert('x')</script> Rival", "email": "rival@rival.example"}
    ],
    "deals": [{"id": "rival-deal", "contact": "rival", "title": "Rival's <b>secret</b> deal"}],
    "touches": [
        {"deal": "rival-deal", "at": "2026-11-02T10:00:00+00:00", "channel": "email",
         "direction": "out", "subject": "Hello", "body": "First note."}
    ],
}  # fmt: skip


@dataclass
class Site:
    """The app under test, its settings and engine, and the people who use it."""

    app: FastAPI
    settings: Settings
    engine: Engine
    now: datetime
    owner: str  # the sample's owner (a member)
    other: str = OTHER
    admin: str = ADMIN

    def client(self, email: str | None = None) -> TestClient:
        """A browser-like client, signed in as `email` (or not signed in)."""
        c = TestClient(self.app, follow_redirects=False)
        if email is not None:
            r = c.post("/login", data={"email": email, "password": PASSWORD})
            assert r.status_code == 303, r.text
        return c

    def token(self, email: str) -> str:
        """A new API token of this user."""
        with transaction(self.engine) as s:
            return users.create_token(s, email)


def make_site(home: Path, db_url: str | None = None) -> Site:
    """The sample workspace and the cast, in a new database under `home`."""
    settings = Settings(
        database_url=db_url or f"sqlite:///{home}/unghost.db", home=home, fast_hash=True
    )
    engine = make_engine(settings)
    result, now = load_demo(engine, SAMPLE_MONDAY)
    import_document(engine, OTHER_DOC)
    hasher = users.password_hasher(settings)
    with transaction(engine) as s:
        users.add_user(s, result.owner, password=PASSWORD, hasher=hasher)
        users.add_user(s, OTHER, password=PASSWORD, hasher=hasher)
        users.add_user(s, ADMIN, name="Ada Admin", admin=True, password=PASSWORD, hasher=hasher)
    app = create_app(settings, engine=engine, clock=lambda: now)
    return Site(app, settings, engine, now, result.owner)


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found[1]


@contextmanager
def serve(site: Site) -> Iterator[str]:
    """Run the app under uvicorn on loopback; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(site.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def counting(site: Site) -> Iterator[list[str]]:
    """The SQL statements run inside the block."""
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(site.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(site.engine, "before_cursor_execute", count)
