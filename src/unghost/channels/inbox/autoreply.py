"""Auto-replies: out-of-office notices and other machine answers (RFC 3834).

An auto-reply is never a reply from the prospect and never an unsubscribe (PRODUCT §5).
It is `"out_of_office"` when it says the person is away (in English, German, French,
Spanish, Dutch or Portuguese), else `"other"` (ticket acknowledgements, "we received
your message"). The return date it names pauses the deal.

Evidence, strongest first: RFC 3834 `Auto-Submitted` (anything but "no"), the
`X-Autoreply`/`X-Autorespond` family, `Precedence: auto_reply`; then a vacation
subject; then the body. `Precedence: bulk|junk` makes a message automatic but never
by itself an out-of-office; `Precedence: list` is a mailing list, which people answer
through. A body alone must carry two vacation signals (or one unmistakable
"this is an automatic reply"), so a person who writes "I'm out next week" is not taken
for a machine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from unghost.channels.inbox import dates
from unghost.channels.inbox.message import InboundMessage

AutoReplyKind = Literal["out_of_office", "other"]


@dataclass(frozen=True)
class AutoReply:
    """What kind of auto-reply, and the return date it names (if any)."""

    kind: AutoReplyKind
    return_date: date | None


_AUTO_HEADERS = (
    "x-autoreply",
    "x-autorespond",
    "x-autoresponder",
    "x-autorespond-from",
    "x-autoreply-from",
    "x-mail-autoreply",
    "x-auto-reply",
    "x-fc-machinegenerated",
)
_VACATION_SUBJECT = re.compile(
    r"out of (?:the )?office|\booo\b|automatic reply|auto(?:matic)?[- ]?re(?:ply|sponse)|"
    r"away from (?:the )?office|on vacation|on holiday|on leave|vacation reply|"
    r"abwesenheit|nicht im büro|nicht im buero|automatische antwort|"
    r"réponse automatique|reponse automatique|absence|absent\b|en congés?|"
    r"respuesta automática|respuesta automatica|fuera de (?:la )?oficina|ausencia|"
    r"automatisch antwoord|afwezig|niet aanwezig|buiten kantoor|"
    r"resposta automática|resposta automatica|ausente|fora do escritório|fora do escritorio|"
    r"férias|ferias|vacaciones|vakantie|urlaub|congé",
    re.IGNORECASE,
)
_AUTOMATIC_SUBJECT = re.compile(
    r"auto(?:matic)?[- ]?(?:reply|response|acknowledg)|\[?ticket\b|request received|"
    r"we(?:'ve| have) received|thank you for (?:contacting|your (?:e-?mail|message))|"
    r"automatische antwort|réponse automatique|respuesta automática|automatisch antwoord|"
    r"resposta automática|eingangsbestätigung|accusé de réception",
    re.IGNORECASE,
)
# Vacation signals in a body: each pattern counts once.
_VACATION_BODY = (
    re.compile(
        r"\b(?:i am|i'm|i will be|i'll be|i'm currently|i am currently)\s+(?:currently\s+)?"
        r"(?:out of (?:the )?office|away|on (?:annual |parental |maternity |sick )?leave|"
        r"on (?:vacation|holiday|holidays|a business trip)|travel(?:l)?ing|off)\b",
        re.IGNORECASE,
    ),
    re.compile(r"out of (?:the )?office|\booo\b", re.IGNORECASE),
    re.compile(
        r"(?:limited|no|without|intermittent|restricted) access to (?:my )?e-?mail", re.IGNORECASE
    ),
    re.compile(
        r"(?:reply|respond|get back to you|answer)[\w\s,]{0,40}(?:upon|on|when|after)\s+"
        r"(?:i|my)\s+(?:return|am back|get back)",
        re.IGNORECASE,
    ),
    re.compile(
        r"(?:for|in case of) (?:urgent|immediate) (?:matters|enquiries|inquiries|requests|"
        r"issues|questions|assistance)|if (?:your matter is|this is|it is) urgent|"
        r"in dringenden fällen|in dringenden faellen|bei dringenden anliegen|"
        r"pour toute (?:urgence|demande urgente)|en cas d'urgence|"
        r"para (?:asuntos|temas|casos) urgentes|en caso de urgencia|"
        r"voor dringende (?:zaken|vragen)|in dringende gevallen|"
        r"em caso de urgência|em caso de urgencia|para assuntos urgentes",
        re.IGNORECASE,
    ),
    re.compile(
        r"ich bin (?:derzeit |zurzeit |momentan |bis )?[\w\s.,]{0,40}"
        r"(?:nicht im büro|nicht im buero|abwesend|im urlaub|außer haus|ausser haus)|"
        r"abwesenheitsnotiz|bin (?:ab|am) [\w\s.]{0,30}wieder (?:im büro|erreichbar|da)",
        re.IGNORECASE,
    ),
    re.compile(
        r"je suis (?:actuellement )?(?:absente?|en congés?|en vacances|en déplacement)|"
        r"je serai de retour|de retour (?:le|au bureau|à partir)",
        re.IGNORECASE,
    ),
    re.compile(
        r"(?:estoy|estaré) (?:actualmente )?(?:fuera de (?:la )?oficina|de vacaciones|ausente)|"
        r"estaré de regreso|regresaré el|volveré el|de vuelta el",
        re.IGNORECASE,
    ),
    re.compile(
        r"ik ben (?:momenteel |tot en met |t/m |tot )?[\w\s.]{0,30}"
        r"(?:afwezig|niet aanwezig|op vakantie|niet op kantoor)|ben (?:weer )?terug op|"
        r"weer aanwezig",
        re.IGNORECASE,
    ),
    re.compile(
        r"(?:estou|estarei) (?:atualmente )?(?:ausente|fora do escritório|fora do escritorio|"
        r"de férias|de ferias)|retorno (?:em|no dia)|estarei de volta",
        re.IGNORECASE,
    ),
)
_AUTOMATIC_BODY = re.compile(
    r"this is an? (?:automatic|automated|auto-generated)(?: \w+)? (?:reply|response|message|"
    r"notification|e-?mail)|this (?:e-?mail|message) (?:was|has been|is) "
    r"(?:sent|generated) automatically|dies ist eine automatische|"
    r"ceci est (?:une réponse|un message) automatique|esta es una respuesta automática|"
    r"dit is een automatisch|esta é uma resposta automática|esta e uma resposta automatica",
    re.IGNORECASE,
)
_TICKET_BODY = re.compile(
    r"(?:your|a) (?:support )?(?:ticket|request|case)(?: number| id| #)?\s*(?:#|no\.?)?\s*\d+|"
    r"we (?:have|'ve) received your (?:e-?mail|message|request|enquiry|inquiry)|"
    r"please do not reply to this (?:e-?mail|message)",
    re.IGNORECASE,
)
_NOREPLY_SENDER = re.compile(
    r"^(?:no-?reply|do-?not-?reply|donotreply|autoreply|auto-reply)", re.IGNORECASE
)
# Words after which the return date follows: "back on", "de retour le", "zurück am"…
_RETURN_CUE = re.compile(
    r"\b(?:back|return(?:ing)?|returns|be in the office|in the office again|"
    r"zurück|zurueck|wieder|retour|de retour|reviendrai|regreso|regresaré|regresare|"
    r"de vuelta|volveré|volvere|terug|weer aanwezig|weer op kantoor|retorno|regresso|"
    r"de volta|volto|voltarei)\b",
    re.IGNORECASE,
)
_UNTIL_CUE = re.compile(
    r"\b(?:until|till|til|through|thru|bis(?: zum| einschließlich)?|jusqu'?au|jusqu'à|"
    r"hasta(?: el)?|tot en met|t/m|tot|até(?: o dia)?|ab)\b",
    re.IGNORECASE,
)
_CUE_WINDOW = 60
_MAX_CHARS = 3000
# One of these is in every body that the vacation and automatic-reply patterns match.
_BODY_GATE = (
    "office", "away", "leave", "vacation", "holiday", "travel", "access", "return", "back",
    "urgen", "dringend", "abwesen", "urlaub", "absent", "cong", "retour", "vacacion", "oficina",
    "ausente", "regres", "volver", "vuelta", "afwezig", "vakantie", "terug", "aanwezig",
    "féria", "feria", "escrit", "retorno", "volta", "ooo", "büro", "buero", "haus", "automat",
    "off", "estou", "estarei", "estoy", "estaré", "ik ben", "je suis", "je serai", "ich bin",
    "bin ab", "bin am",
)  # fmt: skip


def detect_auto_reply(message: InboundMessage, new_text: str, ref: date) -> AutoReply | None:
    """The auto-reply this message is, or None when a person wrote it.

    `ref` resolves the return date when the message has no Date header.
    """
    text = f"{message.subject}\n{new_text}"
    vacation_subject = bool(_VACATION_SUBJECT.search(message.subject))
    head = new_text[:_MAX_CHARS]
    lower = head.lower()
    body_signals = 0
    automatic_body = False
    if any(word in lower for word in _BODY_GATE):
        body_signals = sum(1 for pattern in _VACATION_BODY if pattern.search(head))
        automatic_body = bool(_AUTOMATIC_BODY.search(head))
    by_headers = _automatic_by_headers(message)
    bulk = message.header("precedence").lower().strip() in ("bulk", "junk")
    sender = message.sender.address if message.sender else ""

    if by_headers or bulk or _NOREPLY_SENDER.match(sender):
        # A machine that says when someone is back is an out-of-office ("Back Monday 12/7").
        names_return = _RETURN_CUE.search(head) is not None and bool(
            dates.find(head, message.date.date() if message.date else ref)
        )
        vacation = vacation_subject or body_signals >= 1 or names_return
        if bulk and not by_headers and not vacation:
            return AutoReply("other", None)
        return _result(vacation, text, message, ref)
    if vacation_subject and (body_signals >= 1 or automatic_body or _is_auto_subject(message)):
        return _result(True, text, message, ref)
    if body_signals >= 2 or (automatic_body and body_signals >= 1):
        return _result(True, text, message, ref)
    if automatic_body or (
        _AUTOMATIC_SUBJECT.search(message.subject) and _TICKET_BODY.search(new_text)
    ):
        return _result(False, text, message, ref)
    return None


def _is_auto_subject(message: InboundMessage) -> bool:
    return bool(
        re.match(
            r"^\s*(?:automatic reply|auto(?:matic)?[- ]?reply|out of (?:the )?office"
            r"|abwesenheitsnotiz|automatische antwort|réponse automatique|"
            r"respuesta automática|automatisch antwoord|resposta automática)",
            message.subject,
            re.IGNORECASE,
        )
    )


def _automatic_by_headers(message: InboundMessage) -> bool:
    auto_submitted = message.header("auto-submitted").lower().strip()
    if auto_submitted and not auto_submitted.startswith("no"):
        return True
    if any(message.header(name) for name in _AUTO_HEADERS):
        return True
    precedence = message.header("precedence").lower().strip()
    if precedence in ("auto_reply", "auto-reply"):
        return True
    suppress = message.header("x-auto-response-suppress").lower()
    # Exchange marks its own auto-replies "All"/"OOF"; a hint only with a vacation subject.
    return bool(suppress) and _is_auto_subject(message)


def _result(vacation: bool, text: str, message: InboundMessage, ref: date) -> AutoReply:
    if not vacation:
        return AutoReply("other", None)
    day = message.date.date() if message.date else ref
    return AutoReply("out_of_office", return_date(text, day))


def return_date(text: str, ref: date) -> date | None:
    """The date an out-of-office message says its writer is back, resolved against ref."""
    found = [item for item in dates.find(text, ref) if item.day >= ref]
    if not found:
        return None
    for cue_pattern in (_RETURN_CUE, _UNTIL_CUE):
        for cue in cue_pattern.finditer(text):
            near = [f for f in found if cue.end() <= f.start <= cue.end() + _CUE_WINDOW]
            if near:
                exact = [f for f in near if f.exact]
                return (exact or near)[0].day
    return max(item.day for item in found)
