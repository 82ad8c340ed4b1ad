"""CSV exports of HubSpot, Pipedrive, Salesforce and spreadsheets, read into workspace JSON.

Every fixture is written the way its vendor writes it: the vendor's own
header names, its quoting, its dates; a BOM, blank lines and cells that run
over several lines where real files have them.
"""

from __future__ import annotations

import random
import time
from decimal import Decimal
from pathlib import Path

import pytest

from unghost.errors import BadInput, NotFound
from unghost.services.csvimport import CsvWorkspace, detect_flavour, read_csv
from unghost.services.csvvalues import (
    parse_amount,
    parse_day,
    parse_moment,
    slug,
    stage_of,
    timezone_name,
)
from unghost.services.workspace import import_file
from unghost.settings import Settings
from unghost.store.db import make_engine


def write(tmp_path: Path, name: str, text: str, *, encoding: str = "utf-8") -> Path:
    """A file holding `text` exactly (no newline translation)."""
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def failure(path: Path) -> str:
    with pytest.raises(BadInput) as caught:
        read_csv(path)
    return caught.value.message


# --- HubSpot -----------------------------------------------------------------

HUBSPOT_CONTACTS = (
    "\ufeffRecord ID,First Name,Last Name,Email,Phone Number,Mobile Phone Number,Company Name,"
    "Job Title,Time Zone,LinkedIn Bio,Contact owner,Lifecycle Stage,Create Date,Notes\r\n"
    '51,Zoë,Ødegaard,zoe@fjord.example,+47 22 12 34 56,,"Fjord Analytics, AS",Head of Data,'
    "Europe/Oslo,Zoë leads data at Fjord,Sam Seller,Lead,2026-09-14 10:22,"
    '"Met at the Oslo summit.\r\nWants a pilot in Q1."\r\n'
    "\r\n"
    '52,José,Martínez,JOSE@andes.example,,+56 9 8765 4321,"Andes Foods, Inc.",VP Sales,'
    "America/Santiago,https://www.linkedin.com/in/josemartinez,Sam Seller,Opportunity,"
    "10/01/2026,\r\n"
    "53,,,kai@lee.example,,,,,,,Sam Seller,Lead,10/02/2026,\r\n"
)

HUBSPOT_DEALS = (
    "Record ID,Deal Name,Deal Stage,Amount,Close Date,Create Date,Deal owner,Pipeline,"
    "Associated Contact,Associated Contact IDs,Associated Company\n"
    '9001,Fjord pilot,Proposal Sent,"$24,000.00",12/15/2026,2026-10-01 14:03,Sam Seller,'
    "Sales Pipeline,Zoë Ødegaard (zoe@fjord.example),51,Fjord Analytics AS (7001)\n"
    "9002,Andes rollout,Closed Won,18000,11/30/2026,10/02/2026,Sam Seller,Sales Pipeline,"
    "José Martínez (jose@andes.example);Ana Ruiz (ana@andes.example),52;53,Andes Foods (7002)\n"
    "9003,Lee renewal,closedlost,,,,Sam Seller,Sales Pipeline,Kai Lee (kai@lee.example),,\n"
)


def test_a_hubspot_contacts_export_maps_every_field_it_has(tmp_path: Path) -> None:
    sheet = read_csv(write(tmp_path, "hubspot-contacts.csv", HUBSPOT_CONTACTS))

    assert sheet.flavour == "hubspot-contacts"
    assert sheet.doc["format"] == "unghost-workspace"
    assert sheet.doc["version"] == 1
    assert sheet.doc["deals"] == []
    assert sheet.doc["contacts"] == [
        {
            "id": "hs-51",
            "name": "Zoë Ødegaard",
            "email": "zoe@fjord.example",
            "phone": "+47 22 12 34 56",
            "company": "Fjord Analytics, AS",
            "title": "Head of Data",
            "timezone": "Europe/Oslo",
        },
        {
            "id": "hs-52",
            "name": "José Martínez",
            "email": "JOSE@andes.example",
            "phone": "+56 9 8765 4321",
            "company": "Andes Foods, Inc.",
            "title": "VP Sales",
            "timezone": "America/Santiago",
            "linkedin": "https://www.linkedin.com/in/josemartinez",
        },
        {"id": "hs-53", "name": "kai@lee.example", "email": "kai@lee.example"},
    ]


