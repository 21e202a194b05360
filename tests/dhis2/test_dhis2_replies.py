"""Every reply DHIS2 (or what stands between us) can give to POST /api/dataValueSets, classified.

Fixtures in fixtures/ are typed after real captured replies (dhis2-android-sdk
core/src/sharedTest/resources/imports/*.json) and dhis2-core WebMessageUtils / ErrorCode.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.dhis2.client import HttpExchange, TransportError
from appliance.dhis2.mapping import parse_mapping
from appliance.dhis2.payload import payload_for
from appliance.dhis2.replies import classify_import_reply, classify_transport_error, parse_import_summary
from appliance.outbox.outcome import OutcomeKind
from appliance.reports.figures import ReportFigures

FIXTURES = Path(__file__).parent / "fixtures"

# Four rows whose UIDs the fixtures name: row i has data element ROW{i}DEuid0{i}, combo ROW{i}COCuid{i}.
MAPPING = parse_mapping(
    'format = 1\ndata_set = "DSsomething"\nattribute_option_combo = "HllvX50cXC0"\norg_unit = "OUfacility1"\n'
    + "".join(
        f'[category_combos.c{i}]\nid = "CC{i}combo{i:03d}"\nlabel = "c{i}"\n'
        f'[category_combos.c{i}.option_combos]\nF_15_24 = "ROW{i}COCuid{i}"\n'
        f'[indicators.ind{i}]\nlabel = "Indicateur {i}"\ndata_element = "ROW{i}DEuid0{i}"\ncategory_combo = "c{i}"\n'
        for i in range(4)
    )
)
PAYLOAD = payload_for(ReportFigures("2024-03", {(f"ind{i}", "F_15_24"): 10 + i for i in range(4)}), MAPPING)


def reply(status: int, fixture: str | None = None, *, content_type: str = "application/json;charset=UTF-8",
          headers: dict[str, str] | None = None, reason: str = "") -> HttpExchange:
    body = (FIXTURES / fixture).read_bytes() if fixture else b""
    return HttpExchange(status=status, reason=reason, headers={"content-type": content_type, **(headers or {})},
                        body=body, bytes_sent=900, bytes_received=len(body) + 150, elapsed_s=0.1)


@pytest.mark.parametrize(
    ("exchange", "kind"),
    [
        (reply(200, "success_envelope.json"), OutcomeKind.DELIVERED),
        (reply(409, "warning_envelope.json"), OutcomeKind.DELIVERED_WITH_CONFLICTS),
        (reply(409, "error_data_set.json"), OutcomeKind.NEEDS_ACTION),
        (reply(409, "error_org_unit.json"), OutcomeKind.NEEDS_ACTION),
        (reply(409, "import_failed.json"), OutcomeKind.RETRY_LATER),
        (reply(200, "bare_v37_success.json"), OutcomeKind.DELIVERED),
        (reply(200, "bare_v37_conflicts.json"), OutcomeKind.DELIVERED_WITH_CONFLICTS),
        (reply(401, "unauthorized.json", headers={"www-authenticate": 'ApiToken error="invalid_token"'}),
         OutcomeKind.NEEDS_ACTION),
        (reply(403, "forbidden.json"), OutcomeKind.NEEDS_ACTION),
        (reply(415, "unsupported_media.json"), OutcomeKind.NEEDS_ACTION),
        (reply(404, "unauthorized.json"), OutcomeKind.NEEDS_ACTION),
        (reply(302, headers={"location": "https://x/dhis-web-commons/security/login.action"}),
         OutcomeKind.NEEDS_ACTION),
        (reply(500, "server_error.json"), OutcomeKind.RETRY_LATER),
        (reply(502, "proxy_page.html", content_type="text/html"), OutcomeKind.RETRY_LATER),
        (reply(503, headers={"retry-after": "120"}), OutcomeKind.RETRY_LATER),
        (reply(504), OutcomeKind.RETRY_LATER),
        (reply(429), OutcomeKind.RETRY_LATER),
        (reply(200, "proxy_page.html", content_type="text/html"), OutcomeKind.RETRY_LATER),
        (reply(200, "truncated.json"), OutcomeKind.RETRY_LATER),
        (reply(200), OutcomeKind.RETRY_LATER),
        (reply(400, "forbidden.json"), OutcomeKind.NEEDS_ACTION),
    ],
    ids=lambda value: f"{value.status}" if isinstance(value, HttpExchange) else str(value),
)
def test_each_reply_gets_its_outcome(exchange: HttpExchange, kind: OutcomeKind) -> None:
    outcome = classify_import_reply(exchange, PAYLOAD)
    assert outcome.kind is kind, outcome.message
    assert outcome.http_status == exchange.status
    assert (outcome.bytes_sent, outcome.bytes_received) == (exchange.bytes_sent, exchange.bytes_received)
    assert outcome.message  # always something to show


def test_success_keeps_the_counts_and_completeness() -> None:
    outcome = classify_import_reply(reply(200, "success_envelope.json"), PAYLOAD)
    assert outcome.detail["import_count"] == {"imported": 3, "updated": 1, "ignored": 0, "deleted": 0}
    assert outcome.detail["data_set_complete"] == "2024-04-02"
    assert outcome.detail["enveloped"] is True
    assert "3 importée(s), 1 mise(s) à jour" in outcome.message


def test_each_conflict_is_shown_on_its_row_in_french() -> None:
    outcome = classify_import_reply(reply(409, "warning_envelope.json"), PAYLOAD)
    by_code = {conflict.code: conflict for conflict in outcome.conflicts}
    assert set(by_code) == {"E7610", "E7619", "E7634"}
    assert by_code["E7610"].row == "Indicateur 1 — Féminin, 15–24 ans"
    assert by_code["E7610"].value == "11"
    assert "inconnu de DHIS2" in by_code["E7610"].message
    assert by_code["E7619"].row.startswith("Indicateur 0")
    assert by_code["E7619"].value == "10"
    assert "type de l'élément" in by_code["E7619"].message
    assert by_code["E7634"].ref == {"indicator": "ind3", "disaggregation": "F_15_24",
                                    "dataElement": "ROW3DEuid03", "categoryOptionCombo": "ROW3COCuid3"}
    assert outcome.detail["rejected_indexes"] == [0, 1, 3]
    assert "3 valeur(s) refusée(s)" in outcome.message


def test_set_level_errors_say_what_to_fix() -> None:
    data_set = classify_import_reply(reply(409, "error_data_set.json"), PAYLOAD)
    assert "ensemble de données xxxxxxxxxxx" in data_set.message
    assert [conflict.row for conflict in data_set.conflicts] == ["Tout le rapport"]
    org_unit = classify_import_reply(reply(409, "error_org_unit.json"), PAYLOAD)
    assert "OUunknown01" in org_unit.message and "org_unit" in org_unit.message


def test_old_servers_conflicts_are_matched_to_rows_by_uid() -> None:
    """/api/37 conflicts carry no indexes: the UIDs they name find the rows."""
    outcome = classify_import_reply(reply(200, "bare_v37_conflicts.json"), PAYLOAD)
    rows = sorted(conflict.row for conflict in outcome.conflicts)
    assert rows == ["Indicateur 0 — Féminin, 15–24 ans", "Indicateur 2 — Féminin, 15–24 ans"]
    assert outcome.detail["enveloped"] is False
    assert all(conflict.code == "—" for conflict in outcome.conflicts)  # no errorCode before 2.38


def test_401_names_the_scheme_the_server_asks_for() -> None:
    outcome = classify_import_reply(
        reply(401, "unauthorized.json", headers={"www-authenticate": 'ApiToken error="invalid_token"'}), PAYLOAD)
    assert "ApiToken" in outcome.message and "jeton" in outcome.message


def test_retry_after_is_kept() -> None:
    assert classify_import_reply(reply(503, headers={"retry-after": "120"}), PAYLOAD).retry_after_s == 120


def test_an_html_proxy_page_is_named_as_such() -> None:
    outcome = classify_import_reply(reply(200, "proxy_page.html", content_type="text/html"), PAYLOAD)
    assert "page HTML" in outcome.message


@pytest.mark.parametrize(("kind", "link_down"), [("timeout", True), ("connection", True), ("reset", False),
                                                  ("truncated", False), ("tls", False)])
def test_transport_failures_are_retried(kind: str, link_down: bool) -> None:
    outcome = classify_transport_error(TransportError(kind, "x", bytes_sent=700))
    assert outcome.kind is OutcomeKind.RETRY_LATER
    assert outcome.link_down is link_down
    assert outcome.bytes_sent == 700


def test_parse_recognises_both_shapes_and_nothing_else() -> None:
    import json

    enveloped = parse_import_summary(json.loads((FIXTURES / "warning_envelope.json").read_text()))
    bare = parse_import_summary(json.loads((FIXTURES / "bare_v37_success.json").read_text()))
    assert enveloped is not None and enveloped.enveloped and enveloped.status == "WARNING"
    assert bare is not None and not bare.enveloped and bare.import_count["updated"] == 10
    assert parse_import_summary(json.loads((FIXTURES / "forbidden.json").read_text())) is None
    assert parse_import_summary(["not", "a", "summary"]) is None
