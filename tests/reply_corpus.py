"""The real messages in ../shared/data, and what their original projects expect of them.

Shared by tests/test_reply_*.py and bench/replies.py. The expected outputs come from the
folders' own fixtures (crisp-oss's bounce JSON) and from their original test suites
(talon's "Hello" set, crisp-oss's COMMON_FIRST_FRAGMENT cases), transcribed here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

REPLY_FOLDERS = (
    "github__email_reply_parser",
    "zapier__email-reply-parser",
    "willdurand__EmailReplyParser",
    "crisp-oss__email-reply-parser",
    "alfonsrv__mail-parser-reply",
    "mailgun__talon",
    "closeio__quotequail",
)
_SKIP_NAMES = ("LICENSE", "PROVENANCE.txt", "README.md")


def all_files() -> list[Path]:
    """Every message file of the data: no calendars, licences, provenance or expectations."""
    return sorted(
        path
        for path in DATA.rglob("*")
        if path.is_file()
        and path.suffix != ".ics"
        and not path.name.startswith(_SKIP_NAMES)
        and "expected" not in path.parts
        and path.parent != DATA
    )


def reply_files() -> list[Path]:
    """Ordinary replies: every non-empty file of the reply-body folders."""
    return [
        path
        for folder in REPLY_FOLDERS
        for path in sorted((DATA / folder).rglob("*"))
        if path.is_file() and not path.name.startswith(_SKIP_NAMES) and path.stat().st_size
    ]


def talon_hello() -> list[Path]:
    """Talon's standard replies: raw messages from many clients whose new text is "Hello"."""
    return sorted((DATA / "mailgun__talon/tests/fixtures/standard_replies").glob("*.eml"))


def talon_html() -> list[Path]:
    """Talon's HTML replies, whose new text is "Hi. I am fine." before the sign-off."""
    return sorted((DATA / "mailgun__talon/tests/fixtures/html_replies").glob("*.html"))


TALON_HTML_TEXT = "Hi. I am fine."

CRISP_COMMON = (
    "Fusce bibendum, quam hendrerit sagittis tempor, dui turpis tempus erat, pharetra sodales "
    "ante sem sit amet metus.\n"
    "Nulla malesuada, orci non vulputate lobortis, massa felis pharetra ex, convallis "
    "consectetur ex libero eget ante.\n"
    "Nam vel turpis posuere, rhoncus ligula in, venenatis orci. Duis interdum venenatis ex a "
    "rutrum.\n"
    "Duis ut libero eu lectus consequat consequat ut vel lorem. Vestibulum convallis lectus "
    "urna,\n"
    "et mollis ligula rutrum quis. Fusce sed odio id arcu varius aliquet nec nec nibh."
)
# crisp-oss/email-reply-parser test/test.js: files whose first fragment is COMMON_FIRST_FRAGMENT.
_CRISP_COMMON_NAMES = (
    *(f"email_{n}" for n in (7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 22, 23, 24, 25, 26)),
    "email_portuguese",
    "email_german",
    "email_german_2",
    "email_german_3",
    "email_german_outlook",
    "email_norwegian_gmail",
    "email_finnish",
    "email_italian",
    "email_russian",
    "email_outlook_split_line_from",
    "email_gmail_split_line_from",
    "email_ios_outlook_fr",
    "email_ios_outlook",
    "email_msn",
    "email_fr_multiline",
    "email_french_2",
    "email_en_multiline_2",
    "email_original_message",
    "email_original_message_2",
    "email_danish_dash_separator",
    "email_french_dash_separator",
    "email_tricky_5_mixed_languages",
    "email_tricky_10_special_chars_in_name",
    "email_tricky_12_no_space_after_header",
    "email_tricky_14_long_quote_header",
    "email_tricky_15_original_message_variations",
)


def crisp_common() -> list[Path]:
    """crisp-oss reply bodies in many languages whose new text is CRISP_COMMON."""
    folder = DATA / "crisp-oss__email-reply-parser/test/fixtures"
    return [folder / f"{name}.txt" for name in _CRISP_COMMON_NAMES]


# How crisp-oss's bounce labels map to PRODUCT's hard (the address itself does not work).
# Their "permanent" is about the SMTP code; ours is about the address, so:
HARD_TYPES = frozenset(
    {"no_such_recipient", "recipient_disabled_or_recipient_rate_limited", "server_unknown"}
)
# Unlabelled in crisp-oss, but the words say the address is bad.
HARD_NAMES = frozenset({"550_5_1_0_address_rejected", "550_mailbox_unavailable"})
# Labelled with a hard type, but the words say otherwise: a sender block ("BLOCK-SEND-ER")
# and an unreachable host ("No route to host") leave the address good.
SOFT_NAMES = frozenset(
    {"554_5_7_1_no_such_recipient_variant_1", "unknown_server_unknown_variant_3"}
)


@dataclass(frozen=True)
class ExpectedBounce:
    """One crisp-oss bounce body and what it should parse to."""

    path: Path
    recipient: str
    status: str | None
    hard: bool


def crisp_bounces() -> list[ExpectedBounce]:
    """The crisp-oss bounce bodies that name a recipient (default.txt, "Hello", names none)."""
    folder = DATA / "crisp-oss__email-bounce-parser/test/fixtures"
    found: list[ExpectedBounce] = []
    for path in sorted(folder.glob("*.txt")):
        expected = json.loads((folder / "expected" / f"{path.stem}.json").read_text())
        data = expected.get("data") or {}
        recipient = data.get("recipient")
        if not recipient:
            continue
        error = data.get("error") or {}
        kind = (error.get("data") or {}).get("type")
        hard = (kind in HARD_TYPES or path.stem in HARD_NAMES) and path.stem not in SOFT_NAMES
        status = (error.get("code") or {}).get("enhanced")
        found.append(ExpectedBounce(path, recipient, status, hard))
    return found
