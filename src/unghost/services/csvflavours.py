"""The CSV exports unghost reads, told apart by their header row.

Each flavour lists, for every workspace field, the headers its vendor writes
for it, most trusted first (a row's value is the first non-empty one). Header
names are compared folded (`csvvalues.fold`): "  first NAME " is "first name".

The headers are those of the vendors' own exports: HubSpot's contact and deal
exports ("Record ID", "Deal Stage", "Associated Contact IDs"…), Pipedrive's
`Entity - Field` columns ("Person - Email - Work", "Deal - Status"…) and
Salesforce report exports ("Lead ID", "Company / Account", "Opportunity Name"…).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from unghost.errors import BadInput
from unghost.services.csvvalues import DateConvention, fold

# What a contact export (or the contact side of a deal export) can fill.
CONTACT_FIELDS = (
    "id", "name", "first", "last", "email", "phone", "company", "title", "timezone", "linkedin",
)  # fmt: skip
# What a deal export can fill; "closes" names date columns that are checked
# (a day-first export read month-first fails there first) but not carried.
DEAL_FIELDS = (
    "id", "title", "stage", "status", "amount", "currency", "created", "closes",
    "problem", "benefits", "cost_of_inaction", "expires", "sent",
)  # fmt: skip


@dataclass(frozen=True)
class Requirement:
    """Columns of which the header must hold at least one."""

    headers: tuple[str, ...]
    wording: str  # as the error message names them


@dataclass(frozen=True)
class Flavour:
    """One vendor's export of one kind of record."""

    name: str
    label: str  # "HubSpot contacts", as error messages say it
    prefix: str | None  # the id prefix of the vendor's record ids; None: ids used as written
    dates: DateConvention
    contact: Mapping[str, tuple[str, ...]]
    deal: Mapping[str, tuple[str, ...]] | None = None  # None: an export of contacts only
    required: tuple[Requirement, ...] = ()
    footer: bool = False  # Salesforce ends a report with "Grand Totals" and copyright lines

    def missing(self, header: Sequence[str]) -> str | None:
        """The first required column the header lacks, worded for an error, else None."""
        keys = {fold(name) for name in header}
        for requirement in self.required:
            if keys.isdisjoint(requirement.headers):
                return f"missing required column {requirement.wording} for a {self.label} export"
        return None


def _person(*fields: str) -> tuple[str, ...]:
    """Pipedrive's person columns, with and without their "Person - " prefix."""
    return tuple(f"person - {field}" for field in fields) + fields


_PD_EMAIL = _person("email", "email - work", "email - home", "email - other")
_PD_PHONE = _person("phone", "phone - work", "phone - mobile", "phone - home", "phone - other")
_NAMES = ("first name", "last name", "name", "full name")
_NAME_WORDING = '"First Name"/"Last Name"'

HUBSPOT_CONTACTS = Flavour(
    name="hubspot-contacts",
    label="HubSpot contacts",
    prefix="hs",
    dates="us",
    contact={
        "id": ("record id", "contact id"),
        "name": ("name", "full name"),
        "first": ("first name",),
        "last": ("last name",),
        "email": ("email", "email address"),
        "phone": ("phone number", "mobile phone number", "phone", "mobile phone"),
        "company": ("company name", "company", "associated company"),
        "title": ("job title", "title"),
        "timezone": ("time zone", "timezone", "ip timezone"),
        "linkedin": ("linkedin url", "linkedin profile", "linkedin", "linkedin bio"),
    },
    required=(Requirement(("email", *_NAMES), f'"Email" or {_NAME_WORDING}'),),
)

HUBSPOT_DEALS = Flavour(
    name="hubspot-deals",
    label="HubSpot deals",
    prefix="hs",
    dates="us",
    contact={
        "id": ("associated contact ids", "associated contact id"),
        "name": ("associated contact",),
        "company": ("associated company",),
    },
    deal={
        "id": ("record id", "deal id"),
        "title": ("deal name",),
        "stage": ("deal stage",),
        "amount": ("amount",),
        "currency": ("currency", "deal currency code"),
        "created": ("create date", "created date"),
        "closes": ("close date",),
    },
    required=(
        Requirement(("deal name",), '"Deal Name"'),
        Requirement(
            ("associated contact", "associated contact ids", "associated contact id"),
            '"Associated Contact"',
        ),
    ),
)

