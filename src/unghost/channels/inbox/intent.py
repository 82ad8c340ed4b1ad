"""The intent of a reply's new text, by transparent weighted rules.

Each intent has patterns with weights (the data just below); a text scores the sum of
the weights of the patterns it matches, and the best score wins. Unsubscribe wording,
in any of the supported languages, always wins. Confidence grows with the winning score
and with its margin over the runner-up. Accuracy on the hand-labelled set is in
README.md in this folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Intent = Literal[
    "interested",
    "meeting",
    "not_now",
    "not_interested",
    "unsubscribe",
    "referral",
    "question",
    "personal",
    "other",
]

# --- the rules: (pattern, weight) per intent --------------------------------------------

UNSUBSCRIBE: tuple[str, ...] = (
    r"\bremove me\b",
    r"\bremove (?:my (?:e-?mail|address|name)|us) from\b",
    r"\btake (?:me|us|my (?:e-?mail|address|name)) off\b",
    r"\bstop (?:e-?mailing|mailing|sending|contacting|writing to|spamming|messaging)\b",
    r"\bunsubscribe(?: me)?\b",
    r"\bopt(?:-| )?(?:me )?out\b",
    r"\b(?:do not|don't|dont|never) (?:contact|e-?mail|email|message|write to) (?:me|us)\b",
    r"\bno more (?:e-?mails|emails|messages)\b",
    r"\bbitte keine (?:e-?mails|mails|nachrichten|werbung) mehr\b",
    r"\b(?:abmelden|austragen|abbestellen)\b",
    r"\bd[ée]sabonner\b|\bd[ée]sinscri(?:re|vez|ption)\b|\bne plus (?:recevoir|me contacter)\b",
    r"\bme retirer de (?:votre|vos) (?:liste|fichier)",
    r"\bdar(?:se|me)? de baja\b|\bno me (?:envíe|envíen|envies|escriba|escriban|contacte)",
    r"\bafmelden\b|\buitschrijven\b|\bgeen (?:e-?mails|mails|berichten) meer\b",
    r"\bdescadastr(?:ar|e|em)\b|\bn[ãa]o (?:quero|desejo) (?:mais )?receber\b",
    r"\bparem? de (?:enviar|me enviar)\b|\bcancelar (?:a )?inscri[çc][ãa]o\b",
)

# Each rule: (pattern, weight, triggers). A rule is tried only when one of its triggers
# ("|"-separated) occurs in the lower-cased text: a substring test is a hundred times
# cheaper than a regular expression, and most rules never apply to a given reply.
Rule = tuple[str, float, str]
_DAYS = "monday tuesday wednesday thursday friday tomorrow"
RULES: dict[Intent, tuple[Rule, ...]] = {
    "meeting": (
        (
            r"\b(?:let's|lets|let us|happy to|glad to|can we|could we|shall we) (?:meet|talk|chat|"
            r"speak|connect|hop on|jump on|get on|set up|schedule|book)\b",
            1.2,
            "let|happy to|glad to|can we|could we|shall we",
        ),
        (
            r"\b(?:a |quick |short )?(?:call|meeting|chat|demo|zoom|teams call|meet) "
            rf"(?:on|at|next|this|{_DAYS.replace(' ', '|')})\b",
            1.0,
            "call|meet|chat|demo|zoom",
        ),
        (
            r"\bhow about (?:monday|tuesday|wednesday|thursday|friday|tomorrow|next|\d)",
            1.5,
            "how about",
        ),
        (
            r"\b(?:does|would|will) (?:monday|tuesday|wednesday|thursday|friday|tomorrow|"
            r"next \w+|\d{1,2}(?::\d\d)?\s*(?:am|pm)?)\b[^.?!]{0,30}\bwork",
            1.5,
            "work",
        ),
        (r"\b(?:that |this |it )?works for (?:me|us)\b", 1.0, "works for"),
        (
            r"\b(?:i'm|i am|we're|we are) (?:free|available) (?:on|at|from|between|any)\b",
            1.3,
            "free|available",
        ),
        (
            r"\b(?:send|sent) (?:me |us |you )?(?:an? |the )?(?:calendar )?invit(?:e|ation)\b",
            1.3,
            "invit",
        ),
        (
            r"\b(?:book|grab|pick) (?:a |some )?(?:time|slot)\b|\bcalendly\b",
            1.2,
            "book|grab|pick|calendly",
        ),
        (rf"\bsee you (?:on|at|then|{_DAYS.replace(' ', '|')})\b", 1.3, "see you"),
        (r"\b\d{1,2}(?::\d\d)?\s?(?:am|pm)\b|\b\d{1,2}:\d\d\b", 0.4, "am|pm|:"),
        (r"\b(?:i'll|i will) be there\b", 1.0, "be there"),
        (
            r"\btermin\b|\brendez-vous\b|\breunión\b|\bafspraak\b|\breunião\b|\btelefonat\b|"
            r"\bappel\b|\bllamada\b|\bsamtal\b|\bchamada\b",
            0.8,
            "termin|rendez|reuni|afspraak|telefonat|appel|llamada|samtal|chamada",
        ),
    ),
    "interested": (
        (
            r"\b(?:sounds|looks|seems) (?:good|great|interesting|promising|amazing|awesome)\b",
            0.9,
            "sounds|looks|seems",
        ),
        (r"\b(?:i'm|i am|we're|we are|very|definitely) interested\b", 1.5, "interested"),
        (r"\btell me more\b|\blearn more\b|\bhear more\b", 1.2, "more"),
        (
            r"\bsend (?:me |us |over )?(?:more )?(?:info|information|details|the proposal|"
            r"a proposal|pricing|a quote|the deck)\b",
            1.3,
            "send",
        ),
        (r"\blet's (?:do it|move forward|proceed|go ahead|get started)\b", 1.5, "let's"),
        (
            r"\b(?:we'd|we would|i'd|i would) (?:like|love) to (?:proceed|move forward|go ahead|"
            r"try|learn|hear|see)\b",
            1.3,
            "like to|love to",
        ),
        (r"\bcount (?:me|us) in\b|\byes,? please\b|\bsign (?:me|us) up\b", 1.4, "count|yes|sign"),
        (
            r"\b(?:that's|that is|it's|it is) (?:great|amazing|exciting)\b",
            0.6,
            "great|amazing|exciting",
        ),
        (
            r"\b(?:would|that'd|that would|it'd) be (?:great|awesome|perfect|helpful|amazing)\b",
            0.9,
            "be great|be awesome|be perfect|be helpful|be amazing",
        ),
        (
            r"\bgive it a (?:try|go|shot)\b|\bgoing for a test\b|\btry it out\b|\bwe'll try\b",
            1.0,
            "give it|going for|try it|we'll try",
        ),
        (r"\bcan (?:we|i) (?:get|order|buy|have)\b", 0.9, "can we|can i"),
        (
            r"\bklingt gut\b|\bça me va\b|\bsuena bien\b|\bklinkt goed\b|\bparece bom\b|"
            r"\blyder godt\b|\blåter bra\b",
            0.9,
            "klingt|ça me va|suena|klinkt|parece|lyder|låter",
        ),
        (
            r"\binteressiert\b|\bintéressée?s?\b|\binteresad[oa]s?\b|\bgeïnteresseerd\b|"
            r"\binteressad[oa]s?\b",
            1.2,
            "interess|intéress|interesad|geïnteresseerd",
        ),
    ),
    "not_now": (
        (r"\bnot (?:right )?now\b|\bnot at (?:this|the) (?:moment|time|point)\b", 1.5, "not "),
        (r"\b(?:maybe|perhaps) (?:later|next|in|after)\b", 1.2, "maybe|perhaps"),
        (
            r"\b(?:reach|circle|check|touch|get) (?:back|base)(?: with me| with us| out)?\s+"
            r"(?:in|after|next|around|early|mid|late|at the|once)\b",
            1.6,
            "back|base",
        ),
        (
            r"\b(?:follow up|reconnect|revisit|talk|try (?:me|us|again)|ping (?:me|us)|"
            r"contact (?:me|us)|ask (?:me|us)|come back) (?:again )?(?:in|after|next|around|"
            r"early|mid|late|once)\b",
            1.4,
            "follow|reconnect|revisit|talk|try|ping|contact|ask|come",
        ),
        (
            r"\b(?:no|not enough) (?:budget|bandwidth|capacity|time)\b",
            1.2,
            "budget|bandwidth|capacity|time",
        ),
        (
            r"\b(?:bad|wrong|not the right|not great) timing\b|\btiming (?:is|isn't) "
            r"(?:not )?(?:right|ideal|great)\b",
            1.5,
            "timing",
        ),
        (r"\btoo busy\b|\bswamped\b|\bslammed\b", 1.0, "busy|swamped|slammed"),
        (
            r"\b(?:next|this coming) (?:quarter|year|month)\b|\bin q[1-4]\b|"
            r"\bafter the (?:holidays|new year|summer)\b|\bin the new year\b",
            0.8,
            "quarter|year|month|q1|q2|q3|q4|holidays|summer",
        ),
        (
            r"\bon hold\b|\bnot a priority\b|\blater (?:this|in the) year\b",
            1.2,
            "hold|priority|later",
        ),
        (
            r"\b(?:have|got) a contract (?:till|until)\b|\bkeep in touch\b",
            1.2,
            "contract|keep in touch",
        ),
        (
            r"\bim moment nicht\b|\bpas pour le moment\b|\bpor ahora no\b|\bop dit moment niet\b|"
            r"\bno momento não\b|\bspäter\b|\bplus tard\b|\bmás adelante\b|\blater\b",
            0.7,
            "moment|ahora|später|tard|adelante|later",
        ),
    ),
    "not_interested": (
        (
            r"\bnot interested\b|\bno interest\b|\bnicht interessiert\b|\bkein interesse\b|"
            r"\bpas intéressée?s?\b|\bno (?:estoy|estamos) interesad|\bgeen interesse\b|"
            r"\bn[ãa]o (?:tenho|temos) interesse\b",
            2.0,
            "interes|intéress",
        ),
        (
            r"\bno,? thanks?\b|\bno,? thank you\b|\bthanks,? but no\b",
            1.5,
            "no thank|no, thank|but no",
        ),
        (
            r"\b(?:we're|we are|i'm|i am) (?:all )?(?:set|good|covered|happy with)\b",
            1.2,
            "set|good|covered|happy with",
        ),
        (
            r"\b(?:we |i )?(?:already )?(?:have|use|work with|chose|went with) (?:a|an|another|"
            r"our own|an existing) (?:solution|provider|vendor|partner|agency|tool|supplier)\b",
            1.5,
            "solution|provider|vendor|partner|agency|tool|supplier",
        ),
        (
            r"\bnot (?:a (?:good )?fit|for us|relevant)\b|\bno need\b|\bwe(?:'ll| will) pass\b|"
            r"\bpass on this\b",
            1.5,
            "not a|not for|not relevant|no need|pass",
        ),
        (
            r"\b(?:don't|do not) (?:bother|follow up|need)\b|\bnot looking\b",
            1.3,
            "bother|follow up|need|looking",
        ),
        (r"\bdecided (?:to go|against|not to)\b", 1.2, "decided"),
    ),
    "referral": (
        (
            r"\b(?:you should|please|better to|best to|you might want to|you may want to|"
            r"you'd better) (?:contact|reach out to|talk to|speak (?:to|with)|email|e-mail|"
            r"ask|get in touch with)\b",
            1.5,
            "contact|reach out|talk to|speak|mail|ask|touch",
        ),
        (r"\b(?:i've |i have |i )?(?:cc'd|cc'ed|cced|copied|looped in)\b", 1.0, "cc|copied|looped"),
        (
            r"\b(?:right|best|better|correct|appropriate) (?:person|contact|people)\b",
            1.5,
            "person|contact|people",
        ),
        (
            r"\b(?:handles|manages|is in charge of|is responsible for|owns|looks after) "
            r"(?:this|that|these|our|all)\b",
            1.2,
            "handles|manages|charge|responsible|owns|looks after",
        ),
        (
            r"\b(?:i'm|i am) (?:no longer|not) (?:the right|responsible|in charge|with|at)\b|"
            r"\bno longer (?:with|at|work)\b|\bhas left\b",
            1.4,
            "no longer|not the|not responsible|not in charge|not with|not at|has left",
        ),
        (
            r"\bforward(?:ed|ing)? (?:this|your (?:e-?mail|message|note)) to\b|"
            r"\bpass(?:ed|ing)? (?:this|you|it) (?:along|on) to\b",
            1.5,
            "forward|pass",
        ),
        (
            r"\bwenden sie sich an\b|\bcontactez\b|\bpóngase en contacto con\b|"
            r"\bneem contact op met\b|\bentre em contato com\b",
            1.3,
            "wenden|contact",
        ),
        (r"[\w.+-]+@[\w-]+\.[\w.]+", 0.4, "@"),
    ),
    "question": (
        (r"\?", 0.6, "?"),
        (
            r"^(?:what|how|when|where|why|who|which|can|could|do|does|is|are|would|will|should)"
            r"\b[^.!\n]{3,}\?",
            0.3,
            "?",
        ),
        (
            r"\b(?:can|could) you (?:help|check|tell|explain|clarify|send|advise)\b",
            0.6,
            "can you|could you",
        ),
        (r"\bone (?:outstanding )?question\b|\bquick question\b", 0.6, "question"),
        (
            r"\b(?:please|could you|can you)(?: please)? "
            r"(?:check|advise|confirm|let me know|help)\b",
            0.7,
            "please|could you|can you",
        ),
        # Small talk is no question to answer: it takes back the question mark's weight.
        (
            r"\bhow are you(?: doing)?\s*\?|\bjak się masz\?|\bwie geht'?s\b|\bcomment ça va\b",
            -0.6,
            "how are you|jak się|wie geht|comment ça",
        ),
    ),
    "personal": (
        (
            r"\b(?:i'm|i am|i've been|i have been|i was|been) (?:sick|ill|unwell|in (?:the )?"
            r"hospital|recovering)\b",
            2.0,
            "sick|ill|unwell|hospital|recovering",
        ),
        (
            r"\b(?:family|personal|medical) (?:emergency|matters?|reasons|issues?|situation)\b",
            2.0,
            "family|personal|medical",
        ),
        (
            r"\b(?:my|our) (?:father|mother|dad|mum|mom|wife|husband|partner|son|daughter|child|"
            r"kids?|baby|family)\b[^.]{0,40}\b(?:is|was|passed|died|has been|had|born|sick|ill)",
            1.6,
            "father|mother|dad|mum|mom|wife|husband|partner|son|daughter|child|kid|baby|family",
        ),
        (
            r"\b(?:maternity|paternity|parental|medical|sick|bereavement) leave\b|\bpassed away\b|"
            r"\bfuneral\b|\bsurgery\b|\bnew baby\b|\bwedding\b|\bhoneymoon\b",
            2.0,
            "leave|passed|funeral|surgery|baby|wedding|honeymoon",
        ),
        (
            r"\b(?:i'm|i am|i'll be|i will be) (?:traveling|travelling|on vacation|on holiday|"
            r"away|abroad|on the road)\b",
            1.2,
            "travel|vacation|holiday|away|abroad|road",
        ),
    ),
}
PRIORITY: tuple[Intent, ...] = (
    "meeting",
    "referral",
    "not_now",
    "not_interested",
    "personal",
    "interested",
    "question",
)
# Mailing-list footers mention "unsubscribe" without anyone asking to be removed.
_FOOTER = re.compile(
    r"to unsubscribe|unsubscribe from this|you (?:are )?receiv(?:ed|ing) this|"
    r"manage (?:your )?(?:subscription|preferences)|[\w.+-]*unsubscribe[\w.+-]*@|"
    r"https?://\S*unsubscribe",
    re.IGNORECASE,
)

_UNSUBSCRIBE_RE = re.compile("|".join(UNSUBSCRIBE))
_UNSUBSCRIBE_TRIGGERS = (
    "remove", "take", "stop", "subscri", "opt", "contact", "mail", "message", "write",
    "keine", "abmelden", "austragen", "abbestellen", "abonner", "inscri", "recevoir", "retirer",
    "baja", "envíe", "envie", "escrib", "afmelden", "uitschrijven", "geen", "descadastr",
    "receber", "enviar",
)  # fmt: skip
_COMPILED: tuple[tuple[Intent, re.Pattern[str], float, frozenset[str]], ...] = tuple(
    (intent, re.compile(pattern, re.MULTILINE), weight, frozenset(triggers.split("|")))
    for intent, rules in RULES.items()
    for pattern, weight, triggers in rules
)
_TRIGGERS = tuple(sorted({word for *_, triggers in _COMPILED for word in triggers}))
_OTHER_CONFIDENCE = 0.5
_MIN_SCORE = 0.55
_MAX_CHARS = 3000  # a reply says what it wants early


@dataclass(frozen=True)
class IntentResult:
    """An intent, its confidence (0..1), and whether the text asks to unsubscribe."""

    intent: Intent
    confidence: float
    unsubscribe: bool


def asks_to_unsubscribe(text: str) -> bool:
    """Whether the text asks to be removed from the mailing, in any supported language."""
    lower = text[:_MAX_CHARS].lower()
    if not any(word in lower for word in _UNSUBSCRIBE_TRIGGERS):
        return False
    if not _UNSUBSCRIBE_RE.search(lower):
        return False
    lines = [line for line in lower.splitlines() if not _FOOTER.search(line)]
    return bool(_UNSUBSCRIBE_RE.search("\n".join(lines)))


def scores(text: str) -> dict[Intent, float]:
    """Each intent's summed rule weights for a text (intents with no match left out)."""
    lower = text[:_MAX_CHARS].lower()
    present = {word for word in _TRIGGERS if word in lower}
    found: dict[Intent, float] = {}
    for intent, pattern, weight, triggers in _COMPILED:
        if present.isdisjoint(triggers):
            continue
        hits = len(pattern.findall(lower))
        if hits:
            found[intent] = found.get(intent, 0.0) + weight * min(hits, 2)
    return found


def classify(text: str) -> IntentResult:
    """The intent of a reply's new text, with a confidence."""
    if asks_to_unsubscribe(text):
        return IntentResult("unsubscribe", 0.97, True)
    found = scores(text)
    if not found:
        return IntentResult("other", _OTHER_CONFIDENCE, False)
    ranked = sorted(found.items(), key=lambda kv: (-kv[1], PRIORITY.index(kv[0])))
    best_intent, best = ranked[0]
    if best < _MIN_SCORE:
        return IntentResult("other", _OTHER_CONFIDENCE, False)
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    strength = min(best, 3.0) / 3.0
    margin = (best - runner_up) / best
    confidence = round(min(0.95, 0.45 + 0.3 * strength + 0.2 * margin), 2)
    return IntentResult(best_intent, confidence, False)
