"""HTML mail turned into readable text, with the standard library's `html.parser`.

Line breaks follow the blocks (`<p>`, `<div>`, `<br>`, list items, table rows);
`<style>`, `<script>` and `<head>` are dropped. Quoted history keeps a `> ` prefix:
`<blockquote>` and the quote containers that mail clients mark (Gmail's
`gmail_quote`, Yahoo's `yahoo_quoted`, Outlook for Mac's `OLK_SRC_BODY_SECTION`…),
so the plain-text rules of `newtext` find it as they would in a text reply.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

_BLOCK = frozenset(
    {
        "p",
        "div",
        "br",
        "tr",
        "li",
        "ul",
        "ol",
        "table",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "pre",
        "address",
        "section",
        "article",
        "header",
        "footer",
        "center",
        "dl",
        "dt",
        "dd",
        "form",
        "body",
    }
)
_SKIP = frozenset({"style", "script", "head", "title", "xml", "template", "noscript"})
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base"})
_QUOTE_MARKS = (
    "gmail_quote",
    "yahoo_quoted",
    "olk_src_body_section",
    "divrplyfwdmsg",
    "moz-cite-prefix",
    "protonmail_quote",
    "zmail_extra",
    "mailru_quote",
)
_MAX_CHARS = 2_000_000  # bigger bodies are cut: a reply is never that long


class _TextBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skip_depth = 0
        self.quote_depth = 0
        self.stack: list[tuple[str, bool]] = []  # (tag, opened a quote)
        self.in_pre = 0

    def _newline(self) -> None:
        text = "".join(self.current)
        if not self.in_pre:
            text = re.sub(r"[ \t\f\v\u00a0]+", " ", text).strip()
        prefix = "> " * self.quote_depth
        self.lines.append(prefix + text if text else prefix.rstrip())
        self.current = []

    def _break(self) -> None:
        if self.current and "".join(self.current).strip():
            self._newline()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip_depth += 1
            return
        if tag == "br":
            self._newline()  # ends the line, or makes an empty one
            return
        if tag in _BLOCK:
            self._break()
            if tag == "p":
                self._blank()
        if tag == "li":
            self.current.append("- ")
        if tag == "pre":
            self.in_pre += 1
        if tag in ("td", "th") and self.current:
            self.current.append(" ")
        if tag in _VOID:
            return
        opens = tag == "blockquote" or _is_quote_container(attrs)
        if opens:
            self._break()
            self.quote_depth += 1
        self.stack.append((tag, opens))

    def _blank(self) -> None:
        if self.lines and self.lines[-1].strip("> "):
            self.lines.append(("> " * self.quote_depth).rstrip())

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if tag in _BLOCK:
            self._break()
            if tag == "p":
                self._blank()
        if tag == "pre":
            self.in_pre = max(0, self.in_pre - 1)
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                for _, opened in self.stack[index:]:
                    if opened:
                        self._break()
                        self.quote_depth = max(0, self.quote_depth - 1)
                del self.stack[index:]
                break

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.in_pre:
            parts = data.split("\n")
            for part in parts[:-1]:
                self.current.append(part)
                self._newline()
            self.current.append(parts[-1])
        else:
            self.current.append(data.replace("\n", " ").replace("\r", " "))

    def text(self) -> str:
        self._break()
        out: list[str] = []
        for line in self.lines:
            if not line.strip("> ") and out and not out[-1].strip("> "):
                continue  # one blank line between blocks is enough
            out.append(line)
        return "\n".join(out).strip("\n")


def _is_quote_container(attrs: list[tuple[str, str | None]]) -> bool:
    for name, value in attrs:
        if name in ("class", "id") and value:
            lower = value.lower()
            if any(mark in lower for mark in _QUOTE_MARKS):
                return True
        if name == "type" and value and value.lower() == "cite":
            return True
    return False


def html_to_text(html: str) -> str:
    """Readable text of an HTML body; quoted history is prefixed with `> `."""
    builder = _TextBuilder()
    try:
        builder.feed(html[:_MAX_CHARS])
        builder.close()
    except Exception:  # html.parser is forgiving; never let a body stop parsing
        return unescape(re.sub(r"<[^>]*>", " ", html[:_MAX_CHARS]))
    return builder.text()
