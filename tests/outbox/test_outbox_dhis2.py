"""Sealed reports through the outbox to the fake DHIS2: versions, zeros, conflicts, dead letters, CLI."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from appliance import config as config_module
from appliance import outbox
from appliance.cli import main
from appliance.dhis2.mapping import load_mapping
from appliance.outbox import Outbox
from appliance.outbox.models import ItemState, OutboxItem
from appliance.reports.delivery import enqueue_report, report_conflicts, report_deliveries
from appliance.reports.figures import ReportFigures
from appliance.settings.dhis2 import DEMO_MAPPING
from appliance.store import open_and_migrate
from appliance.store.audit import Actor
from appliance.store.db import database
from appliance.wiring import compose_outbox
from tests.fakes.dhis2_fixtures import write_config
from tests.fakes.fake_dhis2 import FakeDhis2

MAPPING = load_mapping(DEMO_MAPPING)
OU = MAPPING.org_unit


def cell_uids(indicator: str, disaggregation: str) -> tuple[str, str]:
    mapped = MAPPING.indicators[indicator]
    return mapped.data_element, mapped.category_combo.option_combos[disaggregation]


@pytest.fixture
def site(dhis2_config: Path) -> Iterator[config_module.Config]:
    """A configured site whose database is open."""
    cfg = config_module.load(dhis2_config)
    db = open_and_migrate(cfg.paths.database)
    yield cfg
    db.close()


@pytest.fixture
def box(site: config_module.Config) -> Outbox:
    """The site's outbox, composed as the flushing process composes it."""
    return compose_outbox(site)


def seal(figures: ReportFigures, version: int, previous=()) -> OutboxItem:
    """What the report engineer's sealing does: the report row and its outbox item in one transaction."""
    with database.atomic():
        return enqueue_report(figures, report_ref="report:7", version=version, previous=previous,
                              complete_date=dt.date(2024, 4, 2))


def test_a_sealed_report_reaches_dhis2(site, fake_dhis2: FakeDhis2, box) -> None:
    march = ReportFigures("2024-03", {("cpn1", "F_15_24"): 12, ("vacc_penta_3", "M_lt1"): 9})
    seal(march, 1)
    (queued,) = report_deliveries("report:7")
    assert (queued.state_label, queued.version, queued.period) == ("En attente d'envoi", 1, "2024-03")
    report = box.flush()
    assert report.delivered == 1
    assert fake_dhis2.values_for(OU, "202403") == {cell_uids("cpn1", "F_15_24"): "12",
                                                  cell_uids("vacc_penta_3", "M_lt1"): "9"}
    assert fake_dhis2.completions[(MAPPING.data_set, "202403", OU, "HllvX50cXC0")] == "2024-04-02"
    (sent,) = report_deliveries("report:7")
    assert sent.state_label == "Reçu par DHIS2" and sent.delivered_at is not None and sent.conflicts == []
    assert "2 importée(s)" in sent.last_message


def test_a_correction_overwrites_with_zeros(site, fake_dhis2: FakeDhis2, box) -> None:
    v1 = ReportFigures("2024-03", {("cpn1", "F_15_24"): 12, ("mas", "M_lt1"): 2})
    seal(v1, 1)
    box.flush()
    v2 = ReportFigures("2024-03", {("cpn1", "F_15_24"): 11})
    seal(v2, 2, previous=[v1])
    assert box.flush().delivered == 1
    assert fake_dhis2.values_for(OU, "202403") == {cell_uids("cpn1", "F_15_24"): "11"}
    assert fake_dhis2.posts[-1]["summary"]["importCount"] == {"imported": 0, "updated": 1,
                                                          "ignored": len(MAPPING.cell_index()) - 2, "deleted": 1}
    assert [(d.version, d.state) for d in report_deliveries("report:7")] == [(2, "delivered"), (1, "delivered")]


def test_the_changes_policy_still_zeroes_what_an_unsent_version_had(tmp_path: Path, fake_dhis2: FakeDhis2) -> None:
    cfg = config_module.load(write_config(tmp_path, fake_dhis2.url, extra_dhis2='zeros = "changes"'))
    db = open_and_migrate(cfg.paths.database)
    box = compose_outbox(cfg)
    v1 = ReportFigures("2024-03", {("cpn1", "F_15_24"): 12})
    seal(v1, 1)
    box.flush()
    v2 = ReportFigures("2024-03", {("mas", "M_lt1"): 2})
    v3 = ReportFigures("2024-03", {("mam", "F_1_4"): 1})
    seal(v2, 2, previous=[v1])
    seal(v3, 3, previous=[v1, v2])  # v2 never left: superseded
    assert box.flush().delivered == 1
    assert fake_dhis2.values_for(OU, "202403") == {cell_uids("mam", "F_1_4"): "1"}
    assert len(fake_dhis2.posts) == 2 and len(fake_dhis2.posts[-1]["summary"]["conflicts"]) == 0
    assert [d.state for d in report_deliveries("report:7")] == ["delivered", "superseded", "delivered"]
    db.close()


