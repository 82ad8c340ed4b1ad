"""One typed settings object, read strictly from flags and the environment.

| setting            | flag    | environment                 | default                           |
| ------------------ | ------- | --------------------------- | --------------------------------- |
| database URL       | --db    | UNGHOST_DB                  | sqlite:///<home>/unghost.db       |
| data directory     |         | UNGHOST_HOME                | the user's data dir (platformdirs)|
| playbook directory |         | UNGHOST_PLAYBOOK            | <home>/playbook if it exists      |
| default owner      | --owner | UNGHOST_OWNER               | the only user, else local@…invalid|
| secret key         |         | UNGHOST_SECRET_KEY, …_FILE  | <home>/secret.key, made once      |
| public URL         |         | UNGHOST_PUBLIC_URL          | none: unsubscribe by mailto only  |
| retry budget       |         | UNGHOST_RETRY_HOURS         | 24 (then a retried message fails) |
| worker poll        |         | UNGHOST_POLL_SECONDS        | 30 (the pause when nothing to do) |
| Sent settle time   |         | UNGHOST_SENT_SETTLE_SECONDS | 60 (before a Sent search counts)  |
| fast password hash |         | UNGHOST_FAST_HASH           | 0; 1 only in tests (weak hashes)  |

The secret key (a Fernet key) seals mailbox passwords and signs unsubscribe links;
it is never stored in the database, printed or logged.

UNGHOST_FAST_HASH=1 makes argon2 as cheap as it goes, for test suites; a password
hashed that way is rehashed with the real parameters the next time it is verified
without the setting.

A bad value stops start-up with a sentence naming it (`BadInput`).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

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
    secret_key: str | None = field(default=None, repr=False)
    public_url: str | None = None
    retry_budget: timedelta = timedelta(hours=24)
    poll_seconds: float = 30.0
    sent_settle: timedelta = timedelta(seconds=60)
    fast_hash: bool = False

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
        elif (home / "playbook").is_dir():
            # Where the web app saves edited templates: the CLI and the worker use them too.
            playbook_dir = home / "playbook"
        owner_email = owner or env.get("UNGHOST_OWNER") or None
        return cls(
            database_url=url,
            home=home,
            playbook_dir=playbook_dir,
            owner_email=owner_email,
            secret_key=_secret_key(env),
            public_url=_public_url(env.get("UNGHOST_PUBLIC_URL")),
            retry_budget=timedelta(hours=_positive(env, "UNGHOST_RETRY_HOURS", 24)),
            poll_seconds=_positive(env, "UNGHOST_POLL_SECONDS", 30),
            sent_settle=timedelta(seconds=_positive(env, "UNGHOST_SENT_SETTLE_SECONDS", 60, 0)),
            fast_hash=_switch(env, "UNGHOST_FAST_HASH"),
        )


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


def _secret_key(env: Mapping[str, str]) -> str | None:
    key = env.get("UNGHOST_SECRET_KEY")
    source = "UNGHOST_SECRET_KEY"
    path = env.get("UNGHOST_SECRET_KEY_FILE")
    if not key and path:
        source = "UNGHOST_SECRET_KEY_FILE"
        try:
            key = Path(path).expanduser().read_text().strip()
        except OSError as exc:
            raise BadInput(f"{source}: cannot read {path}: {exc.strerror}") from None
    if not key:
        return None
    try:
        raw = base64.urlsafe_b64decode(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raw = b""
    if len(raw) != 32:
        raise BadInput(
            f"{source}: not a Fernet key (44 characters of URL-safe base64; make one with "
            '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key())"`)'
        )
    return key


def _public_url(value: str | None) -> str | None:
    if not value:
        return None
    parsed = urlsplit(value.strip())
    if parsed.scheme not in ("https", "http") or not parsed.hostname:
        raise BadInput(f"UNGHOST_PUBLIC_URL: not an http(s) URL: {value!r}")
    return value.strip().rstrip("/")


def _positive(env: Mapping[str, str], name: str, default: float, low: float = 1e-9) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadInput(f"{name}: not a number: {raw!r}") from None
    if not value >= low or value == float("inf"):
        raise BadInput(f"{name}: must be a number of at least {low:g}, not {raw!r}")
    return value


def _switch(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name)
    if raw is None or raw == "" or raw == "0":
        return False
    if raw == "1":
        return True
    raise BadInput(f"{name}: must be 1 or 0, not {raw!r}")
