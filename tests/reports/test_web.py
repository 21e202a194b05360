"""The report pages over HTTP: figures, drill-down, CSV, sealing rights, the journey to the fake DHIS2."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from appliance import config as config_module
from appliance.outbox.models import ItemState, OutboxItem
from appliance.patients.models import AntenatalVisit, Consultation
from appliance.reports.builder import Month
from appliance.reports.models import ReportVersion
from appliance.settings.dhis2 import DEMO_MAPPING
from appliance.wiring import compose_outbox
from tests.conftest import text_of
from tests.fakes.dhis2_fixtures import fake_dhis2, write_config  # noqa: F401 (fixture)
from tests.reports.factories import make_patient, make_visit

LAST_MONTH = Month.of(dt.date.today()).previous()


@pytest.fixture
def cfg(tmp_path, fake_dhis2):  # noqa: F811 (the fixture above, used here)
    """This module's site sends to the fake DHIS2 with the demo mapping (copied, so a test may break it)."""
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(DEMO_MAPPING.read_text(encoding="utf-8"), encoding="utf-8")
    return config_module.load(write_config(tmp_path, fake_dhis2.url, extra_dhis2=f'mapping_file = "{mapping}"'))


@pytest.fixture
def month_data(store):
    day = LAST_MONTH.start + dt.timedelta(days=3)
    woman = make_patient("F", day.replace(year=day.year - 30), name="Coulibaly")
    make_visit(AntenatalVisit, woman, day, contact_number=1)
    child = make_patient("M", day.replace(year=day.year - 2), name="Traoré")
    make_visit(Consultation, child, day, diagnosis_code="B50.9")
    return {"woman": woman, "child": child}


def test_the_draft_shows_every_figure_with_a_link_to_its_records(login_as, month_data):
    web = login_as("infirmier")
    page = text_of(web.get(f"/rapports/{LAST_MONTH.period}"))
    assert "Chiffres actuels (non scellés)" in page
    assert "Consultations prénatales : CPN1" in page and "Âge en années révolues" in page
    assert "Sceller le rapport" not in page  # a nurse reads, the médecin seals
    link = re.search(r'href="(/rapports/[^"]*indicateur=cpn1&sexe=F&tranche=25_49)"', page).group(1)
    detail = text_of(web.get(link))
    assert "Féminin, 25–49 ans" in detail and "1 dossier(s)" in detail
    assert "Coulibaly" in detail and month_data["woman"].local_number in detail and "CPN1" in detail
    every = text_of(web.get(f"/rapports/{LAST_MONTH.period}/detail?indicateur=cons_paludisme"))
    assert "Traoré" in every and "Paludisme simple confirmé" in every


