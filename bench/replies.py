"""How well and how fast `reply parse` reads the real messages of ../shared/data.

    .venv/bin/python bench/replies.py [--runs 5]

Prints: exact-match rates of new-text extraction where expected outputs exist (talon's
"Hello" set, talon's HTML replies, crisp-oss's multilingual COMMON_FIRST_FRAGMENT set);
bounce detection precision and recall with recipient, status and hard/soft accuracy on
crisp-oss's expected JSON; auto-replies and bounces wrongly found among the ordinary
replies; intent accuracy on tests/data/intent_labels.csv; and throughput on one core
(the median of several runs over every message of the data), with, measured in the same
process, the cost of just `email.message_from_bytes` on the same messages, and the ratio.
Targets: bounce recall >= 95 % at precision >= 98 %, no ordinary reply taken for an
auto-reply, >= 1,000 messages/s/core.
"""

from __future__ import annotations

import argparse
import csv
import email
import email.policy
import gc
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from reply_corpus import (  # noqa: E402
    CRISP_COMMON,
    DATA,
    TALON_HTML_TEXT,
    all_files,
    crisp_bounces,
    crisp_common,
    reply_files,
    talon_hello,
    talon_html,
)
from unghost.channels.inbox.parse import ParsedReply, parse_reply  # noqa: E402

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def parse(path: Path) -> ParsedReply:
    return parse_reply(path.read_bytes(), now=NOW)


def rate(hits: int, total: int) -> str:
    return f"{hits}/{total} ({100 * hits / total:.1f} %)" if total else "n/a"


def new_text_section() -> None:
    print("New text, exact match")
    sets: list[tuple[str, list[Path], str]] = [
        ('talon "Hello" set (raw messages, 12 clients)', talon_hello(), "Hello"),
        ("talon HTML replies (sign-off dropped)", talon_html(), TALON_HTML_TEXT),
        ("crisp-oss multilingual COMMON_FIRST_FRAGMENT", crisp_common(), CRISP_COMMON),
    ]
    for name, paths, expected in sets:
        hits = sum(parse(path).new_text == expected for path in paths)
        print(f"  {name:48s} {rate(hits, len(paths))}")


def bounce_section(replies: list[Path]) -> None:
    print("Bounces (crisp-oss expected JSON; non-bounces: every ordinary reply)")
    expected = crisp_bounces()
    detected = [(case, parse(case.path).bounce) for case in expected]
    found = [(case, bounce) for case, bounce in detected if bounce is not None]
    false = sum(parse(path).bounce is not None for path in replies)
    recall = len(found) / len(expected)
    precision = len(found) / (len(found) + false)
    hard = sum(bounce.hard == case.hard for case, bounce in found)
    recipient = sum(bounce.recipient == case.recipient for case, bounce in found)
    with_status = [(case, bounce) for case, bounce in found if case.status]
    status = sum(bounce.status == case.status for case, bounce in with_status)
    hard_cases = [(c, b) for c, b in found if c.hard]
    soft_cases = [(c, b) for c, b in found if not c.hard]
    print(f"  recall      {rate(len(found), len(expected))}   target >= 95 %")
    print(f"  precision   {rate(len(found), len(found) + false)}   target >= 98 %")
    print(f"  hard/soft   {rate(hard, len(found))}")
    print(f"    hard ones {rate(sum(b.hard for _, b in hard_cases), len(hard_cases))}")
    print(f"    soft ones {rate(sum(not b.hard for _, b in soft_cases), len(soft_cases))}")
    print(f"  recipient   {rate(recipient, len(found))}")
    print(f"  status code {rate(status, len(with_status))} (where crisp-oss gives one)")
    assert recall > 0 and precision > 0


def auto_reply_section(replies: list[Path]) -> None:
    wrong = [path for path in replies if parse(path).auto_reply is not None]
    print("Auto-replies among ordinary replies")
    print(f"  false positives {len(wrong)} of {len(replies)}   target 0")
    for path in wrong:
        print(f"    {path.relative_to(DATA)}")


def intent_section() -> None:
    labels = HERE.parent / "tests" / "data" / "intent_labels.csv"
    with labels.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    unique = [row for row in rows if "same new text as" not in row["notes"]]
    right = {row["file"] for row in rows if parse(DATA / row["file"]).intent == row["intent"]}
    print("Intent (rules) on tests/data/intent_labels.csv")
    print(f"  every labelled file      {rate(len(right), len(rows))}")
    print(
        f"  distinct new texts only  {rate(sum(r['file'] in right for r in unique), len(unique))}"
    )
    by_intent: dict[str, list[bool]] = {}
    for row in rows:
        by_intent.setdefault(row["intent"], []).append(row["file"] in right)
    for intent, hits in sorted(by_intent.items()):
        print(f"    {intent:15s} {rate(sum(hits), len(hits))}")


def throughput(runs: int) -> None:
    messages = [data for data in (path.read_bytes() for path in all_files()) if data.strip()]

    def per_second(work: Callable[[bytes], object]) -> float:
        times = []
        for _ in range(runs):
            gc.collect()
            start = time.perf_counter()
            for data in messages:
                work(data)
            times.append(time.perf_counter() - start)
        return len(messages) / statistics.median(times)

    ours = per_second(lambda data: parse_reply(data, now=NOW))
    default = per_second(lambda data: email.message_from_bytes(data, policy=email.policy.default))
    compat = per_second(lambda data: email.message_from_bytes(data, policy=email.policy.compat32))
    print(f"Throughput, one core, median of {runs} runs over {len(messages)} messages")
    print(f"  parse_reply (rule-based path)                {ours:8.0f} msg/s   target >= 1,000")
    print(f"  baseline: message_from_bytes, policy.default {default:8.0f} msg/s")
    print(f"  baseline: message_from_bytes, compat32       {compat:8.0f} msg/s")
    print(f"  parse_reply costs {default / ours:.2f}x policy.default parsing alone")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    replies = reply_files()
    new_text_section()
    bounce_section(replies)
    auto_reply_section(replies)
    intent_section()
    throughput(args.runs)


if __name__ == "__main__":
    main()
