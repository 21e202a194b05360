"""Referrals as records: "Référer" from a PCIME pink classification (the form filled from it), the
letter printed from the stored row, the pending list with its overdue flag, the counter-referral
that closes it, bad input refused in French with nothing written, a merge, and the monthly counts."""

import datetime as dt

import pytest

from appliance.patients.registry import Identity, merge_patients, register_patient
from appliance.referrals import service
from appliance.referrals.models import Referral
from appliance.reports.builder import build_report
from appliance.settings.reports import ReportSettings
from appliance.store.audit import system_actor
from appliance.store.models import AuditEntry
from tests.conftest import text_of

TODAY = dt.date.today()
CSREF = "CSRéf (centre de santé de référence du district)"
ACTOR = system_actor("tests")


@pytest.fixture
def child(store):
    return register_patient(ACTOR, Identity("Diarra", "Moussa", "M", TODAY - dt.timedelta(days=430), "Pelengana"),
                            site_id="TEST")


@pytest.fixture
def nurse(login_as):
    return login_as("infirmier")


def _referral_form(**extra):
    data = {"referred_on": TODAY.isoformat(), "destination": CSREF, "urgency": "urgente", "evacuation": "y",
            "transport": "ambulance", "reason": "Convulsions, léthargie", "given_before": "Artésunate rectal"}
    data.update(extra)
    return data


def _new(patient, referred_on=TODAY, **fields):
    values = {"referred_on": referred_on, "reason": "Anémie sévère", "urgency": "normale", "evacuation": False,
              "destination": CSREF, "transport": "moto"}
    values.update(fields)
    return service.refer(ACTOR, patient, service.NewReferral(**values), [CSREF], TODAY)


def test_a_pink_pcime_child_is_referred_from_the_letter_and_the_referral_is_stored(nurse, child):
    pcime = {"visit_date": TODAY.isoformat(), "weight_kg": "9,6", "resp_rate": "45", "temperature_c": "38,6",
             "signs": ["toux", "lethargique", "fievre_atcd", "tdr_positif"], "action": "enregistrer",
             "lines-0-medicine": "artesunate_supp_100", "lines-0-dose": "1", "lines-0-times": "1",
             "lines-0-days": "1", "lines-0-quantity": "1", "lines-0-treatment": "artesunate_rectal_pre_transfert"}
    assert nurse.post(f"/patients/{child.id}/pcime/nouveau", pcime).status_code == 302
    consultation_id = Referral._meta.database.execute_sql("SELECT consultation_id FROM pcime_assessment").fetchone()[0]
    pink_letter = text_of(nurse.get(f"/patients/{child.id}/pcime/{consultation_id}/transfert"))
    assert f"/patients/{child.id}/referer?consultation={consultation_id}" in pink_letter

    form = text_of(nurse.get(f"/patients/{child.id}/referer?consultation={consultation_id}"))
    assert "Maladie fébrile très grave" in form and "Artésunate 100 mg" in form  # filled from the consultation
    response = nurse.post(f"/patients/{child.id}/referer", _referral_form(
        consultation=str(consultation_id), reason="Maladie fébrile très grave : léthargique"))
    assert response.status_code == 302
    referral = Referral.get()
    assert (referral.patient_id, referral.consultation_id, referral.evacuation) == (child.id, consultation_id, True)
    assert referral.author_id == nurse.user.id and referral.author_role == "infirmier"
    assert AuditEntry.select().where(AuditEntry.table_name == "referral").count() == 1
    letter = text_of(nurse.get(response.headers["Location"]))
    assert "Fiche d'évacuation : URGENT" in letter and CSREF in letter and "Maladie fébrile très grave" in letter
    chart = text_of(nurse.get(f"/patients/{child.id}"))
    assert "en attente de contre-référence" in chart


def test_a_double_submit_stores_one_referral(nurse, child):
    nurse.post(f"/patients/{child.id}/referer", _referral_form())
    nurse.post(f"/patients/{child.id}/referer", _referral_form())
    assert Referral.select().count() == 1


@pytest.mark.parametrize(("field", "value", "message"), [
    ("destination", "Clinique privée de Ségou", "Destination inconnue"),
    ("reason", "   ", "Ce champ est obligatoire."),
    ("referred_on", (TODAY + dt.timedelta(days=1)).isoformat(), "dans le futur"),
    ("urgency", "normale", "Une évacuation est toujours urgente."),
    ("transport", "fusée", "Choisissez le moyen de transport."),
])
def test_bad_input_is_refused_in_french_and_nothing_is_written(nurse, child, field, value, message):
    page = text_of(nurse.post(f"/patients/{child.id}/referer", _referral_form(**{field: value})))
    assert message in page and "Rien n'a été enregistré" in page
    assert Referral.select().count() == 0


