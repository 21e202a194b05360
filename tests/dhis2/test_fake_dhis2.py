"""The fake DHIS2 itself follows the documented contract (it is the reference our client is tested on)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from appliance.dhis2.mapping import load_mapping
from appliance.settings.dhis2 import DEMO_MAPPING
from tests.fakes.fake_dhis2 import DEMO_TOKEN, FakeDhis2, apply_fields, parse_fields

MAPPING = load_mapping(DEMO_MAPPING)
CPN1 = MAPPING.indicators["cpn1"]
DE = CPN1.data_element
COC = CPN1.category_combo.option_combos["F_15_24"]
COC2 = CPN1.category_combo.option_combos["F_25_49"]
OU = MAPPING.org_unit


def post(fake: FakeDhis2, body: object, *, path: str = "/api/dataValueSets", content_type: str = "application/json",
         token: str = DEMO_TOKEN) -> tuple[int, dict, dict]:
    request = urllib.request.Request(fake.url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": content_type, "Authorization": f"ApiToken {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def data_value_set(*values: tuple[str, str, str], period: str = "202403", **header: str) -> dict:
    return {"dataSet": MAPPING.data_set, "period": period, "orgUnit": OU, "attributeOptionCombo": "HllvX50cXC0",
            **header, "dataValues": [{"dataElement": de, "categoryOptionCombo": coc, "value": value}
                                     for de, coc, value in values]}


def counts(reply: dict) -> tuple[int, int, int, int]:
    count = reply["response"]["importCount"]
    return count["imported"], count["updated"], count["ignored"], count["deleted"]


def test_upsert_semantics(fake_dhis2: FakeDhis2) -> None:
    status, _, reply = post(fake_dhis2, data_value_set((DE, COC, "5"), (DE, COC2, "0")))
    assert status == 200 and reply["status"] == "OK" and reply["response"]["status"] == "SUCCESS"
    assert counts(reply) == (1, 0, 1, 0)  # a zero with nothing stored is ignored
    assert counts(post(fake_dhis2, data_value_set((DE, COC, "5")))[2]) == (0, 0, 1, 0)  # identical → ignored
    assert counts(post(fake_dhis2, data_value_set((DE, COC, "7")))[2]) == (0, 1, 0, 0)  # changed → updated
    assert counts(post(fake_dhis2, data_value_set((DE, COC, "0")))[2]) == (0, 0, 0, 1)  # zero → deleted
    assert fake_dhis2.values_for(OU, "202403") == {}
    assert counts(post(fake_dhis2, data_value_set((DE, COC, "4")))[2]) == (1, 0, 0, 0)  # back again → imported
    assert fake_dhis2.values_for(OU, "202403") == {(DE, COC): "4"}


def test_zero_significant_elements_store_zeros(fake_dhis2: FakeDhis2) -> None:
    fake_dhis2.metadata.data_elements[DE].zero_is_significant = True
    assert counts(post(fake_dhis2, data_value_set((DE, COC, "0")))[2]) == (1, 0, 0, 0)
    assert fake_dhis2.values_for(OU, "202403") == {(DE, COC): "0"}


def test_zeros_of_averaged_elements_are_stored_as_dhis2_core_does(fake_dhis2: FakeDhis2) -> None:
    # ValidationUtils.dataValueIsZeroAndInsignificant: an AVERAGE element's zero is a value, not a deletion.
    fake_dhis2.metadata.data_elements[DE].aggregation_type = "AVERAGE"
    assert counts(post(fake_dhis2, data_value_set((DE, COC, "0")))[2]) == (1, 0, 0, 0)
    assert fake_dhis2.values_for(OU, "202403") == {(DE, COC): "0"}


def test_identical_reposts_count_as_updated_on_older_patch_releases() -> None:
    with FakeDhis2(identical_counts_as="updated") as fake:
        post(fake, data_value_set((DE, COC, "5")))
        assert counts(post(fake, data_value_set((DE, COC, "5")))[2]) == (0, 1, 0, 0)


def test_value_conflicts_have_codes_indexes_and_merge(fake_dhis2: FakeDhis2) -> None:
    other = MAPPING.indicators["mas"]
    status, _, reply = post(fake_dhis2, data_value_set(
        (DE, COC, "3"), ("Xx000000000", COC, "1"), ("Xx000000000", COC2, "1"), (DE, COC, "-2"),
        (DE, other.category_combo.option_combos["M_lt1"], "1"), (DE, "Yy000000000", "1")))
    assert status == 409 and reply["status"] == "WARNING"
    assert reply["message"] == "One more conflicts encountered, please check import summary."
    summary = reply["response"]
    assert summary["status"] == "WARNING"
    by_code = {conflict["errorCode"]: conflict for conflict in summary["conflicts"]}
    assert set(by_code) == {"E7610", "E7619", "E7634", "E7613"}
    assert by_code["E7610"]["indexes"] == [1, 2] and by_code["E7610"]["object"] == "Xx000000000"
    assert by_code["E7619"]["property"] == "value" and "value_not_zero_or_positive_integer" in by_code["E7619"]["value"]
    assert by_code["E7634"]["objects"]["dataElement"] == DE
    assert summary["rejectedIndexes"] == [1, 2, 3, 4, 5]
    assert summary["importCount"] == {"imported": 1, "updated": 0, "ignored": 5, "deleted": 0}


def test_per_value_org_unit_and_locked_period(fake_dhis2: FakeDhis2) -> None:
    body = data_value_set((DE, COC, "3"))
    body["dataValues"][0]["orgUnit"] = "Zz000000000"
    assert post(fake_dhis2, body)[2]["response"]["conflicts"][0]["errorCode"] == "E7612"
    fake_dhis2.locked_periods.add((MAPPING.data_set, "202401"))
    reply = post(fake_dhis2, data_value_set((DE, COC, "3"), period="202401"))[2]
    assert reply["response"]["conflicts"][0]["errorCode"] == "E7640"


@pytest.mark.parametrize(("header", "code"), [({"dataSet": "Zz000000000"}, "E7600"),
                                              ({"orgUnit": "Zz000000000"}, "E7603"),
                                              ({"attributeOptionCombo": "Zz000000000"}, "E7604")])
def test_set_level_errors_abort_the_whole_import(fake_dhis2: FakeDhis2, header: dict, code: str) -> None:
    status, _, reply = post(fake_dhis2, data_value_set((DE, COC, "3"), **header))
    assert status == 409 and reply["status"] == "ERROR"
    assert reply["response"]["description"] == "Import process was aborted"
    assert [conflict["errorCode"] for conflict in reply["response"]["conflicts"]] == [code]
    assert fake_dhis2.store == {}


def test_versioned_api_37_answers_the_bare_summary_with_200(fake_dhis2: FakeDhis2) -> None:
    status, _, reply = post(fake_dhis2, data_value_set(("Xx000000000", COC, "1")), path="/api/37/dataValueSets")
    assert status == 200
    assert reply["responseType"] == "ImportSummary" and reply["status"] == "WARNING"


def test_auth_and_content_type(fake_dhis2: FakeDhis2) -> None:
    status, headers, reply = post(fake_dhis2, data_value_set(), token="d2pat_wrong")
    assert status == 401 and headers["WWW-Authenticate"].startswith("ApiToken")
    assert reply["httpStatusCode"] == 401
    assert post(fake_dhis2, data_value_set(), content_type="text/plain")[0] == 415
    fake_dhis2.authorities["admin"] = []
    assert post(fake_dhis2, data_value_set())[0] == 403


def test_completeness_is_registered(fake_dhis2: FakeDhis2) -> None:
    reply = post(fake_dhis2, data_value_set((DE, COC, "1"), completeDate="2024-04-02"))[2]
    assert reply["response"]["dataSetComplete"] == "2024-04-02"
    assert fake_dhis2.completions == {(MAPPING.data_set, "202403", OU, "HllvX50cXC0"): "2024-04-02"}


def test_dry_run_changes_nothing(fake_dhis2: FakeDhis2) -> None:
    reply = post(fake_dhis2, data_value_set((DE, COC, "1")), path="/api/dataValueSets?dryRun=true")[2]
    assert counts(reply) == (1, 0, 0, 0)
    assert fake_dhis2.store == {}


def test_field_filter() -> None:
    tree = parse_fields("id,name,dataSetElements[dataElement[id,categoryCombo[id,categoryOptionCombos[id]]]]")
    assert tree == {"id": None, "name": None, "dataSetElements": {"dataElement": {
        "id": None, "categoryCombo": {"id": None, "categoryOptionCombos": {"id": None}}}}}
    document = {"id": "a", "name": "b", "periodType": "Monthly",
                "dataSetElements": [{"dataElement": {"id": "c", "valueType": "INTEGER",
                                                     "categoryCombo": {"id": "d", "categoryOptionCombos": [
                                                         {"id": "e", "name": "f"}]}}}]}
    assert apply_fields(document, tree) == {"id": "a", "name": "b", "dataSetElements": [
        {"dataElement": {"id": "c", "categoryCombo": {"id": "d", "categoryOptionCombos": [{"id": "e"}]}}}]}
    assert apply_fields(document, parse_fields("*")) == document
