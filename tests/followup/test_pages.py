"""The worklist, alerts and household pages over HTTP, as staff use them."""

from __future__ import annotations

import datetime as dt
import re

from appliance.followup.models import FollowupItem
from appliance.patients.models import AntenatalVisit, GrowthMeasurement, Immunisation
from appliance.patients.normalize import place_key
from tests.conftest import text_of
from tests.followup.conftest import TODAY, days_ago


def listed_items(response) -> list[str]:
    return re.findall(r'data-item="([^"]+)"', response.get_data(as_text=True))


def listed_patients(response) -> list[int]:
    return [int(value) for value in re.findall(r'data-patient="(\d+)"', response.get_data(as_text=True))]


def test_recording_the_dose_removes_it_from_the_worklist(login_as, person):
    nurse = login_as("infirmier")
    child = person("Awa", age_days=60, household="Famille Traoré")
    penta1 = f"{child.id}~pev.penta1~{(child.birth_date + dt.timedelta(weeks=6)).isoformat()}"
    assert penta1 in listed_items(nurse.get("/a-revoir"))
    response = nurse.post(f"/patients/{child.id}/vaccination/nouveau", {
        "visit_date": TODAY.isoformat(), "antigen": "PENTA", "dose_number": "1", "given_here": "ici", "lot": "PE1"})
    assert response.status_code == 302, text_of(response)[:2000]
    after = listed_items(nurse.get("/a-revoir"))
    assert penta1 not in after
    assert f"{child.id}~pev.vpo1~{(child.birth_date + dt.timedelta(weeks=6)).isoformat()}" in after
    assert len(after) == len(set(after))


def test_each_role_sees_its_programmes_first_and_can_switch(login_as, person, visit):
    child = person("Awa", age_days=60)
    mother = person("Mariam", age_days=365 * 25)
    visit(mother, AntenatalVisit(visit_date=days_ago(30), gestational_age_weeks=16))
    midwife = login_as("sage_femme")
    mine = midwife.get("/a-revoir")
    assert listed_patients(mine) == [mother.id]
    assert "Mes programmes (CPN, CPoN, Planification familiale)" in text_of(mine)
    assert listed_patients(midwife.get("/a-revoir?programme=pev")) == [child.id]
    assert set(listed_patients(midwife.get("/a-revoir?programme=tous"))) == {child.id, mother.id}
    nurse = login_as("infirmier")
    assert listed_patients(nurse.get("/a-revoir")) == [child.id]


def test_this_week_comes_before_the_overdue(login_as, person):
    """Issue #17: most overdue first buried this week's children under years-old delays."""
    this_week = person("Recent", age_days=38)  # Penta 1 due in 4 days
    late = person("Late", age_days=60)  # Penta 1 late
    nurse = login_as("infirmier")
    assert listed_patients(nurse.get("/a-revoir?programme=pev")) == [this_week.id, late.id]


def test_village_filter(login_as, person):
    here = person("Awa", age_days=60, village="Kalaban", household="Famille Traoré")
    person("Fanta", age_days=60, village="Sébougou", household="Famille Keïta")
    nurse = login_as("infirmier")
    page = nurse.get("/a-revoir?village=kalaban")
    assert listed_patients(page) == [here.id]
    assert '<option value="kalaban" selected>Kalaban</option>' in page.get_data(as_text=True)


def test_items_not_due_this_week_or_expired_are_not_listed(login_as, person):
    person("Newborn", age_days=1)  # BCG due today, Penta in 6 weeks
    nurse = login_as("infirmier")
    items = listed_items(nurse.get("/a-revoir?programme=pev"))
    assert any("~pev.bcg~" in item for item in items)
    assert not any("~pev.penta1~" in item for item in items)
    older = person("Older", age_days=400)  # birth polio (expires at 15 days) can no longer be given
    assert not any(item.startswith(f"{older.id}~pev.vpo0") for item in listed_items(nurse.get("/a-revoir")))