def test_records_point_at_the_physical_line_they_start_on(tmp_path: Path) -> None:
    # Zoë's note runs over lines 2-3 and line 4 is blank, so José is on line 5.
    sheet = read_csv(write(tmp_path, "hubspot-contacts.csv", HUBSPOT_CONTACTS))

    assert sheet.where == {
        "contacts[0]": "line 2",
        "contacts[1]": "line 5",
        "contacts[2]": "line 6",
    }


def test_a_hubspot_deals_export_maps_stage_amount_and_associated_contact(tmp_path: Path) -> None:
    sheet = read_csv(write(tmp_path, "hubspot-deals.csv", HUBSPOT_DEALS))

    assert sheet.flavour == "hubspot-deals"
    assert sheet.doc["deals"] == [
        {
            "id": "hs-deal-9001",
            "contact": "hs-51",
            "title": "Fjord pilot",
            "stage": "open",
            "created_at": "2026-10-01T14:03:00",
            "proposal": {"amount": 24000, "currency": "USD"},
        },
        {
            "id": "hs-deal-9002",
            "contact": "hs-52",
            "title": "Andes rollout",
            "stage": "won",
            "created_at": "2026-10-02T00:00:00",
        },
        {
            "id": "hs-deal-9003",
            "contact": "kai-lee-example",
            "title": "Lee renewal",
            "stage": "lost",
        },
    ]
    assert sheet.doc["contacts"] == [
        {
            "id": "hs-51",
            "name": "Zoë Ødegaard",
            "email": "zoe@fjord.example",
            "company": "Fjord Analytics AS",
        },
        {
            "id": "hs-52",
            "name": "José Martínez",
            "email": "jose@andes.example",
            "company": "Andes Foods",
        },
        {"id": "kai-lee-example", "name": "Kai Lee", "email": "kai@lee.example"},
    ]
    assert sheet.where["deals[2]"] == "line 4"


def test_a_hubspot_deals_export_names_the_contacts_its_contacts_export_made(
    tmp_path: Path,
) -> None:
    contacts = read_csv(write(tmp_path, "c.csv", HUBSPOT_CONTACTS)).doc["contacts"]
    deals = read_csv(write(tmp_path, "d.csv", HUBSPOT_DEALS)).doc["deals"]

    known = {contact["id"] for contact in contacts}
    assert [deal["contact"] in known for deal in deals] == [True, True, False]


def test_a_deal_naming_its_contact_by_email_only_links_to_that_contacts_vendor_id(
    tmp_path: Path,
) -> None:
    text = HUBSPOT_DEALS + (
        "9004,Fjord phase 2,Qualified To Buy,,,,Sam Seller,Sales Pipeline,"
        "Zoë Ødegaard (ZOE@fjord.example),,\n"
    )

    sheet = read_csv(write(tmp_path, "hubspot-deals.csv", text))

    assert sheet.doc["deals"][3]["contact"] == "hs-51"
    assert [contact["id"] for contact in sheet.doc["contacts"]].count("hs-51") == 1


def test_a_deal_without_a_proposal_stage_keeps_its_amount_out(tmp_path: Path) -> None:
    sheet = read_csv(write(tmp_path, "hubspot-deals.csv", HUBSPOT_DEALS))

    assert "proposal" not in sheet.doc["deals"][1]


# --- Pipedrive ---------------------------------------------------------------

PIPEDRIVE_PERSONS = (
    "Person - ID,Person - Name,Person - Organization,Person - Email - Work,Person - Email - Home,"
    "Person - Phone - Work,Person - Phone - Mobile,Person - Job title,Person - Owner,"
    "Person - Label\n"
    '301,Ingrid Bergström,"Nordlys, AB",,ingrid@home.example,,+46 70 123 45 67,CFO,Sam,Hot\n'
    '302,Li Wei,Lotus Ltd,"li.wei@lotus.example, wei@home.example",,+86 10 1234 5678,,,Sam,\n'
)

PIPEDRIVE_DEALS = (
    "Deal - ID,Deal - Title,Deal - Value,Deal - Currency,Deal - Status,Deal - Stage,"
    "Deal - Contact person,Deal - Organization,Deal - Expected close date,Deal - Deal created,"
    "Person - ID,Person - Email\n"
    '41,Nordlys licences,"24.000,00",EUR,open,Proposal Made,Ingrid Bergström,"Nordlys, AB",'
    "2026-12-01,2026-10-05 09:30:00,301,ingrid@home.example\n"
    "42,Lotus renewal,5000,USD,deleted,Negotiations Started,Li Wei,Lotus Ltd,,"
    "2026-09-01 08:00:00,302,\n"
    "43,Harbour kiosks,100,EUR,won,Proposal Made,Noor Haddad,,,2026-08-01 08:00:00,,\n"
)