def test_a_consultation_of_another_patient_is_refused(nurse, child):
    other = register_patient(ACTOR, Identity("Coulibaly", "Awa", "F", TODAY - dt.timedelta(days=9000), "Ségou"),
                             site_id="TEST")
    from appliance.patients.models import Consultation

    consultation = Consultation.create(patient=other.id, visit_date=TODAY, diagnosis_code="B54", reason="Fièvre")
    page = text_of(nurse.post(f"/patients/{child.id}/referer", _referral_form(consultation=str(consultation.id))))
    assert "Cette consultation n'est pas celle de ce patient." in page
    assert Referral.select().count() == 0


def test_the_pending_list_flags_an_overdue_referral_until_its_counter_referral(nurse, child, app):
    late = _new(child, TODAY - dt.timedelta(days=10))
    fresh = _new(child, TODAY - dt.timedelta(days=2), reason="Grossesse à risque")
    page = text_of(nurse.get("/references"))
    assert page.count("Sans nouvelles depuis") == 1 and "Sans nouvelles depuis 10 jours" in page
    assert f'data-referral="{late.id}"' in page and f'data-referral="{fresh.id}"' in page
    assert "1 sans nouvelles" in text_of(nurse.get("/"))  # the home tile's badge

    response = nurse.post(f"/references/{late.id}/contre-reference", {
        "returned_on": TODAY.isoformat(), "findings": "Paludisme grave, transfusé", "care_given": "ACT 3 jours"})
    assert response.status_code == 302
    late = Referral.get_by_id(late.id)
    assert late.returned_on == TODAY and late.counter_source == "fiche" and late.counter_author == nurse.user.username
    page = text_of(nurse.get("/references"))
    assert f'data-referral="{late.id}"' not in page and "Sans nouvelles depuis" not in page
    assert "Paludisme grave, transfusé" in text_of(nurse.get(f"/references/{late.id}"))
    # a second counter-referral changes nothing
    again = nurse.post(f"/references/{late.id}/contre-reference", {"returned_on": TODAY.isoformat(), "findings": "x"})
    assert again.status_code == 302 and Referral.get_by_id(late.id).findings == "Paludisme grave, transfusé"


def test_a_counter_referral_before_the_referral_is_refused(nurse, child):
    referral = _new(child, TODAY - dt.timedelta(days=3))
    page = text_of(nurse.post(f"/references/{referral.id}/contre-reference", {
        "returned_on": (TODAY - dt.timedelta(days=5)).isoformat(), "findings": "Rien"}))
    assert "La date de retour est avant la référence" in page
    assert Referral.get_by_id(referral.id).returned_on is None


def test_roles(login_as, child):
    referral = _new(child)
    clerk = login_as("agent_saisie")
    assert clerk.get(f"/patients/{child.id}/referer").status_code == 403  # a clinician refers
    assert clerk.get(f"/references/{referral.id}/contre-reference").status_code == 200  # the slip may be typed
    assert login_as("admin").get("/references").status_code == 403


def test_a_merge_moves_the_referrals(child, record_hooks):
    keep = register_patient(ACTOR, Identity("Diarra", "Moussa", "M", child.birth_date, "Pelengana"), site_id="TEST")
    referral = _new(child)
    merge_patients(ACTOR, keep, child, "doublon")
    assert Referral.get_by_id(referral.id).patient_id == keep.id


def test_the_monthly_report_counts_referrals_evacuations_and_counter_referrals_by_sex_and_age(child):
    first = TODAY.replace(day=1)
    last_month = first - dt.timedelta(days=1)
    old = _new(child, last_month, evacuation=True, urgency="urgente")
    _new(child, first, reason="Otite chronique")
    service.record_counter_referral(ACTOR, old.id, service.CounterReferral(first, "Méningite"), TODAY)
    report = build_report(f"{TODAY:%Y-%m}", ReportSettings(), today=TODAY)
    assert report.value("references", "M_1_4") == 1
    assert report.value("evacuations", "M_1_4") == 0
    assert report.value("contre_references", "M_1_4") == 1  # counted the month it came back
    previous = build_report(f"{last_month:%Y-%m}", ReportSettings(), today=TODAY)
    assert previous.value("evacuations", "M_1_4") == previous.value("references", "M_1_4") == 1
    assert previous.value("contre_references", "M_1_4") == 0


def test_the_report_drill_down_describes_each_referral(child):
    from appliance.reports.builder import records_behind

    referral = _new(child, TODAY.replace(day=1), evacuation=True, urgency="urgente")
    rows = records_behind(f"{TODAY:%Y-%m}", "evacuations", ReportSettings())
    assert [row.visit_id for row in rows] == [referral.id]
    assert f"référé le {TODAY.replace(day=1):%d/%m/%Y} vers {CSREF}" in rows[0].detail
    assert "évacuation" in rows[0].detail
