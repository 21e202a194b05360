"""``appliance dhis2 payload --period`` prints what the latest sealed version will send, zeros included."""

from __future__ import annotations

import datetime as dt
import json

from click.testing import CliRunner

from appliance import config as config_module
from appliance.cli import main
from appliance.dhis2.mapping import load_mapping
from appliance.dhis2.sender import payload_of_item, site_mapping
from appliance.outbox.models import OutboxItem
from appliance.patients.models import AntenatalVisit
from appliance.reports.sealing import latest_version, seal
from appliance.settings.dhis2 import DEMO_MAPPING
from appliance.store import open_and_migrate
from appliance.store.audit import Actor
from tests.reports.factories import make_patient, make_visit

MAPPING = load_mapping(DEMO_MAPPING)
HEAD = Actor(None, "medecin1", "medecin")


def test_payload_of_the_latest_sealed_version(tmp_path):
    path = tmp_path / "appliance.toml"
    path.write_text(config_module.dev_config_text(tmp_path) + '\n[dhis2]\nzeros = "changes"\n', encoding="utf-8")
    cfg = config_module.load(path)
    db = open_and_migrate(cfg.paths.database)
    woman = make_patient("F", "1990-01-01")
    visit = make_visit(AntenatalVisit, woman, "2024-03-04", contact_number=1)
    seal(HEAD, "2024-03", cfg.reports, today=dt.date(2024, 4, 2))
    visit.contact_number = 2  # a late correction: the CPN1 goes back to zero
    visit.save()
    seal(HEAD, "2024-03", cfg.reports, reason="CPN1 était une CPN2", today=dt.date(2024, 4, 5))
    expected = payload_of_item(OutboxItem.get_by_id(latest_version("2024-03").outbox_item_id), cfg.dhis2,
                               site_mapping(cfg.dhis2))
    db.close()

    result = CliRunner().invoke(main, ["dhis2", "payload", "--config", str(path),
                                                       "--period", "2024-03"])
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert result.stdout.strip().encode() == expected.to_json_bytes()
    cpn1 = MAPPING.indicators["cpn1"]
    zero = {"dataElement": cpn1.data_element,
            "categoryOptionCombo": cpn1.category_combo.option_combos["F_25_49"], "value": "0"}
    assert body["dataValues"] == [zero]  # "changes": only the zero that overwrites the sealed 1
    assert (body["period"], body["completeDate"]) == ("202403", "2024-04-05")


def test_payload_of_a_month_never_sealed_says_so(cfg, store):
    result = CliRunner().invoke(main, ["dhis2", "payload", "--config", str(cfg.source),
                                                       "--period", "2024-02"])
    assert result.exit_code == 2
    assert "Le rapport de février 2024 n'a pas encore été scellé" in result.stderr