def test_a_pipedrive_persons_export_takes_the_first_email_and_phone_it_has(
    tmp_path: Path,
) -> None:
    sheet = read_csv(write(tmp_path, "people.csv", PIPEDRIVE_PERSONS))

    assert sheet.flavour == "pipedrive-persons"
    assert sheet.doc["contacts"] == [
        {
            "id": "pd-301",
            "name": "Ingrid Bergström",
            "email": "ingrid@home.example",
            "phone": "+46 70 123 45 67",
            "company": "Nordlys, AB",
            "title": "CFO",
        },
        {
            "id": "pd-302",
            "name": "Li Wei",
            "email": "li.wei@lotus.example",
            "phone": "+86 10 1234 5678",
            "company": "Lotus Ltd",
        },
    ]


def test_a_pipedrive_deals_export_reads_status_before_stage(tmp_path: Path) -> None:
    sheet = read_csv(write(tmp_path, "deals.csv", PIPEDRIVE_DEALS))

    assert sheet.flavour == "pipedrive-deals"
    assert sheet.doc["deals"] == [
        {
            "id": "pd-deal-41",
            "contact": "pd-301",
            "title": "Nordlys licences",
            "stage": "open",
            "created_at": "2026-10-05T09:30:00",
            "proposal": {"amount": 24000, "currency": "EUR"},
        },
        {
            "id": "pd-deal-42",
            "contact": "pd-302",
            "title": "Lotus renewal",
            "stage": "lost",
            "created_at": "2026-09-01T08:00:00",
        },
        {
            "id": "pd-deal-43",
            "contact": "noor-haddad",
            "title": "Harbour kiosks",
            "stage": "won",
            "created_at": "2026-08-01T08:00:00",
            "proposal": {"amount": 100, "currency": "EUR"},
        },
    ]
    assert sheet.doc["contacts"] == [
        {
            "id": "pd-301",
            "name": "Ingrid Bergström",
            "email": "ingrid@home.example",
            "company": "Nordlys, AB",
        },
        {"id": "pd-302", "name": "Li Wei", "company": "Lotus Ltd"},
        {"id": "noor-haddad", "name": "Noor Haddad"},
    ]


# --- Salesforce --------------------------------------------------------------

SALESFORCE_LEADS = (
    '"Lead ID","First Name","Last Name","Title","Company / Account","Email","Phone","Mobile",'
    '"Lead Status","Lead Owner","Create Date"\n'
    '"00Q5e00000AbCdE","Amélie","Dubois","Directrice","Boulangerie Dubois, SARL",'
    '"amelie@dubois.example","","+33 6 12 34 56 78","Working - Contacted","Sam Seller",'
    '"10/1/2026"\n'
    '""\n'
    '"Grand Totals (1 record)"\n'
    '""\n'
    '"Confidential Information - Do Not Distribute"\n'
    '"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."\n'
)

SALESFORCE_CONTACTS = (
    "Contact ID,First Name,Last Name,Account Name,Title,Email,Phone,Mailing Country,"
    "Contact Owner\n"
    '0035e00000XyZaB,Hiroshi,Tanaka,"Sakura Trading, K.K.",Buyer,hiroshi@sakura.example,'
    "+81 3 1234 5678,Japan,Sam Seller\n"
)

SALESFORCE_OPPORTUNITIES = (
    "Opportunity ID,Opportunity Name,Account Name,Stage,Amount,Close Date,Created Date,"
    "Opportunity Owner,Contact: Full Name,Contact: Email,Contact ID\n"
    '0065e00000Opp01,Sakura expansion,"Sakura Trading, K.K.",Proposal/Price Quote,'
    '"USD 48,500.50",1/31/2027,"10/3/2026, 2:15 PM",Sam Seller,Hiroshi Tanaka,'
    "hiroshi@sakura.example,0035e00000XyZaB\n"
    '0065e00000Opp02,Dubois ovens,"Boulangerie Dubois, SARL",Closed Lost,"€12.000,00",'
    "9/30/2026,9/1/2026,Sam Seller,Amélie Dubois,amelie@dubois.example,\n"
)


