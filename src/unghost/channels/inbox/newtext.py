"""The new text of a reply: without quoted history, signature or disclaimers.

Rules, not a library: the maintained Python libraries measured on the data's expected
outputs did worse (see README.md in this folder). The steps:

1. cut at the first quote header ("On … wrote:" in many languages and clients,
   "-----Original Message-----", an Outlook "From: … Sent: …" block, a long
   underscore rule before such a block); when nothing but the quote comes before it
   (bottom posting), keep what follows the quote instead;
2. drop `>`-quoted lines;
3. drop a top "CAUTION: external email" banner, then cut the signature: a `--`
   delimiter, a "Sent from my iPhone" line, a sign-off ("Best regards,") followed
   only by a few short lines, or a confidentiality disclaimer.
"""

from __future__ import annotations

import re

# Verbs that end an attribution line ("… wrote:"), in the languages of the data.
_WROTE = (
    r"wrote|writes|a écrit|a ecrit|schrieb|schreef|escribió|escribio|escreveu|ha scritto|"
    r"skrev|kirjoitti|napisał\(a\)|napisała|napisał|napisal|написал\(а\)|написала|написал|"
    r"napsal\(a\)|napsal|yazdı|έγραψε|írta|scrise|wrote on|escrit|a scris"
)
_ATTRIBUTION = re.compile(
    rf"(?:^|\s|>)(?:{_WROTE})(?:\s+[^:\n]{{0,80}})?\s*:?\s*$|"
    r"(?:の)?メッセージ:\s*$|書きました\s*[:：]?\s*$|来信\s*[:：]?\s*$",
    re.IGNORECASE,
)
# An attribution that wraps over lines starts with one of these words, or a date.
_ATTRIBUTION_START = re.compile(
    r"^\s*(?:(?:on|le|am|el|op|em|il|den|dne|w dniu|в)\b|\d|(?:mon|tue|wed|thu|fri|sat|sun)\w*,)",
    re.IGNORECASE,
)
# "30.09.2017, 18.30, "John" <john@example.com>:" — a date, then the sender and a colon.
_DATED_SENDER = re.compile(r"\d.{0,200}[\w.+-]+@[\w.-]+>?\s*[:：]\s*$")
_ORIGINAL_MESSAGE = re.compile(
    r"^\s*[-=_*]{2,}\s*(?:original message|original-nachricht|ursprüngliche nachricht|"
    r"message d'origine|message original|mensaje original|mensagem original|"
    r"messaggio originale|oorspronkelijk bericht|origineel bericht|oprindelig meddelelse|"
    r"opprinnelig melding|ursprungligt meddelande|alkuperäinen viesti|"
    r"wiadomość oryginalna|исходное сообщение|forwarded message|weitergeleitete nachricht|"
    r"message transféré|mensaje reenviado|mensagem encaminhada|doorgestuurd bericht|"
    r"oprindelig besked|opprinnelig melding|reply message|original)\s*[-=_*]{2,}\s*$",
    re.IGNORECASE,
)
_RULE = re.compile(r"^\s*(?:_{16,}|-{16,}|—{8,})\s*$")
# Labels of a quoted header block, as Outlook and webmails write them.
_FROM_LABEL = (
    r"from|von|de|van|da|od|fra|från|lähettäjä|от|kimden|feladó|expéditeur|remitente|"
    r"afzender|absender|寄件者|发件人|差出人|보낸 사람"
)
_OTHER_LABEL = (
    r"sent|date|to|cc|subject|gesendet|datum|an|betreff|envoyé|envoye|à|objet|enviado|"
    r"enviada|fecha|para|asunto|assunto|verzonden|aan|onderwerp|inviato|data|a|oggetto|"
    r"wysłano|do|temat|sendt|til|emne|skickat|till|ämne|lähetetty|vastaanottaja|aihe|"
    r"отправлено|кому|тема|dátum|tárgy|címzett|gönderildi|konu|kime|"
    r"件名|送信日時|宛先|主题|日期|收件人|발송"
)
_HEADER_FIELD = re.compile(
    rf"^\s*(?:>\s*)*[*_]{{0,2}}(?P<label>{_FROM_LABEL}|{_OTHER_LABEL})\s*[*_]{{0,2}}\s*[:：]"
    r"[*_]{0,2}\s*\S",
    re.IGNORECASE,
)
_FROM_FIELD = re.compile(
    rf"^\s*(?:>\s*)*[*_]{{0,2}}(?:{_FROM_LABEL})\s*[*_]{{0,2}}\s*[:：]", re.IGNORECASE
)
_SIG_DELIMITER = re.compile(r"^(?:--|-- |—|__)\s*$")
_MOBILE = re.compile(
    r"^\s*(?:sent|envoyé|envoye|enviado|verzonden|gesendet|inviato|wysłano|skickat|sendt|"
    r"von meinem|get outlook|obtenir outlook|télécharger outlook|outlook voor|sent using|"
    r"sent via|sent with|enviado desde|enviado do|envoyé de|envoyé depuis|envoyé à partir)"
    r"\b.{0,80}$",
    re.IGNORECASE,
)
_SENT_FROM_MY = re.compile(
    r"^(?:sent from my|envoyé de mon|envoyé depuis mon|enviado desde mi|von meinem|"
    r"verzonden (?:vanaf|met) mijn|enviado do meu|inviato da(?:l mio)?|wysłane z)\b",
    re.IGNORECASE,
)
_MOBILE_WORDS = re.compile(
    r"iphone|ipad|android|blackberry|mobile|phone|galaxy|samsung|outlook|mail|sparrow|"
    r"device|gerät|appareil|dispositivo|móvil|celular|handy|smartphone|pixel|huawei|"
    r"spark|superhuman|proton|yahoo|gmail|aol|xiaomi",
    re.IGNORECASE,
)
_SIGN_OFF = re.compile(
    r"^\s*(?:(?:best|kind|warm|warmest|many|with)?\s*(?:regards|wishes)|best|cheers|thanks|"
    r"thank you|thanks again|many thanks|thx|ta|sincerely|yours(?: sincerely| truly)?|"
    r"cordially|talk soon|take care|all the best|bye|ciao|"
    r"(?:mit )?(?:freundlichen|besten|liebe|viele|herzliche) grüße|mfg|lg|vg|gruß|grüße|"
    r"danke|vielen dank|cordialement|bien cordialement|bien à vous|amicalement|merci|"
    r"salutations|saludos|un saludo|atentamente|gracias|muchas gracias|"
    r"(?:met )?vriendelijke groet(?:en)?|groeten|groet|mvg|bedankt|"
    r"atenciosamente|abraços|abraço|obrigado|obrigada|cumprimentos|"
    r"cordiali saluti|saluti|grazie|pozdrawiam|med vennlig hilsen|mvh|"
    r"med venlig hilsen|vennlig hilsen|venlig hilsen|hilsen|mvh|med vänliga hälsningar|"
    r"vänliga hälsningar|hälsningar|ystävällisin terveisin|terveisin|с уважением)"
    r"\s*[,.!]*\s*$",
    re.IGNORECASE,
)
_DISCLAIMER = re.compile(
    r"^\s*(?:\**\s*)?(?:confidentiality notice|disclaimer|this e-?mail (?:message )?"
    r"(?:and any|is confidential|may contain|contains|is intended)|"
    r"the information (?:contained )?in this (?:e-?mail|message)|"
    r"this message (?:and any attachments )?(?:is|may be) (?:confidential|intended)|"
    r"diese e-?mail (?:enthält|ist)|ce message (?:et|est)|este (?:correo|mensaje|e-mail)"
    r" (?:y|es|contiene)|dit bericht is|esta mensagem|please consider the environment)",
    re.IGNORECASE,
)
_BANNER = re.compile(
    r"^\s*\[?(?:caution|external|warning|attention)\b.{0,40}"
    r"(?:outside|external|extern)|^\s*\[?external\]?\s*$|^\s*external email\b",
    re.IGNORECASE,
)
_MAX_SIGNATURE_LINES = 8


