"""``make run``'s month-end: past months sealed and received by the fake DHIS2, one refused, one waiting."""

from __future__ import annotations

import datetime as dt
import re
import tomllib

import pytest

from appliance import config as config_module
from appliance.demo import MonthEndStory, month_end_story, seed_demo, tell_month_end_story
from appliance.reports.builder import Month
from appliance.reports.models import ReportVersion
from appliance.wiring import compose_outbox
from tests.conftest import text_of
from tests.fakes.dhis2_fixtures import fake_dhis2, write_config  # noqa: F401 (fixture)

TODAY = dt.date.today()
STORY = month_end_story(TODAY)


@pytest.fixture
def cfg(tmp_path, fake_dhis2):  # noqa: F811 (the fixture above, used here)
    """A demo site sending to the fake DHIS2, which has locked the story's refused month (E7640), as
    ``make run`` starts it."""
    site = config_module.load(write_config(tmp_path, fake_dhis2.url))
    data_set = tomllib.loads(site.dhis2.mapping_file.read_text(encoding="utf-8"))["data_set"]
    fake_dhis2.locked_periods.add((data_set, STORY.refused.replace("-", "")))
    return site


def test_the_story_is_the_last_four_months_oldest_first() -> None:
    assert month_end_story(dt.date(2026, 1, 5)) == MonthEndStory(
        delivered=("2025-09", "2025-10"), refused="2025-11", waiting="2025-12")


def _words(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text_of(response)))


def test_the_demo_shows_months_received_one_refused_and_one_waiting(cfg, store, login_as, fake_dhis2):  # noqa: F811
    seed_demo(cfg, patients=120, seed=5)
    assert tell_month_end_story(compose_outbox(cfg), cfg.reports, today=TODAY)
    assert not tell_month_end_story(compose_outbox(cfg), cfg.reports, today=TODAY)  # told once
    assert ReportVersion.select().count() == 4

    head = login_as("medecin")
    reports = _words(head.get("/rapports/"))
    month_states = {period: re.search(rf"{Month.parse(period).label.capitalize()} Version 1 scellée le [\d/: ]+· "
                                      r"([^·]+?) (?=[A-ZÀ-Ý][a-zéû]+ \d{4}|Tous les envois)", reports).group(1)
                    for period in (*STORY.delivered, STORY.refused, STORY.waiting)}
    assert month_states == {**{period: "Reçu par DHIS2" for period in STORY.delivered},
                            STORY.refused: "Reçu par DHIS2, avec des valeurs refusées",
                            STORY.waiting: "En attente d'envoi"}

    refused = _words(head.get(f"/rapports/{STORY.refused}/envois"))
    assert "Version 1 · Reçu, avec des valeurs refusées" in refused
    assert "La période est close (délai de saisie dépassé) : demandez au district de la rouvrir, puis renvoyez. " \
           "(E7640)" in refused

    outbox = _words(login_as("admin").get("/envois/"))
    waiting, sent = outbox.split("Dans la file", 1)[1].split("Derniers envois reçus")
    assert f"Rapport mensuel vers DHIS2 · {STORY.waiting} · En file d'attente" in waiting
    assert STORY.refused not in waiting and not any(period in waiting for period in STORY.delivered)
    assert f"{STORY.refused} · Reçu, avec des valeurs refusées" in sent
    assert "valeur(s) refusée(s) : voir le détail" in sent
    for period in STORY.delivered:
        assert f"{period} · Reçu par DHIS2 mis en file" in sent
    org_unit = tomllib.loads(cfg.dhis2.mapping_file.read_text(encoding="utf-8"))["org_unit"]
    assert all(fake_dhis2.values_for(org_unit, period.replace("-", "")) for period in STORY.delivered)
    assert not fake_dhis2.values_for(org_unit, STORY.refused.replace("-", ""))
    assert not fake_dhis2.values_for(org_unit, STORY.waiting.replace("-", ""))