def test_a_salesforce_leads_report_skips_its_totals_and_copyright_lines(tmp_path: Path) -> None:
    sheet = read_csv(write(tmp_path, "leads.csv", SALESFORCE_LEADS))

    assert sheet.flavour == "salesforce-leads"
    assert sheet.doc["contacts"] == [
        {
            "id": "sf-00Q5e00000AbCdE",
            "name": "Amélie Dubois",
            "email": "amelie@dubois.example",
            "phone": "+33 6 12 34 56 78",
            "company": "Boulangerie Dubois, SARL",
            "title": "Directrice",
        }
    ]
    assert sheet.where == {"contacts[0]": "line 2"}


def test_a_salesforce_contacts_report_maps_the_account_to_the_company(tmp_path: Path) -> None:
    sheet = read_csv(write(tmp_path, "contacts.csv", SALESFORCE_CONTACTS))

    assert sheet.flavour == "salesforce-contacts"
    assert sheet.doc["contacts"] == [
        {
            "id": "sf-0035e00000XyZaB",
            "name": "Hiroshi Tanaka",
            "email": "hiroshi@sakura.example",
            "phone": "+81 3 1234 5678",
            "company": "Sakura Trading, K.K.",
            "title": "Buyer",
        }
    ]


def test_a_salesforce_opportunities_report_reads_us_dates_and_coded_amounts(
    tmp_path: Path,
) -> None:
    sheet = read_csv(write(tmp_path, "opportunities.csv", SALESFORCE_OPPORTUNITIES))

    assert sheet.flavour == "salesforce-opportunities"
    assert sheet.doc["deals"] == [
        {
            "id": "sf-deal-0065e00000Opp01",
            "contact": "sf-0035e00000XyZaB",
            "title": "Sakura expansion",
            "stage": "open",
            "created_at": "2026-10-03T14:15:00",
            "proposal": {"amount": 48500.5, "currency": "USD"},
        },
        {
            "id": "sf-deal-0065e00000Opp02",
            "contact": "amelie-dubois-example",
            "title": "Dubois ovens",
            "stage": "lost",
            "created_at": "2026-09-01T00:00:00",
        },
    ]
    contacts = read_csv(write(tmp_path, "contacts.csv", SALESFORCE_CONTACTS)).doc["contacts"]
    assert sheet.doc["deals"][0]["contact"] == contacts[0]["id"]


# --- a generic spreadsheet ---------------------------------------------------

# Excel in a European locale: semicolons, CRLF rows, Windows-1252, a line
# break inside a cell, a decimal comma and a trailing euro sign.
GENERIC = (
    "Name;Email;Company;Title;Timezone;LinkedIn;Deal;Problem;Stage;Amount;Currency;"
    "Proposal sent;Expires\r\n"
    "Zoë Ødegaard;zoe@fjord.example;Fjord Analytics, AS;Head of Data;Europe/Oslo;"
    'https://www.linkedin.com/in/zoe;Data platform pilot;"Reports take two weeks;\n'
    'nobody trusts the numbers";Proposal;24.000,00 €;;2026-11-02;2026-12-01\r\n'
    "José Martínez;;Andes Foods;;;;;;;;;;\r\n"
    "\r\n"
    "Kai Lee;kai@lee.example;;;;;Renewal;;won;;;;;;\r\n"
)


def test_a_generic_spreadsheet_gives_contacts_deals_and_proposals(tmp_path: Path) -> None:
    sheet = read_csv(write(tmp_path, "prospects.csv", GENERIC, encoding="cp1252"))

    assert sheet.flavour == "generic"
    assert sheet.doc["contacts"] == [
        {
            "id": "zoe-fjord-example",
            "name": "Zoë Ødegaard",
            "email": "zoe@fjord.example",
            "company": "Fjord Analytics, AS",
            "title": "Head of Data",
            "timezone": "Europe/Oslo",
            "linkedin": "https://www.linkedin.com/in/zoe",
        },
        {"id": "jose-martinez-andes-foods", "name": "José Martínez", "company": "Andes Foods"},
        {"id": "kai-lee-example", "name": "Kai Lee", "email": "kai@lee.example"},
    ]
    assert sheet.doc["deals"] == [
        {
            "id": "zoe-fjord-example-data-platform-pilot",
            "contact": "zoe-fjord-example",
            "title": "Data platform pilot",
            "stage": "open",
            "problem": "Reports take two weeks;\nnobody trusts the numbers",
            "proposal": {
                "sent_at": "2026-11-02T00:00:00",
                "expires_at": "2026-12-01",
                "amount": 24000,
                "currency": "EUR",
            },
        },
        {
            "id": "kai-lee-example-renewal",
            "contact": "kai-lee-example",
            "title": "Renewal",
            "stage": "won",
        },
    ]
    assert sheet.where == {
        "contacts[0]": "line 2",
        "deals[0]": "line 2",
        "contacts[1]": "line 4",
        "contacts[2]": "line 6",
        "deals[1]": "line 6",
    }


