"""One typed settings object, read strictly from flags and the environment.

| setting            | flag   | environment        | default                                  |
| ------------------ | ------ | ------------------ | ---------------------------------------- |
| database URL       | --db   | UNGHOST_DB         | sqlite:///<home>/unghost.db              |
| data directory     |        | UNGHOST_HOME       | the user's data directory (platformdirs) |
| playbook directory |        | UNGHOST_PLAYBOOK   | none: the default playbook only          |
| default owner      | --owner| UNGHOST_OWNER      | the only user, else local@unghost.invalid|

A bad value stops start-up with a sentence naming it (`BadInput`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from unghost.errors import BadInput

SUPPORTED_DRIVERS = ("sqlite", "sqlite+pysqlite", "postgresql+psycopg", "postgresql")


@dataclass(frozen=True)
class Settings:
    """Everything unghost needs to know about where it runs."""

    database_url: str
    home: Path
    playbook_dir: Path | None = None
    owner_email: str | None = None

    @property
    def outbox_dir(self) -> Path:
        """Where email goes as .eml files when no mailbox is configured."""
        return self.home / "outbox"

    @classmethod
    def load(
        cls,
        env: Mapping[str, str],
        *,
        db: str | None = None,
        owner: str | None = None,
    ) -> Settings:
        """Build the settings from flags (which win) and the environment."""
        home_raw = env.get("UNGHOST_HOME") or platformdirs.user_data_dir("unghost")
        home = Path(home_raw).expanduser()
        if home.exists() and not home.is_dir():
            raise BadInput(f"UNGHOST_HOME: {home} exists and is not a directory")
        url = db or env.get("UNGHOST_DB") or f"sqlite:///{home / 'unghost.db'}"
        source = "--db" if db else ("UNGHOST_DB" if env.get("UNGHOST_DB") else "default")
        url = _check_url(url, source)
        playbook_raw = env.get("UNGHOST_PLAYBOOK")
        playbook_dir: Path | None = None
        if playbook_raw:
            playbook_dir = Path(playbook_raw).expanduser()
            if not playbook_dir.is_dir():
                raise BadInput(f"UNGHOST_PLAYBOOK: {playbook_dir} is not a directory")
        owner_email = owner or env.get("UNGHOST_OWNER") or None
        return cls(database_url=url, home=home, playbook_dir=playbook_dir, owner_email=owner_email)


def _check_url(url: str, source: str) -> str:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BadInput(f"{source}: not a database URL: {url!r}") from None
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise BadInput(
            f"{source}: unsupported database {parsed.drivername!r} "
            "(use sqlite:///PATH or postgresql+psycopg://…)"
        )
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)