def extract_new_text(text: str) -> str:
    """The new text of a reply body: what its writer typed, without quote or signature."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ").split("\n")
    lines = _without_quote(lines)
    lines = _drop_banner(lines)
    lines = _drop_signature(lines)
    return _tidy(lines)


def _without_quote(lines: list[str]) -> list[str]:
    """Lines above the quoted history, or below it when the reply is bottom-posted."""
    for _ in range(4):  # bottom posting may leave another quote below
        cut = _quote_start(lines)
        if cut is None:
            break
        start, end = cut
        above = [line for line in lines[:start] if not _quoted(line)]
        if any(line.strip() for line in above):
            lines = above
            break
        below = lines[end:]
        while below and (_quoted(below[0]) or not below[0].strip()):
            below = below[1:]
        lines = below
    return [line for line in lines if not _quoted(line)]


def _quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _quote_start(lines: list[str]) -> tuple[int, int] | None:
    """(first line, line after) of the first quote header, if any."""
    for index, line in enumerate(lines[:_MAX_LINES]):
        stripped = line.strip()
        if not stripped or stripped[0] == ">":
            continue
        if stripped[0] in _RULE_CHARS:
            if _ORIGINAL_MESSAGE.match(stripped):
                return index, _header_block_end(lines, index + 1)
            if _RULE.match(stripped) and _header_block_at(lines, index + 1):
                return index, _header_block_end(lines, index + 1)
        has_colon = ":" in stripped[:40] or "：" in stripped[:40]
        if has_colon and _header_block_at(lines, index):
            return _extend_back(lines, index), _header_block_end(lines, index)
        if not _may_attribute(lines, index):
            continue
        span = _attribution_at(lines, index)
        if span:
            nested = span > 1 and _ATTRIBUTION_START.match(lines[index + 1])
            later = _attribution_at(lines, index + 1) if nested else 0
            if later:  # "Am heutigen Tage" above "Am So., 1. Jan. … schrieb …:"
                return index + 1, index + 1 + later
            return index, index + span
    return None


_RULE_CHARS = frozenset("-=_*—")
_MAX_LINES = 3000  # the new text is above this, or there is no quote worth finding
_VERB_HINTS = ("wrote", "writes", "メッセージ", "書きました", "来信")


def _may_attribute(lines: list[str], index: int) -> bool:
    """A cheap test before the attribution rules: a colon or a "wrote" within three lines."""
    for line in lines[index : index + 3]:
        tail = line.rstrip()
        if tail.endswith((":", "：")) or any(hint in tail for hint in _VERB_HINTS):
            return True
    return False


def _attribution_at(lines: list[str], index: int) -> int:
    """How many lines an "On … wrote:" header starting here spans (0: none)."""
    first = lines[index].strip()
    if len(first) > 400:
        return 0
    wraps = bool(_ATTRIBUTION_START.match(first) or re.search(r"\d", first))
    joined = first
    for span in range(1, 4):
        if _ATTRIBUTION.search(joined) and _plausible_attribution(joined, span):
            return span
        dated = joined.endswith((":", "：")) and "@" in joined and len(joined) < 300
        if dated and _DATED_SENDER.search(joined):
            return span
        following = lines[index + span] if index + span < len(lines) else ""
        if not wraps or not following.strip() or _quoted(following):
            return 0
        joined = f"{joined} {following.strip()}"
    return 0


def _plausible_attribution(line: str, span: int) -> bool:
    """An attribution names a date or an address, and is not a sentence with "wrote"."""
    if line.endswith(":") or line.endswith("："):
        return bool(re.search(r"\d|@|<|\bon\b", line, re.IGNORECASE)) or len(line) < 120
    if span > 1:
        return False  # a header wrapped over lines ends with its colon
    return bool(re.search(r"\d{1,4}[./:-]\d{1,2}|@", line)) and len(line) < 300


def _extend_back(lines: list[str], index: int) -> int:
    """Take in a rule or a "Message du : <date>" line right above a header block."""
    start = index
    for back in range(index - 1, max(-1, index - 4), -1):
        line = lines[back].strip()
        if not line:
            continue
        if _PUNCTUATION_ONLY.match(line) or _SHORT_DATED_LABEL.match(line):
            start = back
            continue
        break
    return start


_PUNCTUATION_ONLY = re.compile(r"^[\W_]+$")
_SHORT_DATED_LABEL = re.compile(r"^[^\W\d][\w' ]{0,24}\s?[:：].{0,40}\d.{0,20}$")


def _header_block_at(lines: list[str], index: int) -> bool:
    """A From-like field with another header field within the next lines."""
    if index >= len(lines):
        return False
    if not _FROM_FIELD.match(lines[index]) and not _date_or_sent_first(lines[index]):
        return False
    fields = 1
    for line in lines[index + 1 : index + 6]:
        if not line.strip():
            continue
        if _HEADER_FIELD.match(line):
            fields += 1
        elif fields >= 2:
            break
    return fields >= 2 and any(_FROM_FIELD.match(line) for line in lines[index : index + 6])


def _date_or_sent_first(line: str) -> bool:
    match = _HEADER_FIELD.match(line)
    return match is not None and match.group("label").lower() in (
        "sent",
        "date",
        "subject",
        "datum",
    )


def _header_block_end(lines: list[str], index: int) -> int:
    end = index
    while end < len(lines) and (_HEADER_FIELD.match(lines[end]) or not lines[end].strip()):
        end += 1
        if end - index > 12:
            break
    return end


def _drop_banner(lines: list[str]) -> list[str]:
    """Drop an "external email" warning paragraph at the top."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or not _BANNER.match(lines[first]):
        return lines
    end = first
    while end < len(lines) and lines[end].strip():
        end += 1
    return lines[end:]