def test_a_generic_file_with_a_contact_on_several_rows_has_that_contact_once(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "deals.csv",
        "first_name,last_name,email,phone,deal_title,stage\n"
        "Noor,Haddad,noor@harbour.example,,Kiosks,open\n"
        "Noor,Haddad,noor@harbour.example,+971 4 123 4567,Signage,lost\n",
    )

    sheet = read_csv(path)

    assert sheet.doc["contacts"] == [
        {
            "id": "noor-harbour-example",
            "name": "Noor Haddad",
            "email": "noor@harbour.example",
            "phone": "+971 4 123 4567",
        }
    ]
    assert [deal["id"] for deal in sheet.doc["deals"]] == [
        "noor-harbour-example-kiosks",
        "noor-harbour-example-signage",
    ]


def test_a_tab_separated_utf16_file_from_excel_is_read(tmp_path: Path) -> None:
    text = "Name\tEmail\r\nLi Wei\tli.wei@lotus.example\r\n"
    path = tmp_path / "unicode.txt"
    path.write_bytes(text.encode("utf-16"))

    assert read_csv(path).doc["contacts"] == [
        {"id": "li-wei-lotus-example", "name": "Li Wei", "email": "li.wei@lotus.example"}
    ]


def test_headers_are_matched_whatever_their_case_and_spacing(tmp_path: Path) -> None:
    path = write(
        tmp_path, "x.csv", "  FULL   name , E-MAIL ,company,,,\nAda Byron,ada@x.example,,,,\n"
    )

    assert read_csv(path).doc["contacts"] == [
        {"id": "ada-x-example", "name": "Ada Byron", "email": "ada@x.example"}
    ]


def test_an_excel_sep_line_names_the_delimiter_and_counts_as_a_line(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", "sep=;\nName;Company\nAda Byron;Engines, Ltd\nBad;;;x\n")

    message = failure(path)

    assert message == f"{path}: line 4: 4 cells but the header has 2"


@pytest.mark.parametrize(
    "text", ["Name,Tags\nAda,a;b;c;d\nBo,x;y\n", "Name;Tags\nAda;a,b,c,d\nBo;x,y\n"]
)
def test_the_delimiter_is_the_one_the_header_uses(tmp_path: Path, text: str) -> None:
    sheet = read_csv(write(tmp_path, "x.csv", text))

    assert [contact["name"] for contact in sheet.doc["contacts"]] == ["Ada", "Bo"]


# --- ids -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [HUBSPOT_CONTACTS, HUBSPOT_DEALS, PIPEDRIVE_DEALS, SALESFORCE_OPPORTUNITIES, GENERIC],
)
def test_reading_the_same_file_twice_gives_the_same_document(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "export.csv", text)

    first, second = read_csv(path), read_csv(path)

    assert first == second
    assert first.doc["contacts"]


def test_ids_do_not_depend_on_the_order_of_the_rows(tmp_path: Path) -> None:
    header, *rows = GENERIC.replace("\r\n\r\n", "\r\n").split("\r\n")
    rows = [row for row in rows if row]
    forward = read_csv(write(tmp_path, "a.csv", "\r\n".join([header, *rows]), encoding="cp1252"))
    backward = read_csv(
        write(tmp_path, "b.csv", "\r\n".join([header, *reversed(rows)]), encoding="cp1252")
    )

    def ids(sheet: CsvWorkspace) -> set[tuple[str, str]]:
        return {(c["id"], c["name"]) for c in sheet.doc["contacts"]}

    assert ids(forward) == ids(backward)