def test_the_printed_list_names_the_mother_the_household_and_the_phone(login_as, person):
    mother = person("Mariam", age_days=365 * 25, village="Kalaban", household="Famille Diarra", phone="76123456")
    child = person("Awa", age_days=60, village="Kalaban", household="Famille Diarra", mother=mother,
                   family_name="Diarra")
    nurse = login_as("infirmier")
    page = text_of(nurse.get("/a-revoir/imprimer?village=kalaban"))
    row = page[page.index(f"{child.family_name} {child.first_names}"):]
    assert "Traoré Mariam" in row and "Kalaban · Famille Diarra" in row and "76123456" in row
    assert "Penta 1" in row and "Personnes à revoir — Kalaban" in page


def test_alerts_page_and_chart_banner(login_as, person, visit):
    child = person("Oumou", age_days=400, village="Kalaban")
    visit(child, GrowthMeasurement(visit_date=TODAY, weight_kg=7.0, height_cm=74, position="couche", muac_mm=112))
    mother = person("Fanta", age_days=365 * 40, village="Sébougou")
    visit(mother, AntenatalVisit(visit_date=TODAY, gestational_age_weeks=30, systolic=165, diastolic=112, parity=6))
    well = person("Kadia", age_days=400)
    visit(well, GrowthMeasurement(visit_date=TODAY, weight_kg=9.6, height_cm=75, position="couche", muac_mm=145))
    doctor = login_as("medecin")
    page = doctor.get("/alertes")
    assert sorted(listed_patients(page)) == [child.id, mother.id]
    text = text_of(page)
    assert "Hypertension sévère (TA ≥ 160/110) : TA 165/112 mmHg" in text
    assert "Grande multiparité (parité ≥ 5) : parité 6" in text and "Âge > 35 ans" in text
    assert "Malnutrition aiguë sévère (MAS)" in text and "PB 112 mm < 115 mm" in text
    assert listed_patients(doctor.get("/alertes?type=nutrition")) == [child.id]
    assert listed_patients(doctor.get(f"/alertes?village={place_key('Sébougou')}")) == [mother.id]
    chart = text_of(doctor.get(f"/patients/{child.id}"))
    banner = chart[chart.index('class="alerts"'):]
    assert "Malnutrition aiguë sévère (MAS)</strong> — PB 112 mm < 115 mm; Z poids/taille" in banner
    assert "Urgence : référer" in text_of(doctor.get(f"/patients/{mother.id}"))
    assert 'class="alerts"' not in text_of(doctor.get(f"/patients/{well.id}"))


def test_the_chart_shows_what_is_due_and_the_growth_charts(login_as, person, visit):
    child = person("Awa", age_days=200)
    visit(child, GrowthMeasurement(visit_date=days_ago(100), weight_kg=5.1, height_cm=58, position="couche"))
    visit(child, GrowthMeasurement(visit_date=TODAY, weight_kg=7.0, position="couche"))
    nurse = login_as("infirmier")
    chart = nurse.get(f"/patients/{child.id}").get_data(as_text=True)
    assert f'data-item="{child.id}~pev.penta1~' in chart
    images = re.findall(r'<img src="([^"]+\.svg)"', chart)
    assert images == [f"/patients/{child.id}/croissance/wfa.svg", f"/patients/{child.id}/croissance/lhfa.svg"]
    weight = nurse.get(images[0])
    assert weight.mimetype == "image/svg+xml"
    svg = weight.get_data(as_text=True)
    assert 'data-indicator="wfa"' in svg and svg.count('class="point"') == 2 and "<script" not in svg
    assert nurse.get(images[1]).get_data(as_text=True).count('class="point"') == 1
    assert nurse.get(f"/patients/{child.id}/croissance/bfa.svg").status_code == 404
    adult = person("Mariam", age_days=365 * 30)
    assert "/croissance/wfa.svg" not in nurse.get(f"/patients/{adult.id}").get_data(as_text=True)