_PIPEDRIVE_PERSON = {
    "id": ("person - id",),
    "name": ("person - name",),
    "first": ("person - first name",),
    "last": ("person - last name",),
    "email": _PD_EMAIL,
    "phone": _PD_PHONE,
    "company": ("person - organization", "organization - name"),
    "title": ("person - job title", "person - title"),
    "linkedin": ("person - linkedin", "person - linkedin profile"),
}

PIPEDRIVE_PERSONS = Flavour(
    name="pipedrive-persons",
    label="Pipedrive persons",
    prefix="pd",
    dates="us",
    contact=_PIPEDRIVE_PERSON,
    required=(
        Requirement(
            ("person - name", "person - first name", "person - last name"), '"Person - Name"'
        ),
    ),
)

PIPEDRIVE_DEALS = Flavour(
    name="pipedrive-deals",
    label="Pipedrive deals",
    prefix="pd",
    dates="us",
    contact={
        **_PIPEDRIVE_PERSON,
        "name": ("person - name", "deal - contact person", "deal - person"),
        "company": ("person - organization", "deal - organization", "organization - name"),
    },
    deal={
        "id": ("deal - id",),
        "title": ("deal - title",),
        "stage": ("deal - stage",),
        "status": ("deal - status",),
        "amount": ("deal - value",),
        "currency": ("deal - currency", "deal - currency of value"),
        "created": ("deal - deal created", "deal - creation date", "deal - add time"),
        "closes": (
            "deal - expected close date",
            "deal - won time",
            "deal - lost time",
            "deal - close time",
            "deal - closed on",
        ),
    },
    required=(
        Requirement(("deal - title",), '"Deal - Title"'),
        Requirement(
            (
                "deal - contact person",
                "deal - person",
                "person - name",
                "person - first name",
                "person - last name",
                "person - email",
            ),
            '"Deal - Contact person"',
        ),
    ),
)

_SALESFORCE_PERSON = {
    "name": ("full name", "name"),
    "first": ("first name",),
    "last": ("last name",),
    "email": ("email",),
    "phone": ("phone", "mobile", "mobile phone"),
    "title": ("title",),
}

SALESFORCE_LEADS = Flavour(
    name="salesforce-leads",
    label="Salesforce leads",
    prefix="sf",
    dates="us",
    contact={
        **_SALESFORCE_PERSON,
        "id": ("lead id",),
        "company": ("company / account", "company"),
    },
    required=(Requirement(_NAMES, _NAME_WORDING),),
    footer=True,
)

SALESFORCE_CONTACTS = Flavour(
    name="salesforce-contacts",
    label="Salesforce contacts",
    prefix="sf",
    dates="us",
    contact={
        **_SALESFORCE_PERSON,
        "id": ("contact id",),
        "company": ("account name", "account"),
    },
    required=(Requirement(_NAMES, _NAME_WORDING),),
    footer=True,
)

_SF_CONTACT_NAME = ("primary contact", "contact: full name", "contact name", "contact")

SALESFORCE_OPPORTUNITIES = Flavour(
    name="salesforce-opportunities",
    label="Salesforce opportunities",
    prefix="sf",
    dates="us",
    contact={
        "id": ("contact id", "contact: contact id", "primary contact id"),
        "name": _SF_CONTACT_NAME,
        "email": ("contact: email", "primary contact email", "email"),
        "phone": ("contact: phone", "phone"),
        "title": ("contact: title", "title"),
        "company": ("account name",),
    },
    deal={
        "id": ("opportunity id",),
        "title": ("opportunity name",),
        "stage": ("stage", "stage name"),
        "amount": ("amount",),
        "currency": ("amount currency", "opportunity currency", "currency"),
        "created": ("created date", "create date"),
        "closes": ("close date",),
    },
    required=(
        Requirement(("opportunity name",), '"Opportunity Name"'),
        Requirement(
            (*_SF_CONTACT_NAME, "contact: email", "contact id"),
            '"Primary Contact" or "Contact: Full Name"',
        ),
    ),
    footer=True,
)

_GENERIC_NAME = ("name", "full name", "contact", "contact name", "person", "person name")
_GENERIC_FIRST = ("first name", "firstname", "given name")
_GENERIC_LAST = ("last name", "lastname", "surname", "family name")