def _drop_signature(lines: list[str]) -> list[str]:
    content = [i for i, line in enumerate(lines) if line.strip()]
    if len(content) < 2:
        return lines
    last = len(content)
    for position, index in enumerate(content[1:], start=1):  # line 1 is never a signature
        stripped = lines[index].strip()
        size = len(stripped)
        if size > 120 and last - position > 40:
            continue
        first = stripped.split(maxsplit=1)[0].strip("*_").lower()
        tail = content[position + 1 :]
        if (
            size <= 3
            and _SIG_DELIMITER.match(lines[index])
            and len(tail) <= 2 * _MAX_SIGNATURE_LINES
        ):
            return lines[:index]
        if first in _DISCLAIMER_WORDS and _DISCLAIMER.match(stripped):
            return lines[:index]
        if (
            stripped[0] in _RULE_CHARS
            and _RULE.match(stripped)
            and len(tail) <= _MAX_SIGNATURE_LINES
        ):
            return lines[:index]  # a mailing list's footer below a rule
        if first in _MOBILE_WORDS_FIRST and size <= 100:
            mobile = _MOBILE_WORDS.search(stripped) or len(stripped.split()) <= 4
            if _MOBILE.match(stripped) and mobile and len(tail) <= 4:
                return lines[:index]
            if (
                _SENT_FROM_MY.match(stripped)
                and len(stripped.split()) <= 8
                and ", " not in stripped
            ):
                return lines[:index]
        if size <= 45 and _SIGN_OFF.match(stripped) and _short_tail(lines, tail):
            return lines[:index]
    return lines


_DISCLAIMER_WORDS = frozenset(
    ["confidentiality", "disclaimer", "this", "the", "diese", "ce", "este", "dit", "esta", "please"]
)
_MOBILE_WORDS_FIRST = frozenset(
    ("sent", "envoyé", "envoye", "enviado", "verzonden", "gesendet", "inviato", "wysłano",
     "wysłane", "skickat", "sendt", "von", "get", "obtenir", "télécharger", "outlook")
)  # fmt: skip


def _short_tail(lines: list[str], tail: list[int]) -> bool:
    """Only a name, title or contact lines follow a sign-off."""
    if len(tail) > _MAX_SIGNATURE_LINES:
        return False
    for index in tail:
        line = lines[index].strip()
        if len(line) > 60 or (line.endswith((".", "?", "!")) and len(line.split()) > 6):
            return False
    return True


def _tidy(lines: list[str]) -> str:
    text = "\n".join(line.rstrip() for line in lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()