def test_families_seen_this_month(login_as, person, visit):
    seen = person("Awa", age_days=400, village="Kalaban", household="Famille Traoré")
    person("Bintou", age_days=365 * 30, village="Kalaban", household="Famille Traoré")
    not_seen = person("Fanta", age_days=400, village="Kalaban", household="Famille Keïta", family_name="Keïta")
    person("Kadia", age_days=400, village="Sébougou", household="Famille Coulibaly")
    visit(seen, GrowthMeasurement(visit_date=TODAY, weight_kg=9.5))
    last_month = TODAY.replace(day=1) - dt.timedelta(days=3)
    visit(not_seen, Immunisation(visit_date=last_month, antigen="RR", dose_number=1, given_here=True))
    worker = login_as("matrone")
    overview = worker.get("/visites-du-mois").get_data(as_text=True)
    kalaban = overview[overview.index('data-village="kalaban"'):].split("</tr>")[0]
    assert "1 / 2" in kalaban
    village = worker.get("/visites-du-mois/village/kalaban").get_data(as_text=True)
    rows = re.findall(r'data-household="(\d+)" class="(fu-seen|fu-unseen)"', village)
    assert [(int(h), c) for h, c in rows] == [(not_seen.household_id, "fu-unseen"), (seen.household_id, "fu-seen")]
    assert last_month.strftime("%d/%m/%Y") in village
    unseen = worker.get("/visites-du-mois/village/kalaban?non_vues=1").get_data(as_text=True)
    assert re.findall(r'data-household="(\d+)"', unseen) == [str(not_seen.household_id)]
    family = text_of(worker.get(f"/visites-du-mois/famille/{seen.household_id}"))
    assert "Traoré Awa" in family and "Traoré Bintou" in family and "vu ce mois" in family
    assert worker.get("/visites-du-mois/village/inconnu").status_code == 404


def test_follow_up_pages_are_for_clinical_staff(login_as, person):
    admin = login_as("admin")
    for url in ("/a-revoir", "/a-revoir/imprimer", "/alertes", "/visites-du-mois"):
        assert admin.get(url).status_code == 403
    clerk = login_as("agent_saisie")
    assert clerk.get("/a-revoir").status_code == 200
    assert "À revoir" in text_of(clerk.get("/"))


def test_pages_survive_odd_parameters(login_as):
    nurse = login_as("infirmier")
    for url in ("/a-revoir?page=-1&programme=xyz&village=nowhere", "/a-revoir?page=99999999999",
                "/alertes?type=autre&page=abc", "/a-revoir/imprimer?programme=tous"):
        assert nurse.get(url).status_code == 200


def test_following_pages_never_repeat_an_item_even_when_one_closes(login_as, person, visit, monkeypatch):
    from appliance.followup import queries

    children = [person(f"Enfant{index}", age_days=60 + index) for index in range(6)]
    original = queries.worklist
    monkeypatch.setattr(queries, "worklist", lambda *args, **kwargs: original(*args, **{**kwargs, "per_page": 5}))
    nurse = login_as("infirmier")
    seen: list[str] = []
    url = "/a-revoir?programme=pev"
    for _ in range(20):
        page = nurse.get(url)
        seen += listed_items(page)
        following = re.search(r'href="(/a-revoir\?[^"]*apres=[^"]+)"', page.get_data(as_text=True))
        if following is None:
            break
        if url.endswith("pev"):  # a dose listed on the first page is recorded before page 2 is read
            visit(children[-1], Immunisation(visit_date=TODAY, antigen="BCG", dose_number=1, given_here=True))
        url = following.group(1).replace("&amp;", "&")
    open_items = FollowupItem.select().where((FollowupItem.programme == "pev")
                                             & (FollowupItem.due_on <= TODAY + dt.timedelta(days=7)))
    assert len(seen) == len(set(seen))
    assert set(seen) >= {item.id for item in open_items}


def test_growth_chart_numbers_follow_the_readers_language(login_as, person, visit):
    child = person("Awa", age_days=200)
    visit(child, GrowthMeasurement(visit_date=TODAY, weight_kg=7.3, height_cm=66.5, position="couche"))
    charts = {}
    for language in ("fr", "en"):
        reader = login_as("infirmier", username=f"inf.{language}", language=language)
        charts[language] = reader.get(f"/patients/{child.id}/croissance/wfa.svg").get_data(as_text=True)
    assert ": 7,3 kg</title>" in charts["fr"] and ": 7.3 kg</title>" in charts["en"]
    assert "7,3" not in charts["en"]