def test_two_people_whose_ids_would_meet_get_one_suffixed_id_each(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "x.csv",
        "Name,Email\nJane Doe,jane.doe@acme.example\nJane D,jane-doe@acme.example\n",
    )

    ids = [contact["id"] for contact in read_csv(path).doc["contacts"]]

    assert len(set(ids)) == 2
    assert all(id_.startswith("jane-doe-acme-example-") for id_ in ids)


def test_a_name_in_another_script_still_gives_an_id() -> None:
    assert slug("王伟 Lotus") == "王伟-lotus"
    assert slug("Zoë Ødegaard, Fjord AS") == "zoe-odegaard-fjord-as"


# --- errors ----------------------------------------------------------------------


def test_a_vendor_export_without_its_required_columns_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", "Record ID,Contact owner,Lifecycle Stage\n1,Sam,Lead\n")

    assert failure(path) == (
        f'{path}: line 1: missing required column "Email" or "First Name"/"Last Name" '
        "for a HubSpot contacts export"
    )


def test_a_deals_export_without_a_contact_column_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", "Record ID,Deal Name,Deal Stage\n1,Pilot,Qualified\n")

    assert failure(path) == (
        f'{path}: line 1: missing required column "Associated Contact" for a HubSpot deals export'
    )


def test_a_header_no_export_writes_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", "Widget,Colour\nsprocket,red\n")

    assert failure(path) == (
        f"{path}: line 1: header matches no known export (HubSpot, Pipedrive, Salesforce, "
        "generic): need a name column"
    )


def test_a_row_with_more_cells_than_the_header_names_its_line(tmp_path: Path) -> None:
    header = (
        "Record ID,First Name,Last Name,Email,Phone Number,Company Name,Job Title,Time Zone,"
        "Contact owner,Lifecycle Stage,Create Date,Notes"
    )
    good = "7,Ada,Byron,ada@x.example,,,,,,,,"
    lines = [header, good, '8,Bo,Li,,,,,,,,,"two\nlines"', "", good.replace("7", "9")]
    lines.append("10,Cy,Ng,c@x.example,,,,,,,,,extra,more")
    path = write(tmp_path, "x.csv", "\n".join(lines) + "\n")

    assert failure(path) == f"{path}: line 7: 14 cells but the header has 12"


def test_trailing_empty_cells_past_the_header_are_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", "Name,Email\nAda Byron,ada@x.example,,,\n")

    assert len(read_csv(path).doc["contacts"]) == 1


def test_a_date_that_does_not_exist_names_its_line_and_column(tmp_path: Path) -> None:
    lines = HUBSPOT_DEALS.splitlines()[:3] + [""] * 5
    lines.append("9009,Bad,Qualified,,31/02/2026,,Sam,Sales Pipeline,Ada (ada@x.example),,")
    path = write(tmp_path, "deals.csv", "\n".join(lines) + "\n")

    assert failure(path) == f'{path}: line 9: column "Close Date": not a date: "31/02/2026"'


def test_a_generic_file_must_write_its_dates_in_iso(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", "Name,Deal,Expires\nAda,Engines,03/04/2026\n")

    assert failure(path) == (
        f'{path}: line 2: column "Expires": not an ISO date (YYYY-MM-DD): "03/04/2026"'
    )


def test_an_amount_that_is_not_a_number_names_its_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "x.csv",
        "Opportunity ID,Opportunity Name,Stage,Amount,Primary Contact\n"
        "006A,Engines,Prospecting,lots,Ada Byron\n",
    )

    assert failure(path) == f'{path}: line 2: column "Amount": not an amount: "lots"'


def test_a_deal_row_without_a_contact_names_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "x.csv",
        "Deal - ID,Deal - Title,Deal - Contact person\n1,Engines,Ada Byron\n2,Looms,\n",
    )

    assert failure(path) == (
        f'{path}: line 3: column "Deal - Contact person": no contact for the deal '
        "(a name or an email is needed)"
    )


def test_a_deal_twice_in_one_file_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "x.csv",
        "Deal - ID,Deal - Title,Deal - Contact person\n1,Engines,Ada Byron\n1,Engines,Ada Byron\n",
    )

    assert (
        failure(path)
        == f'{path}: line 3: column "Deal - ID": the deal "pd-deal-1" is already on line 2'
    )