def test_csv_download(login_as, month_data):
    response = login_as("agent_saisie").get(f"/rapports/{LAST_MONTH.period}.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert f'filename="rapport-{LAST_MONTH.period}-brouillon.csv"' in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert ";cpn1;Consultations prénatales : CPN1;Féminin;0;0;0;0;1;0;1" in text


@pytest.mark.parametrize("role", ["sage_femme", "infirmier", "admin", "agent_saisie", "matrone"])
def test_only_the_medecin_seals(login_as, month_data, role):
    response = login_as(role).post(f"/rapports/{LAST_MONTH.period}/sceller", {"motif": ""})
    assert response.status_code == 403
    assert not ReportVersion.select().exists()


def test_sealing_then_delivery_then_a_conflict_in_french(login_as, month_data, cfg, fake_dhis2):  # noqa: F811
    head = login_as("medecin")
    head.get(f"/rapports/{LAST_MONTH.period}")
    response = head.raw.post(f"/rapports/{LAST_MONTH.period}/sceller", data={"motif": "", "csrf_token": head.token},
                             follow_redirects=True)
    assert response.request.path == f"/rapports/{LAST_MONTH.period}/envois"
    journey = text_of(response)
    assert "Version 1 scellée : elle attend l'envoi vers DHIS2." in journey
    assert "En file d'attente" in journey and "En attente de la prochaine fenêtre d'envoi" in journey

    box = compose_outbox(cfg)
    assert box.flush().delivered == 1
    journey = text_of(head.get(f"/rapports/{LAST_MONTH.period}/envois"))
    assert "Reçu par DHIS2 le" in journey and "1 tentative(s)" in journey

    # The district renamed CPN1's data element; the mapping here was not updated. A late correction is sent.
    mapping = cfg.dhis2.mapping_file
    mapping.write_text(mapping.read_text(encoding="utf-8").replace('"lbB1KVZcu3y"', '"Xx000000001"'),
                       encoding="utf-8")
    make_visit(Consultation, month_data["woman"], LAST_MONTH.start + dt.timedelta(days=9), diagnosis_code="I10")
    page = text_of(head.get(f"/rapports/{LAST_MONTH.period}?v=brouillon"))
    # cons_hta and the new-or-returning consultants figure
    assert "2 chiffre(s) ont changé depuis la version 1 scellée" in page
    sealed_list = text_of(head.get(f"/rapports/{LAST_MONTH.period}/detail?indicateur=cons_hta&v=1"))
    assert "Chiffre scellé dans la version 1 : 0. Les dossiers ont changé depuis" in sealed_list
    refused = head.raw.post(f"/rapports/{LAST_MONTH.period}/sceller", data={"motif": "", "csrf_token": head.token},
                            follow_redirects=True)
    assert "indiquez le motif de la correction pour sceller une nouvelle version" in text_of(refused)
    head.post(f"/rapports/{LAST_MONTH.period}/sceller", {"motif": "consultation HTA oubliée"})
    assert box.flush().delivered_with_conflicts == 1

    journey = text_of(head.get(f"/rapports/{LAST_MONTH.period}/envois"))
    assert "Reçu, avec des valeurs refusées" in journey
    assert "Consultations prénatales : CPN1 — Féminin, 25–49 ans" in journey
    assert "Élément de données Xx000000001 inconnu de DHIS2 : corrigez la table de correspondance." in journey
    assert "consultation HTA oubliée" in journey
    old = text_of(head.get(f"/rapports/{LAST_MONTH.period}?v=1"))
    assert "Version 1" in old and "Consultations curatives : hypertension artérielle" in old
    outbox_page = text_of(login_as("admin").get("/envois/"))
    # zeros are sent for every cell: CPN1's three age cells are all refused
    assert "3 valeur(s) refusée(s) : voir le détail" in outbox_page
    assert "Reçu, avec des valeurs refusées" in outbox_page


def test_a_dead_letter_is_shown_and_requeued_by_the_admin(login_as, month_data, cfg):
    head = login_as("medecin")
    head.post(f"/rapports/{LAST_MONTH.period}/sceller", {"motif": ""})
    cfg.dhis2.token_path(cfg.paths.secrets_dir).write_text("d2pat_wrong\n", encoding="utf-8")
    box = compose_outbox(cfg)
    assert box.flush().dead == 1
    journey = text_of(head.get(f"/rapports/{LAST_MONTH.period}/envois"))
    assert "Action nécessaire" in journey and "L'administrateur doit corriger la cause" in journey
    (item,) = OutboxItem.select()
    assert head.post(f"/envois/{item.id}/renvoyer").status_code == 403  # the médecin sees, the admin acts
    admin = login_as("admin")
    page = text_of(admin.get("/envois/"))
    assert "Lettres mortes : à traiter" in page and "Remettre dans la file" in page
    admin.post(f"/envois/{item.id}/renvoyer")
    assert OutboxItem.get_by_id(item.id).state == ItemState.PENDING


def test_the_month_list_and_the_home_tiles(login_as, month_data):
    web = login_as("medecin")
    home = text_of(web.get("/"))
    assert "Rapports mensuels" in home and "Envois vers DHIS2" in home
    months = text_of(web.get("/rapports/"))
    assert LAST_MONTH.label.capitalize() in months and "Non scellé" in months
    assert "Envois vers DHIS2" not in text_of(login_as("sage_femme").get("/"))
    assert web.get("/rapports/2024-13").status_code == 404
    assert web.get(f"/rapports/{LAST_MONTH.period}/detail?indicateur=inconnu").status_code == 404