def test_refused_values_are_shown_on_their_rows_in_french(site, fake_dhis2: FakeDhis2, box) -> None:
    mas = MAPPING.indicators["mas"].data_element
    del fake_dhis2.metadata.data_elements[mas]  # the national server dropped the element
    seal(ReportFigures("2024-03", {("cpn1", "F_15_24"): 12, ("mas", "M_lt1"): 2}), 1)
    report = box.flush()
    assert report.delivered_with_conflicts == 1
    conflicts = report_conflicts("report:7")
    assert len(conflicts) == 4  # the four cells of MAS, each on its row
    rows = {conflict.row: conflict for conflict in conflicts}
    refused = rows["Malnutrition aiguë sévère (MAS) dépistée — Masculin, moins de 1 an"]
    assert (refused.value, refused.code) == ("2", "E7610")
    assert refused.message == f"Élément de données {mas} inconnu de DHIS2 : corrigez la table de correspondance."
    (delivery,) = report_deliveries("report:7")
    assert delivery.state_label == "Reçu par DHIS2, avec des valeurs refusées" and delivery.with_conflicts
    assert fake_dhis2.values_for(OU, "202403") == {cell_uids("cpn1", "F_15_24"): "12"}


def test_an_unknown_org_unit_is_a_dead_letter_with_its_reason(tmp_path: Path, fake_dhis2: FakeDhis2) -> None:
    cfg = config_module.load(write_config(tmp_path, fake_dhis2.url, extra_dhis2='org_unit = "Ou000000404"'))
    db = open_and_migrate(cfg.paths.database)
    box = compose_outbox(cfg)
    seal(ReportFigures("2024-03", {("cpn1", "F_15_24"): 12}), 1)
    assert box.flush().dead == 1
    (letter,) = outbox.list_dead_letters()
    assert letter.reason.startswith("DHIS2 a refusé tout l'envoi : L'unité d'organisation Ou000000404 est introuvable")
    assert "[dhis2] org_unit" in letter.reason
    (delivery,) = report_deliveries("report:7")
    assert delivery.state_label == "À traiter par l'administrateur"
    assert [conflict.row for conflict in delivery.conflicts] == ["Tout le rapport"]
    db.close()


def test_a_revoked_token_waits_for_a_new_one(site, fake_dhis2: FakeDhis2, box) -> None:
    token_file = site.paths.secrets_dir / "dhis2_token"
    token_file.write_text("d2pat_revoked\n")
    item = seal(ReportFigures("2024-03", {("cpn1", "F_15_24"): 12}), 1)
    assert box.flush().dead == 1
    assert "401" in outbox.list_dead_letters()[0].reason
    token_file.write_text(next(iter(fake_dhis2.tokens)) + "\n")  # the technician provisions a new token
    outbox.requeue(item.id, Actor(None, "console:root", "admin"))
    assert box.flush().delivered == 1  # credentials are read again at each flush


def test_figures_the_mapping_cannot_place_need_action(site, fake_dhis2: FakeDhis2, box) -> None:
    seal(ReportFigures("2024-03", {("cpn1", "M_15_24"): 1}), 1)
    assert box.flush().dead == 1
    assert "sans correspondance DHIS2" in outbox.list_dead_letters()[0].reason
    assert fake_dhis2.posts == []


def test_without_dhis2_configured_reports_wait(tmp_path: Path) -> None:
    cfg = config_module.load(write_config(tmp_path, ""))
    db = open_and_migrate(cfg.paths.database)
    box = compose_outbox(cfg)
    assert box.kinds() == []
    item = seal(ReportFigures("2024-03", {("cpn1", "F_15_24"): 12}), 1)
    assert box.flush().attempted == 0
    assert OutboxItem.get_by_id(item.id).state == ItemState.PENDING
    db.close()


def test_the_commands(dhis2_config: Path, fake_dhis2: FakeDhis2) -> None:
    cfg = config_module.load(dhis2_config)
    db = open_and_migrate(cfg.paths.database)
    seal(ReportFigures("2024-03", {("cpn1", "F_15_24"): 12}), 1)
    seal(ReportFigures("2024-04", {("cpn1", "F_15_24"): 3}, org_unit="Ou000000404"), 1)
    db.close()
    runner = CliRunner()
    status = runner.invoke(main, ["outbox", "status", "--config", str(dhis2_config)])
    assert "En attente : 2" in status.output and "Rapport mensuel vers DHIS2 : 2" in status.output
    flushed = runner.invoke(main, ["outbox", "flush", "--config", str(dhis2_config), "--deadline", "10"])
    assert flushed.exit_code == 0, flushed.output
    assert "1 livré(s)" in flushed.output and "1 en lettre morte" in flushed.output
    dead = runner.invoke(main, ["outbox", "dead", "--config", str(dhis2_config)])
    assert "Ou000000404" in dead.output
    item_id = dead.output.split("n° ")[1].split(" ")[0]
    retried = runner.invoke(main, ["outbox", "retry", item_id, "--config", str(dhis2_config)])
    assert retried.exit_code == 0 and "remis dans la file" in retried.output
    abandoned = runner.invoke(main, ["outbox", "abandon", item_id, "--config", str(dhis2_config), "--reason", "x"])
    assert abandoned.exit_code == 1 and "n'est pas en lettre morte" in abandoned.output
    as_json = json.loads(runner.invoke(main, ["outbox", "status", "--json", "--config", str(dhis2_config)]).output)
    assert as_json["depth"] == 1 and as_json["dead_letters"] == 0 and "dhis2.report" in as_json["last_success_at"]