def test_an_unclosed_quote_names_the_line_its_row_starts_on(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", 'Name,Email\nAda,a@x.example\n"Bo, b@x.example\nCy,c@x\n')

    assert failure(path) == f'{path}: line 3: a quoted cell is never closed (a " is missing)'


def test_random_bytes_are_refused_fast_even_in_a_large_file(tmp_path: Path) -> None:
    path = tmp_path / "noise.csv"
    path.write_bytes(random.Random(7).randbytes(50 * 1024 * 1024))

    started = time.perf_counter()
    message = failure(path)
    elapsed = time.perf_counter() - started

    assert message.startswith(f"{path}: not a CSV file (binary data at byte ")
    assert elapsed < 1.0


def test_a_nul_byte_deep_in_a_text_file_is_found(tmp_path: Path) -> None:
    text = b"Name,Email\n" + b"Ada Byron,ada@x.example\n" * 5000
    path = tmp_path / "x.csv"
    path.write_bytes(text + b"\x00\x00\x00")

    assert failure(path) == f"{path}: not a CSV file (binary data at byte {len(text)})"


def test_a_row_wider_than_500_cells_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", "Name," + ",".join(f"c{i}" for i in range(600)) + "\n")

    assert failure(path) == f"{path}: line 1: 601 cells, more than the 500 a row may have"


def test_a_cell_longer_than_a_megabyte_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", f'Name,Notes\nAda,"{"x" * (1024 * 1024 + 1)}"\n')

    assert failure(path) == f"{path}: line 2: a cell is longer than 1 MB"


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", "\n\n")

    assert failure(path) == f"{path}: line 1: the file is empty (no header row)"


def test_a_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no such file"):
        read_csv(tmp_path / "nope.csv")


# --- detection and values ----------------------------------------------------


@pytest.mark.parametrize(
    ("header", "flavour"),
    [
        (["Record ID", "First Name", "Last Name", "Email", "Contact owner"], "hubspot-contacts"),
        (["Contact ID", "First Name", "Phone Number", "Lifecycle Stage"], "hubspot-contacts"),
        (["Record ID", "Deal Name", "Deal Stage", "Associated Contact"], "hubspot-deals"),
        (["Person - ID", "Person - Name", "Person - Email - Work"], "pipedrive-persons"),
        (["Deal - Title", "Deal - Value", "Person - Name"], "pipedrive-deals"),
        (["Lead ID", "First Name", "Last Name", "Company / Account"], "salesforce-leads"),
        (["First Name", "Last Name", "Account Name", "Mailing Country"], "salesforce-contacts"),
        (["Opportunity Name", "Account Name", "Stage", "Amount"], "salesforce-opportunities"),
        (["Name", "Email", "Phone Number", "Job Title"], "hubspot-contacts"),
        (["first name", "last name", "email"], "generic"),
        (["Name", "Email", "Opportunity Name", "Stage"], "generic"),
        (["  CONTACT ", "deal title"], "generic"),
    ],
)
def test_the_header_tells_the_export_apart(header: list[str], flavour: str) -> None:
    assert detect_flavour(header) == flavour


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("$24,000.00", Decimal("24000.00"), "USD"),
        ("24.000,00 €", Decimal("24000.00"), "EUR"),
        ("24000", Decimal("24000"), None),
        ("USD 48,500.50", Decimal("48500.50"), "USD"),
        ("1'500.5 CHF", Decimal("1500.5"), "CHF"),
        ("24 000,50", Decimal("24000.50"), None),
        ("1,000,000", Decimal("1000000"), None),
        ("0,500", Decimal("0.500"), None),
        ("£99.9", Decimal("99.9"), "GBP"),
    ],
)
def test_amounts_are_read_in_the_ways_crms_write_them(
    text: str, amount: Decimal, currency: str | None
) -> None:
    assert parse_amount(text) == (amount, currency)


@pytest.mark.parametrize("text", ["lots", "-5", "1,00,0", "1.000.00,5,5", "$", "12..5"])
def test_what_is_not_an_amount_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not an amount"):
        parse_amount(text)


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2026-10-01 14:03", "2026-10-01T14:03:00"),
        ("10/01/2026", "2026-10-01T00:00:00"),
        ("10/1/2026 2:03 PM", "2026-10-01T14:03:00"),
        ("10/1/2026, 12:30 AM", "2026-10-01T00:30:00"),
        ("01.10.2026", "2026-10-01T00:00:00"),
        ("2026-10-01T14:03:00Z", "2026-10-01T14:03:00+00:00"),
        ("2026-10-01T14:03:00.250-0500", "2026-10-01T14:03:00.250000-05:00"),
    ],
)
def test_vendor_dates_are_read_month_first_into_iso(text: str, iso: str) -> None:
    assert parse_moment(text, "us") == iso


