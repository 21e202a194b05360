"""The client against the fake server: auth, gzip both ways, bytes counted, every transport failure."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from appliance.dhis2.client import Credentials, CredentialsError, Dhis2Client, TransportError, read_credentials
from appliance.dhis2.mapping import load_mapping
from appliance.dhis2.payload import payload_for
from appliance.dhis2.replies import classify_import_reply
from appliance.outbox.outcome import OutcomeKind
from appliance.reports.figures import ReportFigures
from appliance.settings.dhis2 import DEMO_MAPPING, Dhis2Settings
from tests.fakes.fake_dhis2 import DEMO_TOKEN, FakeDhis2, FaultPlan

MAPPING = load_mapping(DEMO_MAPPING)
PAYLOAD = payload_for(ReportFigures("2024-03", {("cpn1", "F_15_24"): 12, ("mas", "M_lt1"): 3}), MAPPING)
TOKEN = Credentials("ApiToken", DEMO_TOKEN)


def client(fake: FakeDhis2, credentials: Credentials = TOKEN, **options) -> Dhis2Client:
    options.setdefault("read_timeout_s", 1.0)
    return Dhis2Client(fake.url, credentials, connect_timeout_s=1.0, **options)


def test_a_gzipped_post_is_imported_and_its_bytes_counted(fake_dhis2: FakeDhis2) -> None:
    with client(fake_dhis2) as dhis2:
        exchange = dhis2.post_data_value_set(PAYLOAD.to_json_bytes())
    assert exchange.status == 200
    body = json.loads(exchange.body)
    assert body["response"]["importCount"]["imported"] == 2
    gzipped = len(PAYLOAD.gzipped())
    assert gzipped < len(PAYLOAD.to_json_bytes()) / 5
    # request line + headers (~300 bytes) + the gzipped body; reply headers + compressed body
    assert gzipped + 200 < exchange.bytes_sent < gzipped + 600
    assert 100 < exchange.bytes_received < len(exchange.body) + 400
    assert fake_dhis2.values_for(MAPPING.org_unit, "202403")[
        (MAPPING.indicators["cpn1"].data_element, MAPPING.indicators["cpn1"].category_combo.option_combos["F_15_24"])
    ] == "12"


def test_an_uncompressed_post_works_too(fake_dhis2: FakeDhis2) -> None:
    with client(fake_dhis2, gzip_requests=False) as dhis2:
        exchange = dhis2.post_data_value_set(PAYLOAD.to_json_bytes())
    assert exchange.status == 200
    assert exchange.bytes_sent > len(PAYLOAD.to_json_bytes())


def test_gzip_without_the_header_is_still_recognised(fake_dhis2: FakeDhis2) -> None:
    """DHIS2 sniffs the gzip magic bytes; a proxy that refuses Content-Encoding is then avoided."""
    fake_dhis2.reject_content_encoding = True
    with client(fake_dhis2) as dhis2:
        refused = dhis2.post_data_value_set(PAYLOAD.to_json_bytes())
    assert refused.status == 415
    assert classify_import_reply(refused, PAYLOAD).kind is OutcomeKind.NEEDS_ACTION
    with client(fake_dhis2, content_encoding_header=False) as dhis2:
        assert dhis2.post_data_value_set(PAYLOAD.to_json_bytes()).status == 200


def test_a_bad_token_gets_401_with_the_apitoken_challenge(fake_dhis2: FakeDhis2) -> None:
    with client(fake_dhis2, Credentials("ApiToken", "d2pat_revoked")) as dhis2:
        exchange = dhis2.post_data_value_set(PAYLOAD.to_json_bytes())
    assert exchange.status == 401
    assert exchange.headers["www-authenticate"].startswith("ApiToken")


def test_basic_authentication_and_missing_authority(fake_dhis2: FakeDhis2, tmp_path: Path) -> None:
    fake_dhis2.basic_users = {"cscom": "s3cret"}
    fake_dhis2.authorities["cscom"] = ["F_DATAVALUE_ADD"]
    (tmp_path / "dhis2_password").write_text("s3cret\n")
    credentials = read_credentials(Dhis2Settings(base_url=fake_dhis2.url, username="cscom"), tmp_path)
    assert credentials.scheme == "Basic"
    with client(fake_dhis2, credentials) as dhis2:
        assert dhis2.post_data_value_set(PAYLOAD.to_json_bytes()).status == 200
    fake_dhis2.authorities["cscom"] = ["M_dhis-web-dashboard"]
    with client(fake_dhis2, credentials) as dhis2:
        forbidden = dhis2.post_data_value_set(PAYLOAD.to_json_bytes())
    assert forbidden.status == 403
    assert classify_import_reply(forbidden, PAYLOAD).kind is OutcomeKind.NEEDS_ACTION


def test_credentials_come_from_files_and_their_absence_is_explained(tmp_path: Path) -> None:
    settings = Dhis2Settings(base_url="https://dhis2.example")
    with pytest.raises(CredentialsError, match="dhis2_token"):
        read_credentials(settings, tmp_path)
    (tmp_path / "dhis2_token").write_text("d2pat_abc\n")
    assert read_credentials(settings, tmp_path) == Credentials("ApiToken", "d2pat_abc")
    assert "d2pat_abc" not in repr(read_credentials(settings, tmp_path))
    with pytest.raises(CredentialsError, match="dhis2_password"):
        read_credentials(Dhis2Settings(base_url="https://x", username="u"), tmp_path / "empty")


def test_the_connection_is_kept_alive_and_survives_a_server_side_close(fake_dhis2: FakeDhis2) -> None:
    with client(fake_dhis2) as dhis2:
        first = dhis2.get("/api/system/info")
        connection = dhis2._conn
        second = dhis2.get("/api/system/info")
        assert dhis2._conn is connection
        connection.sock.shutdown(2)  # as if the server had dropped the idle connection
        third = dhis2.get("/api/me")
    assert (first.status, second.status, third.status) == (200, 200, 200)


@pytest.mark.parametrize(("fault", "kind"), [("timeout", "timeout"), ("reset", "reset"), ("truncated", "truncated")])
def test_transport_failures_raise_with_their_kind(fault: str, kind: str) -> None:
    plan = FaultPlan(rate=1.0, kinds=(fault,), timeout_s=1.0)
    with FakeDhis2(faults=plan) as fake, client(fake, read_timeout_s=0.3) as dhis2, \
            pytest.raises(TransportError) as caught:
        dhis2.post_data_value_set(PAYLOAD.to_json_bytes())
    assert caught.value.kind == kind
    assert caught.value.bytes_sent > 0


def test_an_unreachable_server_is_a_link_failure() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dhis2 = Dhis2Client(f"http://127.0.0.1:{port}", TOKEN, connect_timeout_s=0.5)
    with pytest.raises(TransportError) as caught:
        dhis2.get("/api/system/info")
    assert caught.value.kind == "connection" and caught.value.link_down


@pytest.mark.parametrize("fault", ["500", "503", "html"])
def test_server_faults_come_back_as_replies(fault: str) -> None:
    with FakeDhis2(faults=FaultPlan(rate=1.0, kinds=(fault,))) as fake, client(fake) as dhis2:
        exchange = dhis2.post_data_value_set(PAYLOAD.to_json_bytes())
    assert classify_import_reply(exchange, PAYLOAD).kind is OutcomeKind.RETRY_LATER


def test_gzipped_replies_are_decoded_but_counted_compressed(fake_dhis2: FakeDhis2) -> None:
    with client(fake_dhis2) as dhis2:
        fields = {"fields": "id,name,dataSetElements[dataElement[id]]"}
        exchange = dhis2.get("/api/dataSets/" + MAPPING.data_set, fields)
    assert exchange.status == 200
    assert json.loads(exchange.body)["id"] == MAPPING.data_set
    assert exchange.bytes_received < len(exchange.body)  # the compressed size is what crossed the wire
    assert len(gzip.compress(exchange.body)) < exchange.bytes_received


def test_settings_refuse_bad_values(tmp_path: Path) -> None:
    errors = Dhis2Settings(base_url="dhis2.sante.ml/api", org_unit="bad", zeros="some", read_timeout_s=0,
                           mapping_file=tmp_path / "none.toml").validate()
    assert len(errors) == 6, errors
    assert Dhis2Settings(base_url="https://dhis2.sante.gov.ml", org_unit="um9BIy2ewA5").validate() == []
    assert os.path.basename(str(Dhis2Settings().token_path(tmp_path))) == "dhis2_token"
