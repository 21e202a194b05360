"""In real Chromium at 360 px: the médecin seals a month, sees it queued, sent to the fake DHIS2, then a
late correction refused in part, with the refused rows in French."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance import config as config_module
from appliance.patients.models import AntenatalVisit, Consultation, GrowthMeasurement
from appliance.reports.builder import Month
from appliance.settings.dhis2 import DEMO_MAPPING
from appliance.wiring import compose_outbox
from tests.conftest import click_and_wait, screenshot, sign_in
from tests.fakes.dhis2_fixtures import fake_dhis2, write_config  # noqa: F401 (fixture)
from tests.reports.factories import make_patient, make_visit

pytestmark = pytest.mark.slow

LAST_MONTH = Month.of(dt.date.today()).previous()


@pytest.fixture
def cfg(tmp_path, fake_dhis2):  # noqa: F811
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(DEMO_MAPPING.read_text(encoding="utf-8"), encoding="utf-8")
    return config_module.load(write_config(tmp_path, fake_dhis2.url, extra_dhis2=f'mapping_file = "{mapping}"'))


def day(n: int) -> dt.date:
    return LAST_MONTH.start + dt.timedelta(days=n)


def fits_the_phone(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= 360


def test_seal_queue_send_and_a_conflict_in_french(live_server, phone_page, make_user, cfg, fake_dhis2):  # noqa: F811
    woman = make_patient("F", day(0).replace(year=day(0).year - 27), name="Sangaré")
    make_visit(AntenatalVisit, woman, day(2), contact_number=1)
    child = make_patient("M", day(0).replace(year=day(0).year - 1) - dt.timedelta(days=40), name="Dembélé")
    make_visit(Consultation, child, day(5), diagnosis_code="B50.9")
    make_visit(GrowthMeasurement, child, day(5), weight_kg=8.1, muac_mm=112)
    make_user("medecin", username="drkeita")

    page = phone_page
    sign_in(page, live_server, "drkeita")
    click_and_wait(page, "text=Rapports mensuels")
    click_and_wait(page, f"text={LAST_MONTH.label.capitalize()}")
    assert "Chiffres actuels (non scellés)" in page.inner_text(".report-status")
    assert fits_the_phone(page)  # the sex × age table scrolls inside its box, the page does not
    screenshot(page, "report-draft-360")

    click_and_wait(page, "a[aria-label='Masculin 1–4 ans : 1'] >> nth=0")
    assert "Dembélé" in page.inner_text("table.records")
    assert fits_the_phone(page)
    page.go_back()

    click_and_wait(page, "button:has-text('Sceller le rapport')")
    assert "Version 1 scellée" in page.inner_text(".flash")
    assert "En file d'attente" in page.inner_text(".journey")
    screenshot(page, "report-queued-360")

    box = compose_outbox(cfg)
    assert box.flush().delivered == 1  # what the agent's upload window does
    page.reload()
    assert "Reçu par DHIS2" in page.inner_text(".journey")
    assert fake_dhis2.values_for(cfg.dhis2.org_unit or "um9BIy2ewA5", LAST_MONTH.start.strftime("%Y%m"))
    screenshot(page, "report-sent-360")

    # A consultation found late, while the mapping still names a CPN1 data element the server dropped.
    mapping = cfg.dhis2.mapping_file
    mapping.write_text(mapping.read_text(encoding="utf-8").replace('"lbB1KVZcu3y"', '"Xx000000001"'),
                       encoding="utf-8")
    make_visit(Consultation, woman, day(9), diagnosis_code="A09")
    page.goto(f"{live_server}/rapports/{LAST_MONTH.period}?v=brouillon")
    changes = page.inner_text(".changes")  # her first consultation of the year: a diarrhoea and a new consultant
    assert "2 chiffre(s) ont changé depuis la version 1 scellée" in changes
    assert "diarrhées — Féminin, 25–49 ans : 0 → 1" in changes
    assert "nouveaux consultants de l'année — Féminin, 25–49 ans : 0 → 1" in changes
    page.fill("textarea[name=motif]", "diarrhée du 10 saisie en retard")
    click_and_wait(page, "button:has-text('Sceller le rapport')")
    assert box.flush().delivered_with_conflicts == 1
    page.reload()
    newest = page.locator(".journey").first
    assert "Version 2" in newest.inner_text() and "Reçu, avec des valeurs refusées" in newest.inner_text()
    conflicts = newest.locator("ul.conflicts").inner_text()
    assert "Consultations prénatales : CPN1 — Féminin, 25–49 ans" in conflicts
    assert "Élément de données Xx000000001 inconnu de DHIS2 : corrigez la table de correspondance." in conflicts
    assert fits_the_phone(page)
    screenshot(page, "report-conflict-360")

    page.goto(f"{live_server}/rapports/{LAST_MONTH.period}?v=1")
    assert "Version 1" in page.inner_text(".report-status")  # the old version stays readable