@pytest.mark.parametrize("text", ["31/02/2026", "2026-02-30", "13/13/2026", "soon", "1/2/26"])
def test_impossible_dates_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a date"):
        parse_moment(text, "us")


def test_a_day_column_keeps_only_the_day() -> None:
    assert parse_day("2026-12-01 17:00", "iso") == "2026-12-01"


@pytest.mark.parametrize(
    ("text", "stage"),
    [
        ("Closed Won", "won"),
        ("closedwon", "won"),
        ("won", "won"),
        ("Closed Lost", "lost"),
        ("lost", "lost"),
        ("deleted", "lost"),
        ("Proposal/Price Quote", "open"),
        ("Qualified To Buy", "open"),
        ("open", "open"),
    ],
)
def test_stages_map_to_open_won_or_lost(text: str, stage: str) -> None:
    assert stage_of(text) == stage


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("America/New York", "America/New_York"),
        ("america_slash_new_york", "America/New_York"),
        ("(GMT-05:00) America/New_York", "America/New_York"),
        ("Eastern Time", "Eastern Time"),
    ],
)
def test_time_zones_are_named_as_the_tz_database_names_them(text: str, zone: str) -> None:
    assert timezone_name(text) == zone


# --- size ------------------------------------------------------------------------


def test_a_hundred_thousand_rows_map_in_a_few_seconds(tmp_path: Path) -> None:
    rows = [
        f'{i},Deal {i},Proposal Sent,"$1,{i % 1000:03d}.00",12/15/2026,2026-10-01 14:03,Sam,'
        f"Sales,Person {i} (p{i}@x.example),{i + 500000},Company {i % 97}"
        for i in range(100_000)
    ]
    path = write(tmp_path, "big.csv", HUBSPOT_DEALS.splitlines()[0] + "\n" + "\n".join(rows))

    started = time.process_time()  # CPU time: other work on the machine does not count
    sheet = read_csv(path)
    elapsed = time.process_time() - started

    assert len(sheet.doc["deals"]) == 100_000
    assert len(sheet.where) == 200_000
    assert elapsed < 10.0, elapsed


# --- through the importer ----------------------------------------------------

EXPORTS = {
    "hubspot-contacts.csv": (HUBSPOT_CONTACTS, "utf-8"),
    "hubspot-deals.csv": (HUBSPOT_DEALS, "utf-8"),
    "pipedrive-persons.csv": (PIPEDRIVE_PERSONS, "utf-8"),
    "pipedrive-deals.csv": (PIPEDRIVE_DEALS, "utf-8"),
    "salesforce-leads.csv": (SALESFORCE_LEADS, "utf-8"),
    "salesforce-contacts.csv": (SALESFORCE_CONTACTS, "utf-8"),
    "salesforce-opportunities.csv": (SALESFORCE_OPPORTUNITIES, "utf-8"),
    "prospects.csv": (GENERIC, "cp1252"),
}


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_every_export_imports_and_importing_it_again_changes_nothing(
    sqlite_url: str, tmp_path: Path, name: str
) -> None:
    text, encoding = EXPORTS[name]
    path = write(tmp_path, name, text, encoding=encoding)
    sheet = read_csv(path)
    engine = make_engine(Settings(database_url=sqlite_url, home=tmp_path / "home"))
    try:
        first = import_file(engine, path, owner_email="sam@seller.example")
        second = import_file(engine, path, owner_email="sam@seller.example")
    finally:
        engine.dispose()

    assert first.created["contacts"] == len(sheet.doc["contacts"])
    assert first.created["deals"] == len(sheet.doc["deals"])
    assert not second.changed


def test_the_importer_names_the_csv_line_of_a_bad_value(sqlite_url: str, tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", "Name,Email,Timezone\nAda,ada@x.example,Mars/Olympus\n")
    engine = make_engine(Settings(database_url=sqlite_url, home=tmp_path / "home"))
    try:
        with pytest.raises(BadInput) as caught:
            import_file(engine, path, owner_email="sam@seller.example")
    finally:
        engine.dispose()

    assert caught.value.message.startswith(f"{path}: line 2: timezone: ")
