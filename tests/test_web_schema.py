"""The JSON API keeps the promises of its OpenAPI document, under schemathesis.

Every operation of /api/openapi.json is called in-process as the sample's owner (an API
token), with generated parameters and bodies:
- valid ones: no server error, every status documented, every body matching its model;
  path parameters name the owner's real deals, steps… half the time, so the answers of
  success are checked and not only the 404s;
- invalid ones (bodies and queries, on the owner's real objects): refused with a
  documented 4xx in the API's error shape, never a server error.

Each operation is its own Hypothesis run inside one test (schemathesis's pytest loader
`from_fixture` reads a private attribute pytest 9 no longer has), and every operation's
failure is reported, not only the first. One check is left out: "schema-valid data is
accepted" (positive_data_acceptance), since some rules are about now and the stored state
and no schema can say them (a snooze must end within a year, a step must be its deal's
first); such a request gets a documented 400 or 409, which the status check still holds.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from web_helpers import Site
from web_routes import Owned, Route, routes

EXAMPLES = 25  # per operation and mode: bounded for CI


def api_schema(site: Site, owned: Owned) -> Any:
    """The app's OpenAPI document, with the owner's token and real ids to try."""
    token = site.token(site.owner)
    dictionaries: dict[str, Any] = {}
    parameters: dict[str, Any] = {}
    for route in api_routes(site).values():
        for param in route.path_params:
            if f"path.{param.name}" not in parameters:
                dictionaries[param.name] = {"values": owned.choices(route, param)}
                parameters[f"path.{param.name}"] = {"dictionary": param.name, "probability": 0.5}
    config = schemathesis.Config.from_dict(
        {
            "headers": {"Authorization": f"Bearer {token}"},
            "dictionaries": dictionaries,
            "parameters": parameters,
        }
    )
    return schemathesis.openapi.from_asgi("/api/openapi.json", site.app, config=config)


def api_routes(site: Site) -> dict[str, Route]:
    return {str(r): r for r in routes(site.app) if r.api}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_api_answer_matches_the_openapi_document(site: Site, mode: GenerationMode) -> None:
    owned = Owned.of(site, site.owner)
    schema = api_schema(site, owned)
    table = api_routes(site)
    failures: list[str] = []
    answered: Counter[tuple[str, int]] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} == set(table), "the schema and the app disagree"
    for operation in operations:
        route = table[operation.label]
        if mode is GenerationMode.POSITIVE:
            strategy = operation.as_strategy(generation_mode=mode)
        elif route.body or route.query_params:
            # Invalid bodies and queries, on one of the owner's real objects.
            fixed = {p.name: owned.value(route, p) for p in route.path_params}
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed)
        else:
            continue  # nothing but the path: no invalid request to make of it

        @given(case=strategy)
        @settings(max_examples=EXAMPLES, deadline=None, database=None)
        def run(case: schemathesis.Case) -> None:
            response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
            answered[(case.operation.label, response.status_code)] += 1

        try:
            run()
        except Exception as exc:  # every operation's failure, with its example
            failures.append(f"{operation.label}:\n{exc}")
    assert not failures, "\n\n".join(failures)
    if mode is GenerationMode.POSITIVE:
        # The owner's ids reached every route (an answer other than "no such thing"), and
        # every read answered 200 at least once, so the bodies of success were checked.
        for label in table:
            statuses = {s for (op, s) in answered if op == label}
            assert statuses - {404, 422}, f"{label} only answered {statuses}"
            if label.startswith("GET "):
                assert 200 in statuses, f"{label} never answered 200: {statuses}"


def test_a_touch_logged_at_the_ends_of_the_calendar_is_refused_not_a_server_error(
    site: Site,
) -> None:
    # Found by this fuzzing: the year 9999 (or 1) overflowed the planner's date arithmetic.
    client = site.client()
    token = {"Authorization": f"Bearer {site.token(site.owner)}"}
    deal = Owned.of(site, site.owner).deal_key
    for at in ("9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+00:00"):
        r = client.post(
            f"/api/deals/{deal}/touches", json={"channel": "call", "at": at}, headers=token
        )
        assert r.status_code == 400, r.text
        assert "between the years 1900 and 2199" in r.json()["error"]
    r = client.post(
        f"/api/deals/{deal}/touches",
        json={"channel": "call", "outcome": "connected", "at": "2026-11-20T10:00:00"},
        headers=token,
    )
    assert r.status_code == 201, r.text
    assert r.json()["at"] == "2026-11-20T10:00:00-05:00"  # the owner's zone
