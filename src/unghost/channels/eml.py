"""Email "sent" as `.eml` files in the outbox folder, when no mailbox is configured.

A file appears whole or not at all (written aside, synced, then renamed), and its name
comes from the Message-ID, so "is it there?" answers exactly whether the message went:
the outbox resolves an interrupted write by looking, never by writing twice.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+=-]")


def file_name(message_id: str) -> str:
    """The file that holds the message with this Message-ID."""
    return _UNSAFE.sub("_", message_id.strip().strip("<>"))[:200] + ".eml"


def path_of(folder: Path, message_id: str) -> Path:
    """Where the message with this Message-ID is (or would be) written."""
    return folder / file_name(message_id)


def exists(folder: Path, message_id: str) -> bool:
    """Whether the message was written."""
    return path_of(folder, message_id).exists()


def write(folder: Path, message_id: str, message: bytes) -> Path:
    """Write the message atomically; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    final = path_of(folder, message_id)
    partial = final.with_name("." + final.name + ".part")
    with open(partial, "wb") as fh:
        fh.write(message)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(partial, final)
    if os.name == "posix":
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return final
