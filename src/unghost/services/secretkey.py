"""The secret key, kept outside the database: it seals mailbox passwords and signs links.

The key is a Fernet key (AES-128-CBC with HMAC-SHA256, from `cryptography`): from
`UNGHOST_SECRET_KEY` (or `UNGHOST_SECRET_KEY_FILE`), else the file `<home>/secret.key`,
created with mode 0600 on first use. A stolen database alone reveals no password.
Nothing here prints, logs or stores the key or a password in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from unghost.errors import UnghostError
from unghost.settings import Settings

log = logging.getLogger(__name__)
KEY_FILE = "secret.key"


@dataclass(frozen=True)
class SecretKey:
    """The loaded key: `seal`/`unseal` for passwords, `signing_key` for HMACs."""

    key: bytes = field(repr=False)

    def seal(self, secret: str) -> str:
        """The secret encrypted and authenticated, as text for a database column."""
        return Fernet(self.key).encrypt(secret.encode()).decode("ascii")

    def unseal(self, token: str) -> str:
        """The secret back; a token sealed under another key is an error that says so."""
        try:
            return Fernet(self.key).decrypt(token.encode("ascii")).decode()
        except (InvalidToken, ValueError):
            raise UnghostError(
                "cannot decrypt a stored mailbox password: the secret key has changed "
                "(UNGHOST_SECRET_KEY or <home>/secret.key); run `unghost mailbox add` again"
            ) from None

    def signing_key(self, purpose: str) -> bytes:
        """A key for HMACs of one purpose, derived so that uses never share a key."""
        return hmac.new(self.key, f"unghost {purpose} v1".encode(), hashlib.sha256).digest()


def load_key(settings: Settings) -> SecretKey:
    """The secret key of these settings; the key file is created on first use."""
    if settings.secret_key:
        return SecretKey(settings.secret_key.encode("ascii"))
    path = settings.home / KEY_FILE
    return SecretKey(_read_or_create(path))


def _read_or_create(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    key = Fernet.generate_key()
    try:
        os.write(fd, key + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    log.info("created the secret key file %s (keep it: without it stored passwords are lost)", path)
    return key


def _read(path: Path) -> bytes:
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise UnghostError(f"cannot read the secret key file {path}: {exc.strerror}") from None
    if len(key) != 44:
        raise UnghostError(f"{path} does not hold a Fernet key (44 characters of base64)")
    if os.name == "posix" and path.stat().st_mode & 0o077:
        log.warning("%s can be read by other users: chmod 600 it", path)
    return key
