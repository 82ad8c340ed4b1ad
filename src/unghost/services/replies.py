"""Parsing inbound messages from files: the `unghost reply parse` use case.

No database and no network: each file is read and handed to the pure parser in
`unghost.channels.inbox`. Dates are resolved against the message's Date header, else
`as_of`, else `now`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

from unghost.channels.inbox.parse import ParsedReply, parse_reply
from unghost.errors import BadInput


def parse_files(
    paths: Sequence[Path], *, as_of: datetime | None, now: datetime
) -> Iterator[tuple[Path, ParsedReply]]:
    """Parse each file in turn; every path is checked before the first is parsed.

    Raises BadInput naming the file when one is missing, unreadable or empty.
    """
    for path in paths:
        if not path.is_file():
            raise BadInput(f"{path}: no such file")
    reference = as_of or now
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BadInput(f"{path}: cannot be read ({exc.strerror or exc})") from exc
        try:
            parsed = parse_reply(data, now=reference)
        except BadInput as exc:
            raise BadInput(f"{path}: {exc.message}") from exc
        yield path, parsed
