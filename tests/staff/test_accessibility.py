"""axe-core (through Playwright, in Debian's Chromium at 360 px) finds no serious or critical
accessibility violation on the main pages of a staff day."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.patients.models import GrowthMeasurement
from appliance.patients.registry import Identity, register_patient
from appliance.patients.visits import record_visit
from appliance.store.audit import system_actor
from tests.conftest import sign_in

pytestmark = pytest.mark.slow


def _serious(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    return [f"{v['id']} ({v['impact']}): {[node['target'] for node in v['nodes']][:3]}"
            for v in violations if v["impact"] in ("serious", "critical")]


def test_main_pages_have_no_serious_accessibility_violation(live_server, phone_page, make_user):
    make_user("infirmier", username="inf.kone")
    actor = system_actor("tests")
    child = register_patient(actor, Identity(family_name="Traoré", first_names="Oumou", sex="F",
                                             birth_date=dt.date.today() - dt.timedelta(days=400),
                                             village="Pelengana"), site_id="demo-cscom")
    record_visit(actor, child, GrowthMeasurement(visit_date=dt.date.today(), weight_kg=7.0, height_cm=74,
                                                 position="couche", muac_mm=112))
    page = phone_page
    page.goto(f"{live_server}/connexion")
    found = {"/connexion": _serious(page)}
    sign_in(page, live_server, "inf.kone", on_login_page=True, wait_for_home=True)
    for path in ("/", f"/patients/{child.id}", f"/patients/{child.id}/consultation/nouveau",
                 f"/patients/{child.id}/vaccins/seance", f"/patients/{child.id}/vaccins/carte", "/a-revoir",
                 "/alertes", "/patients/?q=traore", "/patients/nouveau"):
        page.goto(live_server + path)
        found[path] = _serious(page)
    assert {path: problems for path, problems in found.items() if problems} == {}
