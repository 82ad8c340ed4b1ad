"""One error vocabulary for unghost, translated once at each edge.

    UnghostError            anything unghost reports to a person (exit 1)
    ├── BadInput            the user's input is wrong: file, record, flag (exit 2)
    │   └── NotFound        a named thing does not exist (exit 2, HTTP 404)
    └── Conflict            the request clashes with stored state (exit 1, HTTP 409)

The CLI prints `unghost: error: <message>`; the API answers
`{"error": <message>, "status": N}`. Messages are one line and name the file,
line or record, and field they are about.
"""

from __future__ import annotations


class UnghostError(Exception):
    """Base of every error unghost reports to a person."""

    exit_code = 1
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()) if "\n" in message else message)

    @property
    def message(self) -> str:
        return str(self.args[0])


class BadInput(UnghostError):
    """The input is wrong; nothing was written."""

    exit_code = 2
    http_status = 400


class NotFound(BadInput):
    """A deal, contact, user or file that does not exist (or is not yours)."""

    http_status = 404


class Conflict(UnghostError):
    """The request clashes with what is stored."""

    http_status = 409