GENERIC = Flavour(
    name="generic",
    label="generic",
    prefix=None,
    dates="iso",
    contact={
        "id": ("contact id", "id"),
        "name": _GENERIC_NAME,
        "first": _GENERIC_FIRST,
        "last": _GENERIC_LAST,
        "email": ("email", "e-mail", "email address", "e-mail address", "mail"),
        "phone": ("phone", "phone number", "mobile", "mobile phone", "telephone", "tel"),
        "company": ("company", "company name", "organization", "organisation", "account"),
        "title": ("title", "job title", "position", "role"),
        "timezone": ("timezone", "time zone", "tz"),
        "linkedin": ("linkedin", "linkedin url", "linkedin profile"),
    },
    deal={
        "id": ("deal id",),
        "title": ("deal", "deal title", "deal name", "opportunity", "opportunity name"),
        "problem": ("problem",),
        "benefits": ("benefits",),
        "cost_of_inaction": ("cost of inaction",),
        "stage": ("stage", "deal stage"),
        "amount": ("amount", "value", "deal value", "proposal amount"),
        "currency": ("currency",),
        "created": ("created", "created at", "created date", "create date"),
        "expires": ("expires", "expires at", "expiry", "proposal expires", "valid until"),
        "sent": ("proposal sent", "proposal sent at", "sent"),
    },
)

FLAVOURS: dict[str, Flavour] = {
    flavour.name: flavour
    for flavour in (
        HUBSPOT_CONTACTS,
        HUBSPOT_DEALS,
        PIPEDRIVE_PERSONS,
        PIPEDRIVE_DEALS,
        SALESFORCE_LEADS,
        SALESFORCE_CONTACTS,
        SALESFORCE_OPPORTUNITIES,
        GENERIC,
    )
}

# Columns only one vendor's contact export writes. "Contact owner", written by
# both HubSpot and Salesforce, tells nothing apart and is in neither.
_HUBSPOT_SIGNS = frozenset(
    {"record id", "phone number", "mobile phone number", "company name", "job title",
     "lifecycle stage", "create date", "lead status", "last activity date",
     "associated company", "time zone", "linkedin bio", "linkedin url", "ip timezone"}
)  # fmt: skip
_SALESFORCE_SIGNS = frozenset(
    {"contact id", "account name", "account id", "mailing street", "mailing city",
     "mailing state/province", "mailing zip/postal code", "mailing country", "mobile",
     "salutation", "created date", "reports to", "title", "department", "other phone",
     "asst. phone", "birthdate"}
)  # fmt: skip
_HUBSPOT_DEAL_SIGNS = frozenset(
    {"deal stage", "deal owner", "pipeline", "associated contact", "associated contact ids"}
)
_GENERIC_NAMES = frozenset(_GENERIC_NAME + _GENERIC_FIRST + _GENERIC_LAST)

NO_MATCH = (
    "header matches no known export (HubSpot, Pipedrive, Salesforce, generic): need a name column"
)


def detect_flavour(header: Sequence[str]) -> str:
    """The export a header row comes from: one of `FLAVOURS`' names.

    Raises `BadInput` (without the file and line, which the caller knows) when
    the header is none of them and has no name column either.
    """
    keys = {fold(name) for name in header if name.strip()}
    if any(key.startswith("deal - ") for key in keys):
        return PIPEDRIVE_DEALS.name
    if any(key.startswith("person - ") for key in keys):
        return PIPEDRIVE_PERSONS.name
    has_name = not keys.isdisjoint(_GENERIC_NAMES)
    person_named = not keys.isdisjoint(_NAMES)
    if keys & {"opportunity id", "opportunity owner"} or (
        {"opportunity name", "stage"} <= keys and not person_named
    ):
        return SALESFORCE_OPPORTUNITIES.name
    if "deal name" in keys and not has_name and not keys.isdisjoint(_HUBSPOT_DEAL_SIGNS):
        return HUBSPOT_DEALS.name
    if not keys.isdisjoint({"lead id", "lead owner", "company / account"}):
        return SALESFORCE_LEADS.name
    if "record id" in keys:
        return HUBSPOT_CONTACTS.name
    hubspot, salesforce = len(keys & _HUBSPOT_SIGNS), len(keys & _SALESFORCE_SIGNS)
    if max(hubspot, salesforce) >= 2 and hubspot != salesforce:
        return HUBSPOT_CONTACTS.name if hubspot > salesforce else SALESFORCE_CONTACTS.name
    if has_name:
        return GENERIC.name
    raise BadInput(NO_MATCH)
